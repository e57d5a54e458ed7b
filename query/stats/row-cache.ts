import { LRUCache } from 'lru-cache'
import { statsMetrics } from './metrics.ts'
import type { DayRow, Dimension } from './rows.ts'

/**
 * Decoded rollup rows of this `spor query` instance, per (prefix, day, tenant filter, module
 * filter, k, dimension), bounded in bytes. Reading a product-wide month means moving and decoding
 * thousands of stored sketches; a dashboard asks about the same days again and again.
 *
 * An entry is served only while its day's completion marker is unchanged (`markerSignature`:
 * computed_at, source events, row format). Every run of the rollup job writes a new marker, and a
 * day whose raw events changed (late events, an erasure) is rolled up again before its rollup
 * tells anything new, so a re-rolled or erased day is never answered from old rows: each request
 * reads the markers of its days first (one small search). Like Elasticsearch's request cache this
 * trades memory for latency and holds only what a request could read anyway; the rows are never
 * changed by the statistics engine (cells merge copies).
 */
export class RollupRowCache {
  readonly #entries: LRUCache<string, { signature: string; rows: DayRow[] }>
  #hits = 0
  #misses = 0

  constructor(maxBytes: number) {
    this.#entries = new LRUCache({
      maxSize: maxBytes,
      sizeCalculation: (entry) =>
        Math.max(
          1,
          entry.rows.reduce((sum, row) => sum + rowBytes(row), 64 + entry.signature.length),
        ),
    })
  }

  /** The cached rows of one day and dimension, if cached under this marker signature. */
  get(key: RowCacheKey, signature: string): DayRow[] | undefined {
    const id = keyOf(key)
    const entry = this.#entries.get(id)
    if (entry && entry.signature === signature) {
      this.#hits++
      statsMetrics.rowCacheLookups.inc({ outcome: 'hit' })
      return entry.rows
    }
    if (entry) this.#entries.delete(id)
    this.#misses++
    statsMetrics.rowCacheLookups.inc({ outcome: 'miss' })
    return undefined
  }

  set(key: RowCacheKey, signature: string, rows: DayRow[]): void {
    this.#entries.set(keyOf(key), { signature, rows })
  }

  clear(): void {
    this.#entries.clear()
  }

  stats(): { hits: number; misses: number; entries: number; bytes: number } {
    return {
      hits: this.#hits,
      misses: this.#misses,
      entries: this.#entries.size,
      bytes: this.#entries.calculatedSize,
    }
  }
}

export interface RowCacheKey {
  prefix: string
  day: string
  /** undefined: every tenant. */
  tenant: string | undefined
  /** The module filter of the read: one module, '*', EACH_MODULE (every module but '*'), or undefined. */
  modules: string | undefined
  /** Rows below this many estimated users are left out of the read. */
  minUsers: number
  /** Only these values of the dimension, or undefined for all. */
  keys: string[] | undefined
  dim: Dimension
}

function keyOf(key: RowCacheKey): string {
  return JSON.stringify([
    key.prefix,
    key.day,
    key.tenant ?? null,
    key.modules ?? null,
    key.minUsers,
    key.dim,
    key.keys ?? null,
  ])
}

/** Approximate heap bytes of a decoded row: the object and strings, its sketch and histogram. */
function rowBytes(row: DayRow): number {
  return (
    160 +
    2 * (row.tenant.length + row.module.length + row.key.length) +
    row.users.heapBytes() +
    (row.durations ? 48 + row.durations.size * 40 : 0)
  )
}
