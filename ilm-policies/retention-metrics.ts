import { Counter, Gauge } from 'prom-client'

/**
 * Retention metrics. Labels are the retention class and an outcome: never an index name (one per
 * day would grow without bound) and never a tenant or user.
 */
export const retentionMetrics = {
  deletedIndices: new Counter({
    name: 'spor_retention_deleted_indices_total',
    help: 'Daily indices deleted by the retention enforcer because their class retention had passed',
    labelNames: ['class'] as const,
  }),
  deleteFailures: new Counter({
    name: 'spor_retention_delete_failures_total',
    help: 'Expired daily indices the enforcer failed to delete (retried on its next run)',
    labelNames: ['class'] as const,
  }),
  expiredTombstones: new Counter({
    name: 'spor_retention_expired_tombstones_total',
    help: 'Erasure tombstones deleted once nothing from before the erasure could reach spor any more',
  }),
  enforceRuns: new Counter({
    name: 'spor_retention_enforce_runs_total',
    help: 'Enforcer runs by outcome (ok, failed)',
    labelNames: ['outcome'] as const,
  }),
  lastSuccess: new Gauge({
    name: 'spor_retention_last_success_timestamp_seconds',
    help: 'When the retention enforcer last completed without failures (unix seconds); alert SporRetentionEnforcerNotRun',
  }),
  oldestAge: new Gauge({
    name: 'spor_retention_oldest_age_seconds',
    help: 'Age of the oldest @timestamp still stored per retention class (absent when the class is empty)',
    labelNames: ['class'] as const,
  }),
  violatingDocs: new Gauge({
    name: 'spor_retention_violating_documents',
    help: 'Documents older than their class retention plus one day, at the last audit',
    labelNames: ['class'] as const,
  }),
}
