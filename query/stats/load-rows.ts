import type { Client } from '@elastic/elasticsearch'
import { isoDay } from '../../core/retention.ts'
import { countRawPerDay } from '../rollups/job.ts'
import {
  markerSignature,
  type RollupRead,
  type RollupReadOptions,
  readRollupMarkers,
  readRollupRows,
} from '../rollups/store.ts'
import { statsMetrics } from './metrics.ts'
import { computeRawDayRows, daysWithRawEvents } from './raw-rows.ts'
import type { RollupRowCache } from './row-cache.ts'
import { ALL_MODULES, type DayRow, DIMENSIONS, type Dimension, EACH_MODULE } from './rows.ts'
import { daysBetween } from './time.ts'

export type StatsSource = 'auto' | 'raw' | 'rollup'

export interface LoadOptions {
  es: Client
  prefix: string
  from: string
  to: string
  tenant?: string
  /** One module, '*' for the all-modules rows, or EACH_MODULE for every per-module row. */
  modules: string
  dims: Dimension[]
  source: StatsSource
  /** Days before `now` that `auto` answers from raw events. */
  rawDays: number
  now: Date
  /** The per-day k rule of `computeRawDayRows`; must equal the one the rollup job used. */
  k: number
  /** Tenants whose browser-key-only users count (raw-rows.ts `attested users`); default none. */
  clientUserTenants?: readonly string[]
  /** Decoded rollup rows of earlier requests, validated by each day's marker (row-cache.ts). */
  rowCache?: RollupRowCache
  /** Only these values of a dimension, on both paths (fewer rows to read, decode and merge). */
  keys?: Partial<Record<Dimension, string[]>>
}

export interface LoadedRows {
  rows: DayRow[]
  sources: { raw: number; rollup: number }
}

/**
 * Rows for a range, seamlessly: `auto` reads complete rollups for days older than the raw window,
 * and for days inside it while their rollup is fresh, and computes the rest from raw events (also
 * any older day whose rollup is missing, while its raw index still exists). `raw` and `rollup`
 * force one path (benchmarks, consistency tests).
 */
export async function loadRows(options: LoadOptions): Promise<LoadedRows> {
  const days = daysBetween(options.from, options.to).filter((day) => day <= isoDay(options.now))
  const rawCutoff = isoDay(new Date(options.now.getTime() - options.rawDays * 86_400_000))
  const rollupCandidates = options.source === 'raw' ? [] : days
  const moduleFilter = (module: string) =>
    options.modules === EACH_MODULE ? module !== ALL_MODULES : module === options.modules
  const keyFilter = (row: DayRow) => options.keys?.[row.dim]?.includes(row.key) ?? true
  const request: RollupReadOptions = {
    prefix: options.prefix,
    days: rollupCandidates,
    tenant: options.tenant,
    dims: options.dims,
    ...(options.modules === EACH_MODULE ? { perModuleOnly: true } : { modules: [options.modules] }),
    minUsers: options.k,
    ...(options.keys ? { keys: options.keys } : {}),
  }
  // The raw window's document counts (auto path) are asked alongside the rollup read, not after:
  // metadata only, but a round trip of its own.
  const rawCounts =
    options.source === 'auto' && days.some((day) => day >= rawCutoff)
      ? countRawPerDay(options.es, options.prefix, false)
      : undefined
  // (handled below; a rejection before then must not be reported as unhandled)
  rawCounts?.catch(() => {})
  const read =
    options.rowCache && rollupCandidates.length > 0
      ? await readThroughCache(options.es, options.rowCache, request)
      : await readRollupRows(options.es, request)
  const completeDays = new Set(read.markers.keys())
  if (options.source === 'auto') {
    // Days of the raw window (late events still arrive) are answered from their rollup only while
    // it is fresh: the raw documents of the day are still the ones it was computed from (index
    // document counts, metadata only; the rollup schedule re-rolls these days every run). A stale
    // or missing rollup falls back to raw events, so answers are the same either way; only the
    // cost differs (an aggregation over a day of raw events against a few stored rows).
    const recent = [...completeDays].filter((day) => day >= rawCutoff)
    if (recent.length > 0 && rawCounts) {
      const counts = await rawCounts
      for (const day of recent) {
        const recorded = read.markers.get(day)?.sourceEvents
        if (recorded === undefined || counts.get(day) !== recorded) completeDays.delete(day)
      }
    }
  }
  const rows = inReadOrder(read.rows).filter((row) => completeDays.has(row.day) && moduleFilter(row.module))
  const withoutRollup = options.source === 'rollup' ? [] : days.filter((day) => !completeDays.has(day))
  // Only days that hold raw events are computed (one cheap histogram first): a 25-month range
  // without rollups is not 760 empty aggregations.
  const withEvents =
    withoutRollup.length > 0
      ? await daysWithRawEvents(options.es, options.prefix, withoutRollup, options.tenant)
      : new Set<string>()
  const rawDays = withoutRollup.filter((day) => withEvents.has(day))
  const breakdownDims = options.dims.filter((dim) => dim !== 'total')
  // Two days at a time: the machine is small and each day is several aggregation pages.
  for (let i = 0; i < rawDays.length; i += 2) {
    const batch = await Promise.all(
      rawDays.slice(i, i + 2).map((day) =>
        computeRawDayRows(options.es, {
          prefix: options.prefix,
          day,
          tenant: options.tenant,
          dims: breakdownDims,
          k: options.k,
          ...(options.clientUserTenants ? { clientUserTenants: options.clientUserTenants } : {}),
        }),
      ),
    )
    for (const dayRows of batch)
      for (const row of dayRows)
        if (options.dims.includes(row.dim) && moduleFilter(row.module) && keyFilter(row)) rows.push(row)
  }
  statsMetrics.days.inc({ source: 'raw' }, rawDays.length)
  statsMetrics.days.inc({ source: 'rollup' }, completeDays.size)
  return { rows, sources: { raw: rawDays.length, rollup: completeDays.size } }
}

/**
 * `readRollupRows` through the row cache: the markers of the days first (one small search), then
 * the rows of every complete day not cached under its current marker, which are cached per day
 * and dimension (empty ones too) under the marker read with them. A day re-rolled between the two
 * reads is cached under its new marker, so it is only ever served while that marker stands.
 */
async function readThroughCache(
  es: Client,
  cache: RollupRowCache,
  request: RollupReadOptions,
): Promise<RollupRead> {
  const markers = await readRollupMarkers(es, request.prefix, request.days)
  const result: RollupRead = { rows: [], markers: new Map() }
  const key = (day: string, dim: Dimension) => ({
    prefix: request.prefix,
    day,
    tenant: request.tenant,
    modules: request.perModuleOnly ? EACH_MODULE : request.modules?.[0],
    minUsers: request.minUsers ?? 0,
    keys: request.keys?.[dim],
    dim,
  })
  const missing: string[] = []
  for (const day of request.days) {
    const marker = markers.get(day)
    if (!marker) continue
    const signature = markerSignature(marker)
    const cached: DayRow[][] = []
    for (const dim of request.dims) {
      const rows = cache.get(key(day, dim), signature)
      if (!rows) break
      cached.push(rows)
    }
    if (cached.length < request.dims.length) {
      missing.push(day)
      continue
    }
    for (const rows of cached) for (const row of rows) result.rows.push(row)
    result.markers.set(day, marker)
  }
  if (missing.length === 0) return result
  const read = await readRollupRows(es, { ...request, days: missing })
  const byDayDim = new Map<string, DayRow[]>()
  for (const row of read.rows) {
    const id = `${row.day}|${row.dim}`
    const list = byDayDim.get(id)
    if (list) list.push(row)
    else byDayDim.set(id, [row])
  }
  for (const [day, marker] of read.markers) {
    const signature = markerSignature(marker)
    // Cached only when the rows came with the marker read before them: a day rolled up again
    // while its rows were being paged can mix old rows with the new marker, and that mix must
    // not outlive this request (a re-roll that ends later changes the marker, so a mix under the
    // earlier marker is read anew next time).
    const before = markers.get(day)
    const cacheable = before !== undefined && markerSignature(before) === signature
    for (const dim of request.dims) {
      const rows = byDayDim.get(`${day}|${dim}`) ?? []
      if (cacheable) cache.set(key(day, dim), signature, rows)
      for (const row of rows) result.rows.push(row)
    }
    result.markers.set(day, marker)
  }
  return result
}

/**
 * Rollup rows in one order however they were read: days ascending, then dimensions (DIMENSIONS
 * order), keeping within each the tenant, module and key order Elasticsearch returned. Cached and
 * freshly read days come back in another order than one uncached read; groups are built in row
 * order and equal-sized groups are folded into "other" in that order, so without this a partly
 * warm cache could show a different group than a cold read.
 */
function inReadOrder(rows: DayRow[]): DayRow[] {
  const buckets = new Map<string, DayRow[]>()
  for (const row of rows) {
    const id = `${row.day}|${row.dim}`
    const bucket = buckets.get(id)
    if (bucket) bucket.push(row)
    else buckets.set(id, [row])
  }
  const days = [...new Set(rows.map((row) => row.day))].sort()
  // Dimensions in DIMENSIONS order, then any other a stored row may carry (none is dropped).
  const dims = [...new Set<string>([...DIMENSIONS, ...rows.map((row) => row.dim)])]
  const ordered: DayRow[] = []
  for (const day of days)
    for (const dim of dims) for (const row of buckets.get(`${day}|${dim}`) ?? []) ordered.push(row)
  return ordered
}
