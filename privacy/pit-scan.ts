import type { Client, estypes } from '@elastic/elasticsearch'
import { bulkItems, whenShardsStarted } from '../core/es.ts'
import { MISSING_INDICES_ARE_EMPTY } from '../core/indices.ts'

/**
 * Reading every match of a query without holding them all: a point-in-time keeps one consistent
 * view across pages, `search_after` on `_shard_doc` walks it page by page. The local cluster has
 * no `_delete_by_query`, so erasure uses this walk too.
 */
export interface PitHandle {
  id: string
  index: string
}

const KEEP_ALIVE = '2m'

export async function openPit(es: Client, index: string): Promise<PitHandle> {
  // A pattern can take in an index created a moment ago (by ingest or a migration running beside
  // an export or erasure): its point-in-time opens once the shard has started.
  const pit = await whenShardsStarted(() =>
    es.openPointInTime({ index, keep_alive: KEEP_ALIVE, ignore_unavailable: true }),
  )
  return { id: pit.id, index }
}

export async function closePit(es: Client, pit: PitHandle): Promise<void> {
  // A PIT expires on its own after KEEP_ALIVE; failing to close one early is not worth an error.
  await es.closePointInTime({ id: pit.id }).catch(() => undefined)
}

/** Documents matching `query` in the PIT's view (exact: `track_total_hits: true`). */
export async function countInPit(es: Client, pit: PitHandle, query: estypes.QueryDslQueryContainer) {
  const result = await es.search({
    pit: { id: pit.id, keep_alive: KEEP_ALIVE },
    query,
    size: 0,
    track_total_hits: true,
    aggs: {
      first: { min: { field: '@timestamp' } },
      last: { max: { field: '@timestamp' } },
    },
  })
  const total = result.hits.total
  const count = typeof total === 'number' ? total : (total?.value ?? 0)
  const aggs = result.aggregations as
    | Record<string, { value: number | null; value_as_string?: string }>
    | undefined
  const iso = (v?: { value: number | null }) =>
    v?.value == null ? undefined : new Date(v.value).toISOString()
  return { count, first: iso(aggs?.first), last: iso(aggs?.last) }
}

/** Pages of hits in the PIT's view; only one page is held at a time. */
export async function* scanPages<T = Record<string, unknown>>(
  es: Client,
  pit: PitHandle,
  query: estypes.QueryDslQueryContainer,
  options: { pageSize?: number; source?: boolean; seqNo?: boolean } = {},
): AsyncGenerator<estypes.SearchHit<T>[]> {
  let after: estypes.SortResults | undefined
  for (;;) {
    const result = await es.search<T>({
      pit: { id: pit.id, keep_alive: KEEP_ALIVE },
      query,
      size: options.pageSize ?? 1000,
      sort: [{ _shard_doc: 'asc' }],
      track_total_hits: false,
      _source: options.source ?? true,
      seq_no_primary_term: options.seqNo ?? false,
      // A page missing a shard's documents would let an erasure or export look complete.
      allow_partial_search_results: false,
      ...(after ? { search_after: after } : {}),
    })
    const hits = result.hits.hits
    if (hits.length === 0) return
    yield hits
    after = hits[hits.length - 1]!.sort
  }
}

/** One bulk action (and its document, for writes) per document. */
export type BulkAction = estypes.BulkRequest['operations']

/**
 * Runs a bulk request and throws when any item failed for another reason than a miss. A miss is a
 * document no longer where (or as) it was read: a delete answered 404 (gone), a write conditioned
 * on the version read (`if_seq_no`) answered 409 (changed, or moved away by `spor migrate`).
 */
async function bulkApply(es: Client, operations: BulkAction): Promise<{ applied: number; missed: string[] }> {
  if (!operations || operations.length === 0) return { applied: 0, missed: [] }
  const result = await es.bulk({ operations, refresh: false })
  const outcomes = bulkItems(result)
  const isMiss = (op: estypes.BulkResponseItem) => op.status === 404 || op.status === 409
  const missed = outcomes.filter(isMiss)
  if (result.errors) {
    const failed = outcomes.filter((op) => op.error && !isMiss(op))
    if (failed.length > 0) {
      const first = failed[0]!
      throw new Error(
        `bulk: ${failed.length} item(s) failed, first ${first._index}/${first._id}: ${first.error?.type} ${first.error?.reason}`,
      )
    }
  }
  // A delete of a missing document answers 404 without an error: it took no effect either.
  return { applied: outcomes.filter((op) => op.status < 300).length, missed: missed.map((op) => op._id!) }
}

/** Times a page's misses are followed to their current copies before the caller's next pass. */
const FOLLOW_ROUNDS = 3

/**
 * Applies `actions` to every document matching `query` under `index` (a point-in-time walk), and
 * follows the ones it missed to where they are now: a document `spor migrate` moved to another
 * index, or one changed, after the point-in-time opened is found again by id (a fresh search of
 * the same pattern and query) and acted on there, a few rounds at most; the caller's next pass
 * catches anything left. Returns how many actions took effect.
 */
export async function applyToMatching<T = Record<string, unknown>>(
  es: Client,
  index: string,
  query: estypes.QueryDslQueryContainer,
  actions: (hit: estypes.SearchHit<T>) => BulkAction,
  options: { source?: boolean } = {},
): Promise<number> {
  const pit = await openPit(es, index)
  let applied = 0
  try {
    for await (const page of scanPages<T>(es, pit, query, { ...options, seqNo: true })) {
      let hits = page
      for (let round = 0; hits.length > 0; round++) {
        const result = await bulkApply(
          es,
          hits.flatMap((hit) => actions(hit) ?? []),
        )
        applied += result.applied
        if (result.missed.length === 0 || round === FOLLOW_ROUNDS) break
        hits = await currentCopies<T>(es, index, query, result.missed, options.source)
      }
    }
  } finally {
    await closePit(es, pit)
  }
  return applied
}

/** The documents with these ids that match `query` under `index` now (refreshed first). */
async function currentCopies<T>(
  es: Client,
  index: string,
  query: estypes.QueryDslQueryContainer,
  ids: string[],
  source = true,
): Promise<estypes.SearchHit<T>[]> {
  await es.indices.refresh({ index, ...MISSING_INDICES_ARE_EMPTY })
  const result = await es.search<T>({
    index,
    ...MISSING_INDICES_ARE_EMPTY,
    // An id can be in two indices for the moment between a move's copy and its delete.
    size: ids.length * 2,
    seq_no_primary_term: true,
    allow_partial_search_results: false,
    _source: source,
    query: { bool: { filter: [{ ids: { values: ids } }, query] } },
  })
  return result.hits.hits
}

/**
 * Deletes every document matching `query` by id: point-in-time pages and bulk deletes (the
 * local node has no `_delete_by_query`), following documents moved meanwhile. Used by erasure,
 * the retention sweep and the budget's cleanup. Returns the documents it deleted.
 */
export async function deleteMatching(
  es: Client,
  index: string,
  query: estypes.QueryDslQueryContainer,
): Promise<number> {
  return applyToMatching(es, index, query, (hit) => [{ delete: { _index: hit._index, _id: hit._id! } }], {
    source: false,
  })
}
