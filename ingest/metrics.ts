import { Counter, Gauge, Histogram } from 'prom-client'

/**
 * Ingest metrics per stage. Labels are low-cardinality (outcome, reason, partition): never a
 * tenant or user id. Counted once per batch on the hot path, not per event log line.
 */
export const ingestMetrics = {
  events: new Counter({
    name: 'spor_ingest_events_total',
    help: 'Events consumed, by outcome (indexed, dlq, dropped) and reason',
    labelNames: ['outcome', 'reason'] as const,
  }),
  batchSeconds: new Histogram({
    name: 'spor_ingest_batch_duration_seconds',
    help: 'Time from receiving a Kafka batch to committing its offsets',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  }),
  batchSize: new Histogram({
    name: 'spor_ingest_batch_size',
    help: 'Messages per Kafka batch',
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000],
  }),
  bulkRetries: new Counter({
    name: 'spor_ingest_bulk_retries_total',
    help: 'Bulk retries: whole requests (cluster unavailable) and single items (429/5xx)',
    labelNames: ['cause'] as const,
  }),
  bulkSeconds: new Histogram({
    name: 'spor_ingest_bulk_request_duration_seconds',
    help: 'Time of one bulk request to Elasticsearch (answered, whatever the item statuses)',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  }),
  inFlightBytes: new Gauge({
    name: 'spor_ingest_in_flight_bytes',
    help: 'Serialised documents in bulk requests now, across partitions (bounded by SPOR_INGEST_MAX_INFLIGHT_BYTES)',
  }),
  esAvailable: new Gauge({
    name: 'spor_ingest_es_available',
    help: '1 when the last bulk request reached Elasticsearch, 0 while it is failing',
  }),
  lag: new Gauge({
    name: 'spor_ingest_consumer_lag',
    help: 'Messages behind the partition high watermark after the last batch',
    labelNames: ['partition'] as const,
  }),
  dlqTransactions: new Counter({
    name: 'spor_ingest_dlq_transactions_total',
    help: 'Kafka transactions of dead letters + offset commit, by outcome (committed, abandoned, failed)',
    labelNames: ['outcome'] as const,
  }),
  abandonedBatches: new Counter({
    name: 'spor_ingest_abandoned_batches_total',
    help: 'Batches left uncommitted because of shutdown or rebalance (re-delivered, idempotent)',
  }),
}
