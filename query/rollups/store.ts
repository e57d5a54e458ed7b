import { createHash } from 'node:crypto'
import type { Client, estypes } from '@elastic/elasticsearch'
import { bulkItems } from '../../core/es.ts'
import { classIndex, classPattern, MISSING_INDICES_ARE_EMPTY } from '../../core/indices.ts'
import { Hll } from '../stats/hll.ts'
import {
  ALL_MODULES,
  type DayRow,
  type Dimension,
  decodeHistogram,
  encodeHistogram,
  parseDay,
  rowId,
} from '../stats/rows.ts'

/** Marker row written last: a day's rollup counts only once it is complete. */
export const COMPLETE_DIM = '_complete'

/**
 * Version of the stored row format (`v` of every row and of the marker). A change of what rows
 * hold or how they encode it bumps this; rollups of an older version are then due again
 * (bench/stats.ts re-rolls them) and caches of decoded rows (query/stats/row-cache.ts) miss.
 */
export const ROLLUP_FORMAT = 1

/** A complete day's marker: what its rows were computed from, and when. */
export interface RollupMarker {
  /** Raw documents of the day the rollup was computed from (absent on the oldest markers). */
  sourceEvents: number | undefined
  computedAt: string
  format: number
}

/**
 * One string that changes whenever a day is rolled up again (every run writes a new
 * `computed_at`) or its format changes: what a cache of the day's rows is validated by.
 */
export function markerSignature(marker: RollupMarker): string {
  return `${marker.computedAt}|${marker.sourceEvents ?? ''}|${marker.format}`
}

function markerOf(doc: Pick<StatsDoc, 'computed_at' | 'source_events' | 'v'>): RollupMarker {
  return { sourceEvents: doc.source_events, computedAt: doc.computed_at, format: doc.v }
}

interface StatsDoc {
  day: string
  tenant: string
  module: string
  dim: string
  key: string
  events: number
  users_estimate: number
  users_sketch?: string
  sessions?: number
  session_durations?: string
  computed_at: string
  source_events?: number
  v: number
}

/** The index a day's rows are written to (one per year; see core/indices.ts). */
export function statsIndex(prefix: string, day: string): string {
  return classIndex(prefix, 'stats', parseDay(day))
}

/** Deterministic `_id`: re-running a day replaces its rows instead of duplicating them. */
export function statsDocId(row: Pick<DayRow, 'day' | 'tenant' | 'module' | 'dim' | 'key'>): string {
  return createHash('sha256').update(rowId(row)).digest('base64url').slice(0, 32)
}

function toDoc(row: DayRow, computedAt: string): StatsDoc {
  return {
    day: row.day,
    tenant: row.tenant,
    module: row.module,
    dim: row.dim,
    key: row.key,
    events: row.events,
    users_estimate: row.users.count(),
    users_sketch: row.users.serialize().toString('base64'),
    ...(row.sessions !== undefined ? { sessions: row.sessions } : {}),
    ...(row.durations ? { session_durations: encodeHistogram(row.durations).toString('base64') } : {}),
    computed_at: computedAt,
    v: ROLLUP_FORMAT,
  }
}

/**
 * Writes one day's rows, then deletes rows of an earlier run that no longer exist, then writes
 * the completion marker with the number of raw documents the rows came from (a later count that
 * differs means late events or an erasure: the day is due again). Idempotent: the same rows get
 * the same ids.
 */
export async function writeDayRollup(
  es: Client,
  prefix: string,
  day: string,
  rows: DayRow[],
  now: Date,
  sourceEvents: number,
): Promise<number> {
  const index = statsIndex(prefix, day)
  const computedAt = now.toISOString()
  const ids = new Set<string>()
  const marker = { day, tenant: '_', module: '_', dim: COMPLETE_DIM as Dimension, key: '_' }
  const batchSize = 500
  for (let i = 0; i < rows.length; i += batchSize) {
    const operations: object[] = []
    for (const row of rows.slice(i, i + batchSize)) {
      const id = statsDocId(row)
      ids.add(id)
      operations.push({ index: { _index: index, _id: id } }, toDoc(row, computedAt))
    }
    await bulkOrThrow(es, operations)
  }
  // Remove stale rows (groups that vanished since an earlier run, e.g. after an erasure).
  ids.add(statsDocId(marker))
  // The day's rows in every index of the class: a row of this day in another index (a daily
  // index of the first layout that `spor migrate` has not moved yet) is a stale copy too.
  const pattern = classPattern(prefix, 'stats')
  await es.indices.refresh({ index: pattern, ...MISSING_INDICES_ARE_EMPTY })
  const stale: { index: string; id: string }[] = []
  let after: estypes.SortResults | undefined
  do {
    const response = await es.search<StatsDoc>({
      index: pattern,
      ...MISSING_INDICES_ARE_EMPTY,
      size: 5000,
      _source: false,
      query: { term: { day } },
      sort: [{ tenant: 'asc' }, { module: 'asc' }, { dim: 'asc' }, { key: 'asc' }, { _index: 'asc' }],
      ...(after ? { search_after: after } : {}),
    })
    for (const hit of response.hits.hits) {
      if (hit._id && (!ids.has(hit._id) || hit._index !== index))
        stale.push({ index: hit._index, id: hit._id })
    }
    after = response.hits.hits.length === 5000 ? response.hits.hits.at(-1)?.sort : undefined
  } while (after)
  if (stale.length > 0)
    await bulkOrThrow(
      es,
      stale.map((row) => ({ delete: { _index: row.index, _id: row.id } })),
    )
  await bulkOrThrow(es, [
    { index: { _index: index, _id: statsDocId(marker) } },
    {
      ...marker,
      events: rows.length,
      users_estimate: 0,
      computed_at: computedAt,
      source_events: sourceEvents,
      v: ROLLUP_FORMAT,
    },
  ])
  await es.indices.refresh({ index })
  return rows.length
}

/**
 * Deletes stored rows with fewer than k users from every rollup day (rows written before the
 * per-day k rule, or under a smaller k). Rerunning a day does the same for days whose raw data
 * still exists; this also covers the older days that can no longer be recomputed. What remains is
 * exactly what the row builder yields now (the rule only filters rows), so answers stay equal on
 * both paths. Returns how many rows were deleted; cheap when there are none (an indexed range).
 */
export async function purgeRowsBelowK(es: Client, prefix: string, k: number): Promise<number> {
  let deleted = 0
  for (;;) {
    const response = await es.search({
      index: classPattern(prefix, 'stats'),
      ...MISSING_INDICES_ARE_EMPTY,
      size: 5000,
      _source: false,
      query: {
        bool: {
          filter: [{ range: { users_estimate: { lt: k } } }],
          must_not: [{ term: { dim: COMPLETE_DIM } }],
        },
      },
    })
    const hits = response.hits.hits.filter((hit) => hit._id)
    if (hits.length === 0) return deleted
    await bulkOrThrow(
      es,
      hits.map((hit) => ({ delete: { _index: hit._index, _id: hit._id } })),
    )
    deleted += hits.length
    await es.indices.refresh({ index: [...new Set(hits.map((hit) => hit._index))] })
  }
}

async function bulkOrThrow(es: Client, operations: object[]): Promise<void> {
  if (operations.length === 0) return
  const response = await es.bulk({ operations })
  if (response.errors) {
    const error = bulkItems(response).find((item) => item.error)?.error
    throw new Error(`rollup bulk write failed: ${error?.type ?? 'unknown'}: ${error?.reason ?? ''}`)
  }
}

export interface RollupReadOptions {
  prefix: string
  /** The days to read; read by a range query on `day` over the class pattern, never by name. */
  days: string[]
  tenant?: string
  dims: Dimension[]
  /** Module values to read ('*' for every module, or one module, or undefined for all rows). */
  modules?: string[]
  /** Leave out the all-modules rows (module `*`): a per-module breakdown does not use them. */
  perModuleOnly?: boolean
  /**
   * Leave out rows with fewer estimated users (the per-day k rule). The rollup job never writes
   * them; rows of an older run under a smaller k stay until `purgeRowsBelowK` deletes them, and
   * reading them neither way keeps answers equal before and after the purge (and a cache of rows
   * never holds what the purge is about to delete).
   */
  minUsers?: number
  /** Only these values of a dimension (a summary needs two event types, not all of them). */
  keys?: Partial<Record<Dimension, string[]>>
}

export interface RollupRead {
  rows: DayRow[]
  /**
   * The complete days (those with a marker) and their markers: the raw documents each rollup was
   * computed from, and `markerSignature`, which validates cached rows of the day.
   */
  markers: Map<string, RollupMarker>
}

/** Rows of the given days from the rollups, and the markers of the days whose rollup is complete. */
export async function readRollupRows(es: Client, options: RollupReadOptions): Promise<RollupRead> {
  const rows: DayRow[] = []
  const markers = new Map<string, RollupMarker>()
  if (options.days.length === 0) return { rows, markers }
  const filter: estypes.QueryDslQueryContainer[] = []
  if (options.tenant) filter.push({ term: { tenant: options.tenant } })
  if (options.minUsers !== undefined) filter.push({ range: { users_estimate: { gte: options.minUsers } } })
  // Rows of the dimensions asked, and of a dimension with `keys` only those values.
  const open = options.dims.filter((dim) => !options.keys?.[dim])
  const byDim: estypes.QueryDslQueryContainer[] = [
    ...(open.length > 0 ? [{ terms: { dim: open } }] : []),
    ...options.dims
      .filter((dim) => options.keys?.[dim])
      .map((dim) => ({
        bool: { filter: [{ term: { dim } }, { terms: { key: options.keys?.[dim] ?? [] } }] },
      })),
  ]
  const rowFilter: estypes.QueryDslQueryContainer[] = [
    byDim.length === 1 ? byDim[0]! : { bool: { should: byDim, minimum_should_match: 1 } },
  ]
  if (options.modules) rowFilter.push({ terms: { module: options.modules } })
  if (options.perModuleOnly) rowFilter.push({ bool: { must_not: [{ term: { module: ALL_MODULES } }] } })
  const wanted = new Set(options.days)
  const query: estypes.QueryDslQueryContainer = {
    bool: {
      filter: [dayRange(options.days)],
      should: [{ bool: { filter: [...filter, ...rowFilter] } }, { term: { dim: COMPLETE_DIM } }],
      minimum_should_match: 1,
    },
  }
  // The class pattern plus a range on `day` in the body, never one index name per day: a 25-month
  // range listed by name is a URL beyond Elasticsearch's 4 KB line limit, and a pattern reads
  // both layouts. While `spor migrate` moves a day, its rows can be in two indices under the same
  // `_id`: read once.
  const seen = new Set<string>()
  let after: estypes.SortResults | undefined
  do {
    const response = await es.search<StatsDoc>({
      index: classPattern(options.prefix, 'stats'),
      ...MISSING_INDICES_ARE_EMPTY,
      size: 5000,
      query,
      sort: [
        { day: 'asc' },
        { tenant: 'asc' },
        { module: 'asc' },
        { dim: 'asc' },
        { key: 'asc' },
        { _index: 'asc' },
      ],
      ...(after ? { search_after: after } : {}),
    })
    const hits = response.hits.hits
    for (const hit of hits) {
      if (hit._id && seen.has(hit._id)) continue
      if (hit._id) seen.add(hit._id)
      const doc = hit._source as StatsDoc
      if (!wanted.has(doc.day)) continue
      if (doc.dim === COMPLETE_DIM) {
        markers.set(doc.day, markerOf(doc))
        continue
      }
      rows.push(fromDoc(doc))
    }
    after = hits.length === 5000 ? hits[hits.length - 1]?.sort : undefined
  } while (after)
  return { rows: rows.filter((row) => markers.has(row.day)), markers }
}

/** The completion markers of the given days (a day without one has no complete rollup). */
export async function readRollupMarkers(
  es: Client,
  prefix: string,
  days: string[],
): Promise<Map<string, RollupMarker>> {
  const markers = new Map<string, RollupMarker>()
  if (days.length === 0) return markers
  const wanted = new Set(days)
  const response = await es.search<StatsDoc>({
    index: classPattern(prefix, 'stats'),
    ...MISSING_INDICES_ARE_EMPTY,
    // Up to two copies of a marker while `spor migrate` moves its day; 760 days fit.
    size: 10_000,
    query: { bool: { filter: [{ term: { dim: COMPLETE_DIM } }, dayRange(days)] } },
    _source: ['day', 'source_events', 'computed_at', 'v'],
  })
  for (const hit of response.hits.hits)
    if (wanted.has(hit._source!.day)) markers.set(hit._source!.day, markerOf(hit._source!))
  return markers
}

/** A range query covering the given ISO days (their min to their max). */
function dayRange(days: string[]): estypes.QueryDslQueryContainer {
  const sorted = [...days].sort()
  return { range: { day: { gte: sorted[0], lte: sorted.at(-1), format: 'strict_date' } } }
}

function fromDoc(doc: StatsDoc): DayRow {
  return {
    day: doc.day,
    tenant: doc.tenant,
    module: doc.module,
    dim: doc.dim as Dimension,
    key: doc.key,
    events: doc.events,
    users: doc.users_sketch ? Hll.deserialize(Buffer.from(doc.users_sketch, 'base64')) : new Hll(),
    ...(doc.sessions !== undefined ? { sessions: doc.sessions } : {}),
    ...(doc.session_durations !== undefined
      ? { durations: decodeHistogram(Buffer.from(doc.session_durations, 'base64')) }
      : {}),
  }
}
