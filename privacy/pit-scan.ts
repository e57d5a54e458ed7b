import type { Client, estypes } from '@elastic/elasticsearch'

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
  const pit = await es.openPointInTime({
    index,
    keep_alive: KEEP_ALIVE,
    ignore_unavailable: true,
  })
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
      ...(after ? { search_after: after } : {}),
    })
    const hits = result.hits.hits
    if (hits.length === 0) return
    yield hits
    after = hits[hits.length - 1]!.sort
  }
}

/**
 * Runs a bulk request and throws when any item failed, naming the first failure. A delete of a
 * document already gone is the goal reached (a retried erasure); with `conflicts: 'skip'`, a
 * write conditioned on the version read (`if_seq_no`) that lost to a change, a move or a delete
 * made since is skipped too. Returns how many items took effect.
 */
export async function bulkOrThrow(
  es: Client,
  operations: estypes.BulkRequest['operations'],
  options: { conflicts?: 'skip' } = {},
): Promise<number> {
  if (!operations || operations.length === 0) return 0
  const result = await es.bulk({ operations, refresh: false })
  if (!result.errors) return result.items.length
  const outcomes = result.items.map((item) => Object.values(item)[0]!)
  const skipped = (op: estypes.BulkResponseItem) =>
    op.status === 404 || (op.status === 409 && options.conflicts === 'skip')
  const failed = outcomes.filter((op) => op.error && !skipped(op))
  if (failed.length > 0) {
    const first = failed[0]!
    throw new Error(
      `bulk: ${failed.length} item(s) failed, first ${first._index}/${first._id}: ${first.error?.type} ${first.error?.reason}`,
    )
  }
  return outcomes.filter((op) => !op.error).length
}

/**
 * Deletes every document matching `query` by id: point-in-time pages and bulk deletes (the
 * local node has no `_delete_by_query`). Used by erasure and by the retention sweep.
 */
export async function deleteMatching(
  es: Client,
  index: string,
  query: estypes.QueryDslQueryContainer,
): Promise<number> {
  const pit = await openPit(es, index)
  let deleted = 0
  try {
    for await (const page of scanPages(es, pit, query, { source: false })) {
      await bulkOrThrow(
        es,
        page.map((hit) => ({ delete: { _index: hit._index, _id: hit._id! } })),
      )
      deleted += page.length
    }
  } finally {
    await closePit(es, pit)
  }
  return deleted
}
