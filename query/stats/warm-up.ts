import type { Logger } from '../../core/logger.ts'
import { isoDay } from '../../core/retention.ts'
import { type Breakdown, breakdownStats, type StatsContext, summaryStats, timeseriesStats } from './engine.ts'

/** The breakdowns the built-in dashboard draws (query/dashboard/public/dashboard.js), tenants first. */
const DASHBOARD_BREAKDOWNS: Breakdown[] = [
  'tenant',
  'module',
  'browser',
  'os',
  'device_type',
  'country',
  'hour',
  'weekday',
]

/** Past this, the instance reports ready anyway and the rest warms in the background. */
const READY_AFTER_MS = 60_000

/**
 * Fills the rollup row cache (query/stats/row-cache.ts) of a new `spor query` instance before it
 * reports ready, with what a viewer opens first: the dashboard's product-wide view over the last
 * `days` days (summary, users and events per day, its breakdowns). The first ask of that view
 * then costs about what a repeated one does (bench, 2026-12-02: p95 43–90 ms against 246–666 ms
 * cold, 27–64 ms asked again), like Elasticsearch's eager global ordinals or a database's
 * buffer-pool preload. Tenant views and other ranges share the day rows of the same days only
 * where the filters match; they warm on their first ask. Nothing is charged to any budget and no
 * answer leaves the process.
 */
export class RowCacheWarmUp {
  #state: 'off' | 'warming' | 'done' | 'failed' = 'off'
  #readyAnyway = false
  #view: { ctx: () => StatsContext; days: number } | undefined

  get state(): string {
    return this.#state
  }

  /** Whether the instance may report ready: warm, failed (it answers cold), off, or past the wait. */
  get settled(): boolean {
    return this.#state !== 'warming' || this.#readyAnyway
  }

  /** What to warm: the statistics routes hand over their context (only when the cache is on). */
  bind(ctx: () => StatsContext, days: number): void {
    this.#view = { ctx, days }
  }

  /** Warms in the background; resolves when done or failed (never rejects). */
  start(log: Logger): Promise<void> {
    const view = this.#view
    if (!view) return Promise.resolve()
    this.#state = 'warming'
    const started = Date.now()
    setTimeout(() => {
      this.#readyAnyway = true
    }, READY_AFTER_MS).unref()
    return warmDashboardView(view.ctx, view.days).then(
      (questions) => {
        this.#state = 'done'
        log.info({ questions, days: view.days, ms: Date.now() - started }, 'statistics row cache warmed')
      },
      (error: unknown) => {
        this.#state = 'failed'
        log.warn(
          { err: error, ms: Date.now() - started },
          'statistics row cache warm-up failed; answering cold',
        )
      },
    )
  }
}

/** Asks the dashboard's product-wide questions once, one after another; returns how many. */
async function warmDashboardView(ctx: () => StatsContext, days: number): Promise<number> {
  const now = ctx().now
  const filter = {
    from: isoDay(new Date(now.getTime() - (days - 1) * 86_400_000)),
    to: isoDay(now),
    // Rollups only: the cache holds rollup rows, and the recent days an `auto` question reads
    // from raw events would be aggregated here for nothing (and again by the first viewer).
    source: 'rollup' as const,
  }
  // One at a time: the warm-up must not crowd out the requests of an instance already serving.
  await summaryStats(ctx(), filter)
  await timeseriesStats(ctx(), filter, 'users', 'day')
  await timeseriesStats(ctx(), filter, 'events', 'day')
  for (const by of DASHBOARD_BREAKDOWNS) await breakdownStats(ctx(), filter, by, { limit: 12, offset: 0 })
  return 3 + DASHBOARD_BREAKDOWNS.length
}
