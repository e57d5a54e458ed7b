// Types of bin/ingest-heap.js (plain JS: the launcher reads it before the TypeScript loader).
export declare const DEFAULT_INGEST_HEAP_MB: number
export declare const INGEST_HEAP_MB_MIN: number
export declare const INGEST_HEAP_MB_MAX: number
export declare const INGEST_YOUNG_GENERATION_MB: number
export declare const DEFAULT_INGEST_MAX_INFLIGHT_BYTES: number
export declare function minimumIngestHeapMb(inFlightBytes: number): number
export declare function defaultIngestHeapMb(env: Record<string, string | undefined>): number
export declare function ingestHeapLimits(
  env: Record<string, string | undefined>,
): { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number } | undefined
export declare const INGEST_HEAP_GROWING_PERCENT: number
export declare function ingestV8Flags(
  heapLimits: { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number } | undefined,
): string[]
