import { Counter, Gauge, Histogram } from 'prom-client'

/** Statistics and rollup metrics; labels are route/path names only, never tenants. */
export const statsMetrics = {
  requestSeconds: new Histogram({
    name: 'spor_stats_request_duration_seconds',
    help: 'Statistics request latency by route',
    labelNames: ['route'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  }),
  days: new Counter({
    name: 'spor_stats_days_total',
    help: 'Days read by statistics requests, by source (raw, rollup)',
    labelNames: ['source'] as const,
  }),
  rowCacheLookups: new Counter({
    name: 'spor_stats_row_cache_lookups_total',
    help: 'Lookups of decoded rollup rows in the row cache (SPOR_STATS_ROW_CACHE_MB), by outcome (hit, miss)',
    labelNames: ['outcome'] as const,
  }),
  rollupDays: new Counter({
    name: 'spor_rollup_days_total',
    help: 'Days rolled up, by outcome',
    labelNames: ['outcome'] as const,
  }),
  rollupLastSuccess: new Gauge({
    name: 'spor_rollup_last_success_timestamp_seconds',
    help: 'When the rollup job last finished a day (unix seconds)',
  }),
}
