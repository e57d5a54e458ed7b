import { EVENT_FIELDS as F } from './fields.ts'
import { Hll } from './hll.ts'

/**
 * The one intermediate shape of every statistic: per UTC day, tenant, module and breakdown
 * dimension, a group's event count, its distinct users as a HyperLogLog sketch and (for the
 * `total` dimension) its sessions. The raw path computes these rows from `short` events on the
 * fly; the rollup job computes the very same rows and stores them, so raw and rollup answers are
 * equal by construction.
 */
export const DIMENSIONS = [
  'total',
  'function',
  'event_type',
  'browser',
  'browser_major',
  'os',
  'device_type',
  'device_vendor',
  'country',
  'region',
  'hour',
] as const
export type Dimension = (typeof DIMENSIONS)[number]

/** Dimensions read from event fields; a nested list means "key = values joined by a space". */
export const DIMENSION_FIELDS: Record<Exclude<Dimension, 'total' | 'hour'>, string[]> = {
  function: [F.function],
  event_type: [F.eventType],
  browser: [F.browserName],
  browser_major: [F.browserName, F.browserMajor],
  os: [F.osName],
  device_type: [F.deviceType],
  device_vendor: [F.deviceVendor],
  country: [F.country],
  region: [F.country, F.region],
}

/** Module value of rows that cover every module (and events without one). */
export const ALL_MODULES = '*'
/**
 * Loader filter "every per-module row" (a breakdown by module). Not a valid module name (the
 * API accepts `[A-Za-z0-9][A-Za-z0-9._-]*`), so `module=each` is just a module without data.
 */
export const EACH_MODULE = '(each)'
export const TOTAL_KEY = 'all'

export interface DayRow {
  day: string
  tenant: string
  module: string
  dim: Dimension
  key: string
  events: number
  users: Hll
  /** Only on `total` rows. */
  sessions?: number
  /** Session-duration histogram (bucket index → sessions), only on `total` rows. */
  durations?: Map<number, number>
}

/** Session durations in 30-second buckets up to 4 hours; the last bucket is "4 h or more". */
export const DURATION_BUCKET_SECONDS = 30
export const DURATION_BUCKETS = 481

export function durationBucket(seconds: number): number {
  return Math.min(DURATION_BUCKETS - 1, Math.floor(Math.max(0, seconds) / DURATION_BUCKET_SECONDS))
}

/** The median of a duration histogram, as the middle of its bucket (seconds), or undefined. */
export function medianDuration(histogram: Map<number, number>): number | undefined {
  const total = [...histogram.values()].reduce((a, b) => a + b, 0)
  if (total === 0) return undefined
  const half = total / 2
  let seen = 0
  for (const [bucket, count] of [...histogram].sort((a, b) => a[0] - b[0])) {
    seen += count
    if (seen >= half) {
      return bucket === DURATION_BUCKETS - 1
        ? bucket * DURATION_BUCKET_SECONDS
        : bucket * DURATION_BUCKET_SECONDS + DURATION_BUCKET_SECONDS / 2
    }
  }
  return undefined
}

export function mergeHistograms(into: Map<number, number>, from: Map<number, number> | undefined): void {
  for (const [bucket, count] of from ?? []) into.set(bucket, (into.get(bucket) ?? 0) + count)
}

export function encodeHistogram(histogram: Map<number, number>): Buffer {
  const out = Buffer.alloc(histogram.size * 6)
  let at = 0
  for (const [bucket, count] of [...histogram].sort((a, b) => a[0] - b[0])) {
    out.writeUInt16BE(bucket, at)
    out.writeUInt32BE(count, at + 2)
    at += 6
  }
  return out
}

export function decodeHistogram(bytes: Buffer): Map<number, number> {
  if (bytes.length % 6 !== 0) throw new Error('session-duration histogram has the wrong length')
  const histogram = new Map<number, number>()
  for (let at = 0; at < bytes.length; at += 6)
    histogram.set(bytes.readUInt16BE(at), bytes.readUInt32BE(at + 2))
  return histogram
}

export function rowId(row: Pick<DayRow, 'day' | 'tenant' | 'module' | 'dim' | 'key'>): string {
  return `${row.day}|${row.tenant}|${row.module}|${row.dim}|${row.key}`
}

/** Collects rows by identity while events are added to them. */
export class RowSet {
  readonly #rows = new Map<string, DayRow>()

  get(day: string, tenant: string, module: string, dim: Dimension, key: string): DayRow {
    const id = `${day}|${tenant}|${module}|${dim}|${key}`
    let row = this.#rows.get(id)
    if (!row) {
      row = { day, tenant, module, dim, key, events: 0, users: new Hll() }
      if (dim === 'total') {
        row.sessions = 0
        row.durations = new Map()
      }
      this.#rows.set(id, row)
    }
    return row
  }

  rows(): DayRow[] {
    return [...this.#rows.values()]
  }
}

export function parseDay(day: string): Date {
  return new Date(`${day}T00:00:00.000Z`)
}
