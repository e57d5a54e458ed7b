import type { Client, estypes } from '@elastic/elasticsearch'
import { requirePseudonymKey, requireTombstoneKeys, type SporConfig } from '../core/config.ts'
import { EVENT_PATHS } from '../core/ecs-fields.ts'
import { classIndex, classPattern, MISSING_INDICES_ARE_EMPTY } from '../core/indices.ts'
import type { Logger } from '../core/logger.ts'
import { DAY_MS, isoDay, utcDayStart } from '../core/retention.ts'
import { createPseudonymizer } from '../enrich/pseudonym.ts'
import { TombstoneCache } from '../privacy/tombstones.ts'
import { figuresFromBucket, type UserBucket, userAggregations } from './figures.ts'
import { evaluateSegments, type SegmentTable } from './rules.ts'

export interface SegmentsReport {
  day: string
  users: number
  created: number
  updated: number
  unchanged: number
  skippedErased: number
  bySegment: Record<string, number>
}

export interface SegmentsJobDeps {
  es: Client
  config: SporConfig
  log: Logger
  table: SegmentTable
}

/**
 * Computes the profile of every user active in the `window_days` days ending with `day` and
 * writes one document per user into `<prefix>-profiles-<day>`, id = pseudonym + day. Idempotent:
 * documents are upserts with no-op detection, so re-running a day with the same data changes
 * nothing (not even versions). Erased people (tombstones) are skipped.
 */
export async function runSegmentsJob(deps: SegmentsJobDeps, day: Date): Promise<SegmentsReport> {
  const { es, config, table } = deps
  const log = deps.log.child({ component: 'segments-job' })
  const prefix = config.es.indexPrefix
  const key = requirePseudonymKey(config)
  const pseudonym = createPseudonymizer(key)
  const tombstones = new TombstoneCache({
    es,
    prefix,
    keys: requireTombstoneKeys(config),
    refreshMs: config.privacy.tombstoneRefreshMs,
    log,
  })
  // No fallback: without the tombstones nobody would count as erased and an erased person's
  // profile could be re-created. The error fails the run; the schedule logs it and retries.
  // Reloaded while the job runs, like a consumer's: a page is filtered with tombstones at most
  // SPOR_TOMBSTONE_REFRESH_MS old and written at once, so a profile of a person erased meanwhile
  // lands before the erasure sweeps (it waits out two such periods first) and is swept away.
  await tombstones.reload()

  const dayStart = utcDayStart(day)
  const from = new Date(dayStart.getTime() - (table.window_days - 1) * DAY_MS)
  const to = new Date(dayStart.getTime() + DAY_MS)
  const dayText = isoDay(dayStart)
  const index = classIndex(prefix, 'profiles', dayStart)
  const report: SegmentsReport = {
    day: dayText,
    users: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    skippedErased: 0,
    bySegment: {},
  }
  const knownModules = await moduleNames(es, prefix, from, to)

  let after: Record<string, string> | undefined
  for (;;) {
    const result = await es.search({
      index: classPattern(prefix, 'short'),
      ...MISSING_INDICES_ARE_EMPTY,
      size: 0,
      query: {
        bool: {
          filter: [
            { exists: { field: 'user.id' } },
            { range: { '@timestamp': { gte: from.toISOString(), lt: to.toISOString() } } },
          ],
        },
      },
      aggs: {
        users: {
          composite: {
            size: 200,
            sources: [
              { tenant: { terms: { field: EVENT_PATHS.tenant } } },
              { user: { terms: { field: EVENT_PATHS.userId } } },
            ],
            ...(after ? { after } : {}),
          },
          aggs: userAggregations(),
        },
      },
    })
    const users = result.aggregations?.users as
      | { buckets: UserBucket[]; after_key?: Record<string, string> }
      | undefined
    const buckets = users?.buckets ?? []
    if (buckets.length === 0) break
    await tombstones.reloadIfStale()
    const operations: estypes.BulkRequest['operations'] = []
    for (const bucket of buckets) {
      const { tenant, user } = bucket.key
      if (tombstones.isErased(tenant, user)) {
        report.skippedErased++
        continue
      }
      const figures = figuresFromBucket(bucket, dayStart, knownModules)
      const rules = evaluateSegments(table, figures)
      const segments = rules.filter((r) => r.matched).map((r) => r.segment)
      for (const s of segments) report.bySegment[s] = (report.bySegment[s] ?? 0) + 1
      const pseudo = pseudonym(tenant, user)
      operations.push(
        { update: { _index: index, _id: `${pseudo}:${dayText}` } },
        {
          doc: {
            '@timestamp': dayStart.toISOString(),
            day: dayText,
            tenant,
            user: { pseudo },
            window: { from: from.toISOString(), to: to.toISOString(), days: table.window_days },
            rules_version: table.version,
            segments,
            figures,
            rules,
          },
          doc_as_upsert: true,
        },
      )
      report.users++
    }
    if (operations.length > 0) {
      const bulk = await es.bulk({ operations })
      for (const item of bulk.items) {
        const op = item.update!
        if (op.error) throw new Error(`profile ${op._id}: ${op.error.type} ${op.error.reason}`)
        if (op.result === 'created') report.created++
        else if (op.result === 'noop') report.unchanged++
        else report.updated++
      }
    }
    after = users?.after_key
    if (!after) break
  }
  await es.indices.refresh({ index, ...MISSING_INDICES_ARE_EMPTY })
  log.info(report, 'segments computed')
  return report
}

/** Every module seen in the window, so `share_module_<m>` is 0 (not missing) for users who skip it. */
async function moduleNames(es: Client, prefix: string, from: Date, to: Date): Promise<string[]> {
  const result = await es.search({
    index: classPattern(prefix, 'short'),
    ...MISSING_INDICES_ARE_EMPTY,
    size: 0,
    query: { range: { '@timestamp': { gte: from.toISOString(), lt: to.toISOString() } } },
    aggs: { modules: { terms: { field: EVENT_PATHS.module, size: 100 } } },
  })
  const agg = result.aggregations?.modules as { buckets: { key: string }[] } | undefined
  return (agg?.buckets ?? []).map((b) => b.key).sort()
}
