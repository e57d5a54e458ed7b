/**
 * Expected outcomes of a pipeline step are values, not exceptions (PostHog's ingestion results):
 * an event is indexed (`ok`), sent to the dead-letter topic with a reason (`dlq`), or dropped by
 * a counted, logged decision (`drop`). Reasons are snake_case and double as metric labels.
 */
export type DlqReason =
  | 'empty_message'
  | 'oversized'
  | 'invalid_json'
  | 'schema_violation'
  | 'unknown_type'
  | 'ts_in_future'
  | 'enrich_failed'
  | 'es_rejected'
  | 'es_retries_exhausted'
  // an undecodable Kafka record batch an operator skipped (core/poison-skip.ts)
  | 'poison_batch'

export type DropReason = 'past_retention' | 'subject_erased'

export type StepResult<T> =
  | { kind: 'ok'; value: T }
  | { kind: 'dlq'; reason: DlqReason; detail: string; step: string }
  | { kind: 'drop'; reason: DropReason; step: string }

export const ok = <T>(value: T): StepResult<T> => ({ kind: 'ok', value })
export const dlq = (step: string, reason: DlqReason, detail: string): StepResult<never> => ({
  kind: 'dlq',
  reason,
  detail,
  step,
})
export const drop = (step: string, reason: DropReason): StepResult<never> => ({ kind: 'drop', reason, step })
