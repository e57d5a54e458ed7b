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
export const INGEST_HEAP_MB_MAX = 65536
/**
 * Young generation of the capped heap, MB (V8: three semi-spaces, so semi-spaces of 4 MB).
 * Node's default (16 MB semi-spaces, 48 MB) lets garbage of a fast allocation rate pile up;
 * scavenging smaller spaces more often was not slower under the bench load.
 */
export const INGEST_YOUNG_GENERATION_MB = 12

/**
 * The heap limits for the ingest worker from the environment: `{ maxOldGenerationSizeMb,
 * maxYoungGenerationSizeMb }`; undefined when the pipeline runs on the main thread instead:
 * SPOR_INGEST_HEAP_MB=0 (Node's own limits), or a value the configuration will refuse (so that
 * the refusal, with its message, comes from core/config.ts and not from an undersized heap).
 */
export function ingestHeapLimits(env) {
  const raw = env.SPOR_INGEST_HEAP_MB
  const mb = raw === undefined || raw === '' ? DEFAULT_INGEST_HEAP_MB : Number(raw)
  if (!Number.isInteger(mb) || mb < INGEST_HEAP_MB_MIN || mb > INGEST_HEAP_MB_MAX) return undefined
  return { maxOldGenerationSizeMb: mb, maxYoungGenerationSizeMb: INGEST_YOUNG_GENERATION_MB }
}
