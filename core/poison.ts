import type { Batch, Consumer, ConsumerRunConfig, EachBatchPayload, KafkaMessage } from 'kafkajs'
import { Counter } from 'prom-client'
import {
  findPoisonBatch,
  POISON_HEADER,
  POISON_PAYLOAD_HEADER,
  PoisonBatchError,
  type PoisonInfo,
} from './codecs.ts'
import type { Logger } from './logger.ts'

/**
 * A poison batch is one no consumer can decode (corrupt bytes, an unknown codec). Restarting
 * would fetch the same offset and fail again for ever, so the consumer stops once, with
 * SPOR_ERR_POISON_BATCH naming topic, partition and offsets, a metric, and the command that
 * moves the group past it (`spor ingest skip`, which records the batch as a dead letter).
 */

export const poisonBatches = new Counter({
  name: 'spor_kafka_poison_batches_total',
  help: 'Record batches no consumer could decode (the consumer stopped; see SPOR_ERR_POISON_BATCH)',
  labelNames: ['consumer', 'codec'] as const,
})

export function poisonOf(error: unknown): PoisonBatchError | undefined {
  return findPoisonBatch(error)
}

function headerText(message: KafkaMessage, name: string): string | undefined {
  const value = message.headers?.[name]
  if (value === undefined) return undefined
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value)
}

/** The poison description a stand-in record carries, or undefined for a real record. */
export function poisonInfo(message: KafkaMessage): PoisonInfo | undefined {
  if (message.value !== null || message.key !== null) return undefined
  const text = headerText(message, POISON_HEADER)
  if (text === undefined) return undefined
  try {
    return JSON.parse(text) as PoisonInfo
  } catch {
    return undefined
  }
}

export function poisonError(
  topic: string,
  partition: number,
  message: KafkaMessage,
): PoisonBatchError | undefined {
  const info = poisonInfo(message)
  if (!info) return undefined
  const payload = message.headers?.[POISON_PAYLOAD_HEADER]
  return new PoisonBatchError(info, {
    topic,
    partition,
    payload: Buffer.isBuffer(payload) ? payload : undefined,
  })
}

/** The batch as far as the record before `end`: what the consumer may process before it stops. */
/** Batches handed on cut short before a stand-in record (see `isCutBeforePoison`). */
const cutBeforePoison = new WeakSet<Batch>()

function truncated(batch: Batch, end: number): Batch {
  const messages = batch.messages.slice(0, end)
  const cut = Object.create(batch, {
    messages: { value: messages },
    messagesWithinOffset: { value: messages },
    rawMessages: { value: messages },
  }) as Batch
  cutBeforePoison.add(cut)
  return cut
}

/**
 * True for a batch that ends just before an undecodable one: the consumer fails right after its
 * handler returns, so a handler that commits after returning (ingest's pipelined batches) must
 * commit this one before it returns.
 */
export function isCutBeforePoison(batch: Batch): boolean {
  return cutBeforePoison.has(batch)
}

/**
 * Called just before the consumer fails at an undecodable batch (kafkajs then stops it at once),
 * also when that batch starts the fetch and no handler sees the records before it: a handler
 * that commits after returning (ingest's pipelined batches) commits its earlier batches here.
 * Throwing reports that error instead of the poison batch.
 */
export type BeforePoison = (batch: Batch) => Promise<void>

/**
 * Wraps `consumer.run` so that eachBatch / eachMessage never see a stand-in record: the records
 * before it are handed on (and committed by the handler as usual), then the consumer fails with
 * the located PoisonBatchError.
 */
export function guardPoison(
  consumer: Consumer,
  log: Logger,
  context: { groupId: string; consumer: string; fields?: Record<string, unknown> },
  beforePoison?: BeforePoison,
): Consumer {
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    const poison = poisonOf(payload.error)
    if (poison) reportPoisonBatch(log, context, poison)
  })
  const run = consumer.run.bind(consumer)
  consumer.run = (config?: ConsumerRunConfig) => {
    if (!config) return run(config)
    const { eachBatch, eachMessage } = config
    return run({
      ...config,
      ...(eachBatch
        ? {
            eachBatch: async (payload: EachBatchPayload) => {
              const { batch } = payload
              const at = batch.messages.findIndex((m) => poisonInfo(m) !== undefined)
              if (at < 0) return eachBatch(payload)
              if (at > 0) await eachBatch({ ...payload, batch: truncated(batch, at) })
              await beforePoison?.(batch)
              throw poisonError(batch.topic, batch.partition, batch.messages[at]!)
            },
          }
        : {}),
      ...(eachMessage
        ? {
            eachMessage: async (payload) => {
              const poison = poisonError(payload.topic, payload.partition, payload.message)
              if (poison) throw poison
              return eachMessage(payload)
            },
          }
        : {}),
    })
  }
  return consumer
}

/**
 * kafkajs's `restartOnFailure`: never restart on a poison batch (it would fail again on the same
 * bytes); anything else goes to the restart budget. (kafkajs does not even ask for an error it
 * sees as non-retriable, which the poison error is; this covers one wrapped in a retriable one.)
 */
export function handlePoisonBatch(
  budget: (error: Error) => Promise<boolean>,
): (error: Error) => Promise<boolean> {
  return async (error) => (poisonOf(error) ? false : budget(error))
}

/** The one log line and the metric for a consumer that stopped at a poison batch. */
export function reportPoisonBatch(
  log: Logger,
  context: { groupId: string; consumer: string; fields?: Record<string, unknown> },
  poison: PoisonBatchError,
): void {
  poisonBatches.inc({ consumer: context.consumer, codec: poison.info.codec })
  // The names `spor ingest skip --consumer` takes (ingest/poison-skip.ts SKIPPABLE_CONSUMERS).
  const name =
    context.consumer === 'detect' && context.fields?.stage === 'rules' ? 'detect-rules' : context.consumer
  const skip =
    poison.partition !== undefined
      ? `spor ingest skip --consumer ${name} --partition ${poison.partition} --offset ${poison.info.baseOffset}`
      : undefined
  log.error(
    {
      ...context.fields,
      code: poison.code,
      group: context.groupId,
      topic: poison.topic,
      partition: poison.partition,
      baseOffset: poison.info.baseOffset,
      lastOffset: poison.info.lastOffset,
      codec: poison.info.codec,
      detail: poison.info.error,
      ...(skip ? { skip } : {}),
    },
    `${context.consumer} consumer stopped at an undecodable batch (SPOR_ERR_POISON_BATCH): ${poison.message}${skip ? `; once it is understood, move on with: ${skip}` : ''}`,
  )
}
