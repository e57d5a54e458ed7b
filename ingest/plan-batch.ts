import type { KafkaMessage } from 'kafkajs'
import { isoString } from '../core/clock.ts'
import { classIndex } from '../core/indices.ts'
import { originOf } from '../core/key-scopes.ts'
import { type Enrichers, enrichEvent } from '../enrich/enrich-event.ts'
import type { IndexRequest } from './bulk-writer.ts'
import { type DlqRecord, dlqRecord, type MessageOrigin } from './dlq-record.ts'
import { type ParseLimits, parseMessage } from './parse-message.ts'
import type { DropReason } from './results.ts'

export interface PlanContext {
  limits: ParseLimits
  enrichers: Enrichers
  indexPrefix: string
  /** True when the subject was erased (privacy tombstone): its events must not come back. */
  isErased?: (tenant: string, user: string) => boolean
}

/**
 * A document's way back to its Kafka message, for dead-lettering it with the original bytes: the
 * message itself (its batch is kept until committed anyway). Its origin is derived only if it is
 * dead-lettered (`messageOrigin`), not kept beside every document in flight.
 */
export type MessageRef = KafkaMessage

export interface BatchPlan {
  index: IndexRequest<MessageRef>[]
  dlq: DlqRecord[]
  dropped: Partial<Record<DropReason, number>>
}

/** Document id: tenant + producer event id, so a replay or retry overwrites instead of duplicating. */
export function documentId(tenant: string, eventId: string): string {
  return `${tenant}:${eventId}`
}

/**
 * When the record reached spor: the events topic stamps records with the broker's append time
 * (`message.timestamp.type=LogAppendTime`), so `received_at` is a property of the record and a
 * batch reprocessed after a rebalance or crash writes byte-identical documents. A record without
 * a usable timestamp falls back to the processing time.
 */
export function recordTime(message: Pick<KafkaMessage, 'timestamp'>, now: Date): Date {
  const ms = Number(message.timestamp)
  return Number.isFinite(ms) && ms > 0 ? new Date(ms) : now
}

/**
 * Where a message came from, for its dead-letter record. `now` is the planning time (the record
 * time when the record has no timestamp), so the origin is the same whenever it is derived.
 */
export function messageOrigin(
  topic: string,
  partition: number,
  message: KafkaMessage,
  now: Date,
): MessageOrigin {
  const origin: MessageOrigin = {
    topic,
    partition,
    offset: message.offset,
    key: message.key ? message.key.toString('utf8') : null,
    timestamp: isoString(recordTime(message, now)),
  }
  const sporOrigin = originOf(message.headers)
  if (sporOrigin) origin.spor_origin = sporOrigin
  return origin
}

/**
 * The pure part of a batch: every message becomes exactly one of an index request, a dead-letter
 * record or a counted drop. I/O (bulk, produce, commit) happens in the consumer.
 */
export function planBatch(
  topic: string,
  partition: number,
  messages: KafkaMessage[],
  context: PlanContext,
  now: Date,
): BatchPlan {
  const plan: BatchPlan = { index: [], dlq: [], dropped: {} }
  for (const message of messages) {
    const appendedAt = recordTime(message, now)
    const sporOrigin = originOf(message.headers)
    let result = parseMessage(message.value, context.limits, now)
    if (
      result.kind === 'ok' &&
      result.value.event.user &&
      context.isErased?.(result.value.event.tenant, result.value.event.user)
    ) {
      result = { kind: 'drop', reason: 'subject_erased', step: 'privacy_tombstone' }
    }
    switch (result.kind) {
      case 'ok': {
        const { event, cls, time } = result.value
        let document: object
        try {
          document = enrichEvent(event, cls, context.enrichers, appendedAt, sporOrigin, time)
        } catch (error) {
          // A bug or a pathological input in an enricher costs one event, never the batch.
          const failure = {
            reason: 'enrich_failed' as const,
            detail: (error as Error).message,
            step: 'enrich_event',
          }
          plan.dlq.push(dlqRecord(messageOrigin(topic, partition, message, now), message.value, failure, now))
          break
        }
        const request: IndexRequest<MessageRef> = {
          index: classIndex(context.indexPrefix, cls, time),
          id: documentId(event.tenant, event.id),
          document,
          ref: message,
        }
        // For the erasure check before a resend (the writer does not keep the document).
        if (event.user !== undefined) request.subject = { tenant: event.tenant, user: event.user }
        plan.index.push(request)
        break
      }
      case 'dlq':
        plan.dlq.push(dlqRecord(messageOrigin(topic, partition, message, now), message.value, result, now))
        break
      case 'drop':
        plan.dropped[result.reason] = (plan.dropped[result.reason] ?? 0) + 1
        break
    }
  }
  return plan
}
