// Types of bin/ingest-heap.js (plain JS: the launcher reads it before the TypeScript loader).
export declare const DEFAULT_INGEST_HEAP_MB: number
export declare const INGEST_HEAP_MB_MIN: number
export declare const INGEST_HEAP_MB_MAX: number
export declare const INGEST_YOUNG_GENERATION_MB: number
export declare function ingestHeapLimits(
  env: Record<string, string | undefined>,
): { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number } | undefined
