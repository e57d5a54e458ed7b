import type { Client } from '@elastic/elasticsearch'
import { CALLER_CHECKS_SHARDS, shardFailures } from '../core/complete-reads.ts'
import { SporError } from '../core/errors.ts'
import type { ParsedIndex } from '../core/indices.ts'
import { RETENTION_TIME_FIELD, sweepCutoff } from '../core/retention.ts'
import { deleteMatching } from '../privacy/pit-scan.ts'

/**
 * The sweep inside a coarse (monthly or yearly) index: deletes by `_id` every document whose
 * time is past its class's retention, so a month-long index never keeps a day longer than the
 * table allows (S10). The local node has no `_delete_by_query`: point-in-time + `search_after` +
 * bulk delete, as erasure does. A document deleted by id lingers in its segment until a merge,
 * so a sweep that deleted something asks Elasticsearch to expunge those segments.
 */
export interface SweepResult {
  index: string
  deleted: number
}

/** Pure: may this index hold a document past retention at `now` (its first day has expired)? */
export function needsSweep(index: ParsedIndex, retentionDays: number, now: Date): boolean {
  return index.period !== 'day' && index.start.getTime() < sweepCutoff(now, retentionDays).getTime()
}

function expiredQuery(index: ParsedIndex, retentionDays: number, now: Date) {
  const field = RETENTION_TIME_FIELD[index.cls]
  return {
    range: {
      [field]: { lt: sweepCutoff(now, retentionDays).toISOString(), format: 'strict_date_optional_time' },
    },
  }
}

/**
 * Documents past retention in each candidate index, in one request (most runs find none, and
 * the enforcer runs hourly on every installation: one round trip, not one per index). An index
 * that cannot be counted (its shard not started, a refused query) is that candidate's error, so
 * one red index does not hold back the sweep of the others.
 */
export async function countExpired(
  es: Client,
  candidates: readonly (ParsedIndex & { name: string; retentionDays: number })[],
  now: Date,
): Promise<(number | SporError)[]> {
  if (candidates.length === 0) return []
  const result = await es.msearch(
    {
      searches: candidates.flatMap((c) => [
        { index: c.name, ignore_unavailable: true },
        { size: 0, track_total_hits: true, query: expiredQuery(c, c.retentionDays, now) },
      ]),
    },
    { context: CALLER_CHECKS_SHARDS },
  )
  return result.responses.map((response, i) => {
    const failure = (reason: string) =>
      new SporError('SPOR_ERR_ES', `counting expired documents in ${candidates[i]!.name}: ${reason}`)
    if ('error' in response) return failure(response.error.reason ?? response.error.type)
    const shards = shardFailures(response)
    if (shards.failed > 0) {
      const types = shards.failures.map((f) => f.reason?.type).join(', ')
      return failure(`${shards.failed} of ${shards.total} shards did not answer (${types})`)
    }
    const total = response.hits.total
    return typeof total === 'number' ? total : (total?.value ?? 0)
  })
}

/** Deletes the documents past retention of one index (the enforcer calls it when
 * `countExpired` found some; a dry run stops at the count). */
export async function sweepIndex(
  es: Client,
  index: ParsedIndex & { name: string },
  retentionDays: number,
  now: Date,
  options: { expungeDeletes?: boolean } = {},
): Promise<SweepResult> {
  const query = expiredQuery(index, retentionDays, now)
  let deleted = 0
  try {
    deleted = await deleteMatching(es, index.name, query)
    if (deleted > 0) {
      await es.indices.refresh({ index: index.name, ignore_unavailable: true })
      if (options.expungeDeletes ?? true) {
        await es.indices.forcemerge({
          index: index.name,
          only_expunge_deletes: true,
          wait_for_completion: true,
        })
      }
    }
  } catch (error) {
    throw new SporError('SPOR_ERR_ES', `retention sweep of ${index.name}: ${(error as Error).message}`, {
      cause: error,
    })
  }
  return { index: index.name, deleted }
}
