import type { Client } from '@elastic/elasticsearch'
import type { Clock } from '../../core/clock.ts'
import type { SporConfig } from '../../core/config.ts'
import { classIndex, classPattern, dailyIndex, parseDailyIndex } from '../../core/indices.ts'
import { JobLeases } from '../../core/lease.ts'
import type { Logger } from '../../core/logger.ts'
import { isoDay } from '../../core/retention.ts'
import { LEASE_TTL_MS, type Schedule, startSchedule } from '../../core/schedule.ts'
import { questionBudget } from '../stats/budget.ts'
import { statsMetrics } from '../stats/metrics.ts'
import { type CountingRules, computeRawDayRows, countingRules } from '../stats/raw-rows.ts'
import { DIMENSIONS, parseDay } from '../stats/rows.ts'
import { daysBetween } from '../stats/time.ts'
import { purgeRowsBelowK, readRollupMarkers, writeDayRollup } from './store.ts'

export interface RollupDayResult {
  day: string
  rows: number
  ms: number
  /** Set when the day was left alone: without its raw index a rerun would wipe the rollup. */
  skipped?: 'no_raw_index'
}

/**
 * Rolls up one UTC day: the same day rows the raw statistics path computes (every dimension,
 * every tenant and module), written with deterministic ids, so re-running a day replaces it.
 */
export async function rollupDay(
  es: Client,
  prefix: string,
  day: string,
  now: Date,
  rules: number | CountingRules,
): Promise<RollupDayResult> {
  const { k, clientUserTenants } = typeof rules === 'number' ? { k: rules, clientUserTenants: [] } : rules
  const started = Date.now()
  // The day's raw events: the ECS index, and the first-shape one until `spor migrate` moved it.
  const date = parseDay(day)
  const names = [classIndex(prefix, 'short', date), dailyIndex(prefix, 'short', date)]
  const present = await Promise.all(names.map((index) => es.indices.exists({ index })))
  const raw = names.filter((_, i) => present[i])
  if (raw.length === 0) {
    statsMetrics.rollupDays.inc({ outcome: 'skipped' })
    return { day, rows: 0, ms: Date.now() - started, skipped: 'no_raw_index' }
  }
  try {
    // Counted before the rows: an event arriving meanwhile makes the count stale, never the rows.
    await es.indices.refresh({ index: raw })
    const { count: sourceEvents } = await es.count({ index: raw })
    // The same per-day k rule as the raw path: rows below k users are never written.
    const rows = await computeRawDayRows(es, {
      prefix,
      day,
      dims: DIMENSIONS.filter((d) => d !== 'total'),
      k,
      clientUserTenants,
    })
    await writeDayRollup(es, prefix, day, rows, now, sourceEvents)
    statsMetrics.rollupDays.inc({ outcome: 'ok' })
    statsMetrics.rollupLastSuccess.set(Date.now() / 1000)
    return { day, rows: rows.length, ms: Date.now() - started }
  } catch (error) {
    statsMetrics.rollupDays.inc({ outcome: 'failed' })
    throw error
  }
}

export async function rollupDays(
  es: Client,
  prefix: string,
  days: string[],
  now: Date,
  /** k, or k and the tenants whose browser-key-only users count (raw-rows.ts `attested users`). */
  rules: number | CountingRules,
  onDay?: (result: RollupDayResult, done: number) => void,
): Promise<RollupDayResult[]> {
  const results: RollupDayResult[] = []
  for (const day of days) {
    const result = await rollupDay(es, prefix, day, now, rules)
    results.push(result)
    onDay?.(result, results.length)
  }
  return results
}

/**
 * The days a scheduled run rolls up, among the past days whose raw index still exists:
 * - the last SPOR_STATS_RAW_DAYS days, always (statistics read them raw, so a rollup is final by
 *   the time it is used);
 * - an older day whose rollup is missing (a stopped scheduler catches up);
 * - an older day whose raw document count differs from the one its rollup was computed from:
 *   events that arrived days late, or an erasure that deleted a person's events (S7) — the
 *   rollup follows the raw data for as long as the raw data exists.
 */
export async function daysDue(es: Client, config: SporConfig, now: Date): Promise<string[]> {
  const prefix = config.es.indexPrefix
  const today = isoDay(now)
  const firstRaw = isoDay(new Date(now.getTime() - (config.retentionDays.short - 1) * 86_400_000))
  const candidates = daysBetween(firstRaw, today).filter((day) => day < today)
  const [markers, rawCounts] = await Promise.all([
    readRollupMarkers(es, prefix, candidates),
    countRawPerDay(es, prefix),
  ])
  const recent = new Set(candidates.slice(-config.query.statsRawDays))
  // (undefined, a missing marker or one from before counts were kept, differs from any count)
  return candidates.filter(
    (day) => recent.has(day) || (rawCounts.has(day) && markers.get(day)?.sourceEvents !== rawCounts.get(day)),
  )
}

/** Raw (short-class) daily indices that exist: day (UTC) → documents in it. */
export async function countRawPerDay(
  es: Client,
  prefix: string,
  refresh = true,
): Promise<Map<string, number>> {
  if (refresh) await es.indices.refresh({ index: classPattern(prefix, 'short'), allow_no_indices: true })
  const rows = (await es.cat.indices({
    index: classPattern(prefix, 'short'),
    format: 'json',
    h: 'index,docs.count',
  })) as { index?: string; 'docs.count'?: string }[]
  const counts = new Map<string, number>()
  for (const row of rows) {
    const parsed = row.index ? parseDailyIndex(row.index) : undefined
    if (parsed?.prefix === prefix && parsed.cls === 'short')
      counts.set(isoDay(parsed.date), (counts.get(isoDay(parsed.date)) ?? 0) + Number(row['docs.count'] ?? 0))
  }
  return counts
}

/**
 * Runs the due rollups every `rollupEveryMs` inside `spor query` (first after 5 s); stop() waits
 * for a running one. Among several instances, one rolls up per interval (lease): two runs of the
 * same day at once could each delete the other's fresh rows as stale.
 */
export function startRollupSchedule(
  es: Client,
  config: SporConfig,
  log: Logger,
  clock: Clock,
  leases: JobLeases = new JobLeases(es, config.es.indexPrefix),
): Schedule | undefined {
  if (config.query.rollupEveryMs <= 0) return undefined
  return startSchedule({
    name: 'rollup',
    everyMs: config.query.rollupEveryMs,
    firstAfterMs: 5_000,
    log,
    lease: { leases, ttlMs: LEASE_TTL_MS },
    run: async () => {
      const purged = await purgeRowsBelowK(es, config.es.indexPrefix, config.query.kAnonymity)
      if (purged > 0) log.warn({ rows: purged }, 'deleted stored rollup rows below k users')
      const days = await daysDue(es, config, clock())
      const results = await rollupDays(es, config.es.indexPrefix, days, clock(), countingRules(config))
      log.info({ days: results.length, rows: results.reduce((sum, r) => sum + r.rows, 0) }, 'rollups written')
      // The question budget's ended windows (query/stats/budget.ts) go with the same lease.
      const expired = await questionBudget(es, config).deleteExpired(clock())
      if (expired > 0) log.info({ documents: expired }, 'expired question-budget windows deleted')
    },
  })
}
