import type { Client } from '@elastic/elasticsearch'
import type { Clock } from '../../core/clock.ts'
import type { SporConfig } from '../../core/config.ts'
import { dailyIndex } from '../../core/indices.ts'
import type { Logger } from '../../core/logger.ts'
import { statsMetrics } from '../stats/metrics.ts'
import { computeRawDayRows } from '../stats/raw-rows.ts'
import { DIMENSIONS, dayString, parseDay } from '../stats/rows.ts'
import { daysBetween } from '../stats/time.ts'
import { purgeRowsBelowK, readRollupRows, writeDayRollup } from './store.ts'

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
  k: number,
): Promise<RollupDayResult> {
  const started = Date.now()
  if (!(await es.indices.exists({ index: dailyIndex(prefix, 'short', parseDay(day)) }))) {
    statsMetrics.rollupDays.inc({ outcome: 'skipped' })
    return { day, rows: 0, ms: Date.now() - started, skipped: 'no_raw_index' }
  }
  try {
    // The same per-day k rule as the raw path: rows below k users are never written.
    const rows = await computeRawDayRows(es, {
      prefix,
      day,
      dims: DIMENSIONS.filter((d) => d !== 'total'),
      k,
    })
    await writeDayRollup(es, prefix, day, rows, now)
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
  k: number,
  onDay?: (result: RollupDayResult, done: number) => void,
): Promise<RollupDayResult[]> {
  const results: RollupDayResult[] = []
  for (const day of days) {
    const result = await rollupDay(es, prefix, day, now, k)
    results.push(result)
    onDay?.(result, results.length)
  }
  return results
}

/**
 * The days a scheduled run rolls up: the last SPOR_STATS_RAW_DAYS days (again, for late events;
 * statistics read them raw, so a rollup is final by the time it is used), and
 * every older day still inside the raw retention window whose rollup is missing — so a stopped
 * scheduler catches up as long as the raw data has not expired.
 */
export async function daysDue(es: Client, config: SporConfig, now: Date): Promise<string[]> {
  const today = dayString(now)
  const firstRaw = dayString(new Date(now.getTime() - (config.retentionDays.short - 1) * 86_400_000))
  const candidates = daysBetween(firstRaw, today).filter((day) => day < today)
  const { completeDays } = await readRollupRows(es, {
    prefix: config.es.indexPrefix,
    days: candidates,
    dims: [],
  })
  const recent = candidates.slice(-config.query.statsRawDays)
  return candidates.filter((day) => recent.includes(day) || !completeDays.has(day))
}

/** Runs the due rollups every `rollupEveryMs` inside `spor query`; stop() waits for a running one. */
export function startRollupSchedule(
  es: Client,
  config: SporConfig,
  log: Logger,
  clock: Clock,
): { stop: () => Promise<void> } | undefined {
  if (config.query.rollupEveryMs <= 0) return undefined
  let running: Promise<void> | undefined
  const run = () => {
    if (running) return
    running = (async () => {
      try {
        const purged = await purgeRowsBelowK(es, config.es.indexPrefix, config.query.kAnonymity)
        if (purged > 0) log.warn({ rows: purged }, 'deleted stored rollup rows below k users')
        const days = await daysDue(es, config, clock())
        const results = await rollupDays(es, config.es.indexPrefix, days, clock(), config.query.kAnonymity)
        log.info({ days: results.length, rows: results.reduce((s, r) => s + r.rows, 0) }, 'rollups written')
      } catch (error) {
        log.error({ err: error }, 'rollup run failed; retrying at the next interval')
      } finally {
        running = undefined
      }
    })()
  }
  const first = setTimeout(run, 5_000)
  const timer = setInterval(run, config.query.rollupEveryMs)
  first.unref()
  timer.unref()
  return {
    stop: async () => {
      clearTimeout(first)
      clearInterval(timer)
      await running
    },
  }
}
