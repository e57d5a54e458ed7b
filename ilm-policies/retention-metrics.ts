import { Counter, Gauge } from 'prom-client'

/**
 * Retention metrics. Labels are the retention class and an outcome: never an index name (one per
 * day would grow without bound) and never a tenant or user.
 */
export const retentionMetrics = {
  deletedIndices: new Counter({
    name: 'spor_retention_deleted_indices_total',
    help: 'Indices deleted by the retention enforcer because their whole period was past its class retention',
    labelNames: ['class'] as const,
  }),
  deleteFailures: new Counter({
    name: 'spor_retention_delete_failures_total',
    help: 'Expired indices the enforcer failed to delete or sweep (retried on its next run)',
    labelNames: ['class'] as const,
  }),
  sweptDocuments: new Counter({
    name: 'spor_retention_swept_documents_total',
    help: 'Documents past retention deleted by id inside monthly or yearly indices by the sweep',
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
  primaries: new Gauge({
    name: 'spor_index_primaries',
    help: 'Primary shards of the installation per retention class, at the last audit',
    labelNames: ['class'] as const,
  }),
  projectedPrimaries: new Gauge({
    name: 'spor_index_primaries_projected',
    help: 'Most primary shards per class at steady state with the retention table and index layout',
    labelNames: ['class'] as const,
  }),
  violatingDocs: new Gauge({
    name: 'spor_retention_violating_documents',
    help: 'Documents older than their class retention plus one day, at the last audit',
    labelNames: ['class'] as const,
  }),
}
