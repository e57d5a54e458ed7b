import { setTimeout as sleep } from 'node:timers/promises'
import {
  errors,
  SniffingTransport,
  type TransportRequestOptions,
  type TransportRequestParams,
  type TransportResult,
} from '@elastic/elasticsearch'

/**
 * Reads that count shards in their answer: `_search` (and scroll), `_msearch`, `_count`. A shard
 * that did not answer (an index's primary not yet started after a node restart, a node gone) is
 * by Elasticsearch's default a 200 with `_shards.failed` and the documents of the other shards:
 * statistics, rollups, alert look-ups and profiles would then be computed from part of the data
 * without anyone noticing.
 */
const SHARD_COUNTED_READ = /\/_(search(\/scroll)?|msearch|count)$/

/** How long a read waits for shards that are not started yet before it fails: 5 s. */
const SHARD_WAIT_ATTEMPTS = 20
const SHARD_WAIT_MS = 250

/** Shard failure types of a shard not started yet (just created, recovering): worth waiting a moment for. */
const STARTING = new Set(['no_shard_available_action_exception', 'unavailable_shards_exception'])

/** Shard failure types that mean "not available now", answered 503 (retry) like a missing shard. */
const UNAVAILABLE = new Set([
  ...STARTING,
  'node_not_connected_exception',
  'node_disconnected_exception',
  'node_closed_exception',
  'es_rejected_execution_exception',
  'circuit_breaking_exception',
])

/** Failure types of a query or mapping refused by a shard: a retry gets the same answer. */
const REFUSED = new Set([
  'query_shard_exception',
  'illegal_argument_exception',
  'parsing_exception',
  'x_content_parse_exception',
  'search_parse_exception',
  'search_context_missing_exception',
  'index_not_found_exception',
])

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

/** A search's error: with every shard failed, `search_phase_execution_exception` lists them. */
interface SearchError {
  type?: string
  reason?: string | null
  failed_shards?: ShardFailure[]
}

interface ShardCounts {
  _shards?: { total?: number; failed?: number; failures?: ShardFailure[] }
  /** A search of a multi-search that failed as a whole (its own 503 or 400, inside a 200). */
  error?: SearchError
}

/** The failures of a search that failed as a whole: its shards, or the error itself. */
function wholeFailures(error: SearchError): ShardFailure[] {
  if (error.failed_shards && error.failed_shards.length > 0) return error.failed_shards
  return [{ reason: { type: error.type, reason: error.reason } }]
}

/**
 * The shard failures of a search, count or multi-search answer (every search of it). A search of
 * a multi-search that failed as a whole (every shard missing: a 503 inside the 200) counts as
 * its shards failed, not as an empty answer.
 */
export function shardFailures(body: unknown): { failed: number; total: number; failures: ShardFailure[] } {
  const answers: ShardCounts[] = Array.isArray((body as { responses?: unknown })?.responses)
    ? (body as { responses: ShardCounts[] }).responses
    : [body as ShardCounts]
  const out = { failed: 0, total: 0, failures: [] as ShardFailure[] }
  for (const answer of answers) {
    if (answer?.error) {
      const failures = wholeFailures(answer.error)
      out.failed += failures.length
      out.total += failures.length
      out.failures.push(...failures)
      continue
    }
    out.failed += answer?._shards?.failed ?? 0
    out.total += answer?._shards?.total ?? 0
    out.failures.push(...(answer?._shards?.failures ?? []))
  }
  return out
}

/** Whether every failure is of a shard only starting: worth waiting a moment for. */
const allStarting = (failures: ShardFailure[]) =>
  failures.length > 0 && failures.every((f) => STARTING.has(f.reason?.type ?? ''))

/**
 * Whether a read failed as a whole because none of its shards has started (Elasticsearch's own
 * 503 `search_phase_execution_exception`, "all shards failed": a single index created a moment ago).
 */
function noShardStarted(error: unknown): boolean {
  if (!(error instanceof errors.ResponseError) || error.statusCode !== 503) return false
  const body = (error.body as { error?: SearchError } | undefined)?.error
  return body?.type === 'search_phase_execution_exception' && allStarting(body.failed_shards ?? [])
}

/** Status of a read that lacks shards: 503 (wait it out) when every failure is an availability
 * one, 400 when a query or mapping is refused on some index (retrying will not help), else 500. */
function failureStatus(failures: ShardFailure[]): number {
  const types = failures.map((f) => f.reason?.type ?? '')
  if (types.length > 0 && types.every((t) => UNAVAILABLE.has(t))) return 503
  if (types.some((t) => REFUSED.has(t))) return 400
  return 500
}

/** The error Elasticsearch gives with `allow_partial_search_results=false`, one cause per type and index. */
function incompleteRead(
  result: TransportResult,
  { failed, total, failures }: ReturnType<typeof shardFailures>,
): errors.ResponseError {
  const status = failureStatus(failures)
  const causes = new Map<string, { type: string; reason: string; index: string; shards: number[] }>()
  for (const f of failures) {
    const type = f.reason?.type ?? 'shard_failure'
    const key = `${type}\n${f.index}`
    const cause = causes.get(key) ?? {
      type,
      reason: `${f.reason?.reason ?? null}`,
      index: f.index ?? '?',
      shards: [],
    }
    cause.shards.push(f.shard ?? -1)
    causes.set(key, cause)
  }
  return new errors.ResponseError({
    ...result,
    statusCode: status,
    body: {
      error: {
        type: 'search_phase_execution_exception',
        reason: `${failed} of ${total} shards did not answer`,
        root_cause: [...causes.values()].map((c) => ({
          type: c.type,
          reason: `${c.reason} [${c.index}][${c.shards.join(',')}]`,
        })),
      },
      status,
    },
  })
}

/**
 * The transport of every spor client (core/es.ts): a read whose answer lacks shards fails as
 * Elasticsearch itself fails it with `allow_partial_search_results=false` — a
 * `search_phase_execution_exception` naming each missing shard. A shard that is only not started
 * yet (a daily index created a moment ago, a node restarting) is waited for up to
 * SHARD_WAIT_ATTEMPTS × SHARD_WAIT_MS first, whether the answer lacks some shards or, with none
 * started, is Elasticsearch's own 503; past that the error is 503, which the services' loops retry
 * like an outage. One place instead of a parameter on every search: `_count` and
 * `_msearch` have no such parameter, and a read added later is covered without remembering it.
 * A scroll page is never asked again (that would skip a page): it fails at once.
 */
export class CompleteReadsTransport extends SniffingTransport {
  // biome-ignore lint/suspicious/noExplicitAny: the base class's overloads return body or result by `meta`
  override async request(params: TransportRequestParams, options?: TransportRequestOptions): Promise<any> {
    if (!SHARD_COUNTED_READ.test(params.path) || options?.context === CALLER_CHECKS_SHARDS)
      return super.request(params, options)
    const repeatable = !params.path.endsWith('/scroll')
    for (let attempt = 1; ; attempt++) {
      const mayWait = repeatable && attempt < SHARD_WAIT_ATTEMPTS && !options?.signal?.aborted
      let result: TransportResult
      try {
        result = await super.request(params, { ...options, meta: true })
      } catch (error) {
        if (!mayWait || !noShardStarted(error)) throw error
        await sleep(SHARD_WAIT_MS)
        continue
      }
      const counts = shardFailures(result.body)
      if (counts.failed === 0) return options?.meta ? result : result.body
      if (!mayWait || !allStarting(counts.failures)) throw incompleteRead(result, counts)
      await sleep(SHARD_WAIT_MS)
    }
  }
}
