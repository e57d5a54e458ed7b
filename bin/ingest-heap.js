// Heap limits for the `spor ingest` pipeline, read before anything else loads (plain JS: the
// launcher decides on them before the TypeScript loader starts). core/config.ts validates the
// same variable with the same bounds (INGEST_HEAP_MB_MIN/MAX there) and gives the clear error.

/**
 * Old-generation cap when SPOR_INGEST_HEAP_MB is unset, MB. Under the bench load 224 used no more
 * CPU per event than Node's own limits and peaked 45-95 MB lower (VmHWM 310-358 MB); 160 held
 * 291-310 MB but cost about a fifth more CPU per event in garbage collection (README).
 */
export const DEFAULT_INGEST_HEAP_MB = 224
/** Below this the pipeline cannot hold its own code and one in-flight budget. */
export const INGEST_HEAP_MB_MIN = 96
/**
 * SPOR_INGEST_MAX_INFLIGHT_BYTES when unset (core/config.ts uses this one too). Fetches are a
 * quarter of it, so it sets the Kafka batch size: at 8 MiB (batches of ~700 bench events) the
 * per-batch round trips left Elasticsearch idle a fifth of the time; 16 MiB (~1,900) was faster
 * in every alternating pair of 2026-12-02 19:xx UTC and peaked at 245-260 MB precompiled (README).
 * 24 MiB gained little more for another 20 MB.
 */
export const DEFAULT_INGEST_MAX_INFLIGHT_BYTES = 16 * 1024 * 1024

/**
 * The smallest cap that holds the code and the in-flight bytes several times over (fetched
 * records, enriched documents, bulk bodies): 96 MB + 4 × the in-flight MB.
 */
export function minimumIngestHeapMb(inFlightBytes) {
  return INGEST_HEAP_MB_MIN + 4 * Math.ceil(inFlightBytes / (1024 * 1024))
}

/**
 * The cap when SPOR_INGEST_HEAP_MB is unset: the default, or more when a larger in-flight budget
 * needs it (a configured budget alone must never make the default refused).
 */
export function defaultIngestHeapMb(env) {
  const raw = env.SPOR_INGEST_MAX_INFLIGHT_BYTES
  const inFlight = raw === undefined || raw === '' ? DEFAULT_INGEST_MAX_INFLIGHT_BYTES : Number(raw)
  if (!Number.isInteger(inFlight) || inFlight <= 0) return DEFAULT_INGEST_HEAP_MB // refused by the config
  return Math.max(DEFAULT_INGEST_HEAP_MB, minimumIngestHeapMb(inFlight))
}
export const INGEST_HEAP_MB_MAX = 65536
/**
 * Young generation of the capped heap, MB (V8: three semi-spaces, so semi-spaces of 4 MB).
 * Node's default (16 MB semi-spaces, 48 MB) lets garbage of a fast allocation rate pile up;
 * scavenging smaller spaces more often was not slower under the bench load.
 */
export const INGEST_YOUNG_GENERATION_MB = 12

/**
 * How far V8 lets the old generation grow past what the last full GC kept before the next one,
 * percent. Below a 256 MB cap V8 allows only 30 % (its floor for small heaps): with about 60 MB
 * live (code, and the documents in flight, every one of which is promoted while its bulk request
 * is out) that was a full GC every ~17 MB promoted, and marking took about 40 % of the process's
 * CPU (V8's helper threads). At 100 % the ingest bench used 84 instead of 116 µs of CPU per
 * event as a Node option and 99 instead of 117 µs set by the launcher (two runs, each against
 * V8's own factor in the same run), peaking at 279-288 instead of 231-240 MB (README). The cap
 * still bounds the heap. Cost: the worker no longer uses Node's built-in code cache (compiled for
 * the default flags), which adds about 0.1-0.2 s to its start.
 */
export const INGEST_HEAP_GROWING_PERCENT = 100

/** V8 flags for the process when the pipeline runs in the capped worker (set before it starts). */
export function ingestV8Flags(heapLimits) {
  return heapLimits ? [`--heap-growing-percent=${INGEST_HEAP_GROWING_PERCENT}`] : []
}

/**
 * The heap limits for the ingest worker from the environment: `{ maxOldGenerationSizeMb,
 * maxYoungGenerationSizeMb }`; undefined when the pipeline runs on the main thread instead:
 * SPOR_INGEST_HEAP_MB=0 (Node's own limits), or a value the configuration will refuse (so that
 * the refusal, with its message, comes from core/config.ts and not from an undersized heap).
 */
export function ingestHeapLimits(env) {
  const raw = env.SPOR_INGEST_HEAP_MB
  const mb = raw === undefined || raw === '' ? defaultIngestHeapMb(env) : Number(raw)
  if (!Number.isInteger(mb) || mb < INGEST_HEAP_MB_MIN || mb > INGEST_HEAP_MB_MAX) return undefined
  return { maxOldGenerationSizeMb: mb, maxYoungGenerationSizeMb: INGEST_YOUNG_GENERATION_MB }
}
