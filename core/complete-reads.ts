import {
  errors,
  SniffingTransport,
  type TransportRequestOptions,
  type TransportRequestParams,
} from '@elastic/elasticsearch'

/**
 * Reads that count shards in their answer: `_search` (and scroll), `_msearch`, `_count`. A shard
 * that did not answer (an index's primary not yet started after a node restart, a node gone) is
 * by Elasticsearch's default a 200 with `_shards.failed` and the documents of the other shards:
 * statistics, rollups, alert look-ups and profiles would then be computed from part of the data
 * without anyone noticing.
 */
const SHARD_COUNTED_READ = /\/_(search(\/scroll)?|msearch|count)$/

/** Shard failure types that mean "not available now", answered 503 (retry) like a missing shard. */
const UNAVAILABLE =
  /^(no_shard_available_action_exception|node_not_connected_exception|node_disconnected_exception|unavailable_shards_exception|node_closed_exception|es_rejected_execution_exception|circuit_breaking_exception)$/

/**
 * Request context of a read whose caller inspects `_shards.failed` itself (e.g. the erasure's
 * "nothing left" counts, which sweep again instead of failing): its partial answer is returned.
 */
export const CALLER_CHECKS_SHARDS = Object.freeze({ partialAnswers: 'checked-by-caller' })

interface ShardFailure {
  index?: string
  shard?: number
  reason?: { type?: string; reason?: string | null }
}

interface ShardCounts {
  _shards?: { total?: number; failed?: number; failures?: ShardFailure[] }
}

/** The shard failures of a search, count or multi-search answer (every search of it). */
export function shardFailures(body: unknown): { failed: number; total: number; failures: ShardFailure[] } {
  const answers: ShardCounts[] = Array.isArray((body as { responses?: unknown })?.responses)
    ? (body as { responses: ShardCounts[] }).responses
    : [body as ShardCounts]
  const out = { failed: 0, total: 0, failures: [] as ShardFailure[] }
  for (const answer of answers) {
    out.failed += answer?._shards?.failed ?? 0
    out.total += answer?._shards?.total ?? 0
    out.failures.push(...(answer?._shards?.failures ?? []))
  }
  return out
}

/**
 * The transport of every spor client (core/es.ts): a read whose answer lacks shards fails as
 * Elasticsearch itself fails it with `allow_partial_search_results=false` — a
 * `search_phase_execution_exception` naming each missing shard, 503 when every failure is an
 * availability one (so the callers' retries and `whenShardsStarted` wait it out), 500 otherwise.
 * One place instead of a parameter on every search: `_count` and `_msearch` have no such
 * parameter, and a read added later is covered without remembering it.
 */
export class CompleteReadsTransport extends SniffingTransport {
  // biome-ignore lint/suspicious/noExplicitAny: the base class's overloads return body or result by `meta`
  override async request(params: TransportRequestParams, options?: TransportRequestOptions): Promise<any> {
    if (!SHARD_COUNTED_READ.test(params.path) || options?.context === CALLER_CHECKS_SHARDS)
      return super.request(params, options)
    const result = await super.request(params, { ...options, meta: true })
    const { failed, total, failures } = shardFailures(result.body)
    if (failed > 0) {
      const status =
        failures.length > 0 && failures.every((f) => UNAVAILABLE.test(f.reason?.type ?? '')) ? 503 : 500
      throw new errors.ResponseError({
        ...result,
        statusCode: status,
        body: {
          error: {
            type: 'search_phase_execution_exception',
            reason: `${failed} of ${total} shards did not answer`,
            root_cause: failures.map((f) => ({
              type: f.reason?.type ?? 'shard_failure',
              reason: `${f.reason?.reason ?? null} [${f.index ?? '?'}][${f.shard ?? '?'}]`,
            })),
          },
          status,
        },
      })
    }
    return options?.meta ? result : result.body
  }
}
