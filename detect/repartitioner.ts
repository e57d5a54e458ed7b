import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs'
import type { Clock } from '../core/clock.ts'
import type { SporConfig } from '../core/config.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { decodedFetchSizes } from '../core/fetch-sizing.ts'
import { createGroupConsumer, createProducer } from '../core/kafka.ts'
import { originOf } from '../core/key-scopes.ts'
import type { Logger } from '../core/logger.ts'
import type { Enrichers } from '../enrich/enrich-event.ts'
import { parseMessage } from '../ingest/parse-message.ts'
import { detectMetrics } from './metrics.ts'
import { type Signal, signalKey, toSignals } from './signal.ts'
import { repartitionTopic } from './topics.ts'

export type SignalEnrichers = Pick<Enrichers, 'lookupGeo' | 'parseUserAgent'>

/** True when the subject was erased (privacy tombstone): detection must not bring them back. */
export type IsErased = (tenant: string, user: string) => boolean

/**
 * Stage 1: events (partitioned by tenant:user) → signals re-keyed by rule key on the internal
 * repartition topic. Invalid events are skipped and counted; ingest dead-letters them already.
 * A partition's offset is committed only after its signals are acknowledged by Kafka; a replay
 * re-produces signals, which the rule stage drops by event id. Events of erased subjects are
 * skipped and counted, as ingest refuses them, so a replay cannot raise alerts about them again.
 */
export class Repartitioner {
  readonly #consumer: Consumer
  readonly #producer: Producer
  readonly #config: SporConfig
  readonly #enrichers: SignalEnrichers
  readonly #clock: Clock
  readonly #log: Logger
  readonly #topic: string
  readonly #isErased: IsErased | undefined

  constructor(deps: {
    kafka: Kafka
    config: SporConfig
    enrichers: SignalEnrichers
    clock: Clock
    log: Logger
    isErased?: IsErased
    onCrash: (error: Error) => void
  }) {
    this.#config = deps.config
    this.#isErased = deps.isErased
    this.#enrichers = deps.enrichers
    this.#clock = deps.clock
    this.#log = deps.log.child({ component: 'detect-repartition' })
    this.#topic = repartitionTopic(deps.config)
    this.#consumer = createGroupConsumer(deps.kafka, deps.config, deps.log, {
      groupId: deps.config.kafka.detectGroup,
      consumer: 'detect',
      fields: { stage: 'repartition' },
      // kafkajs's own sizes (10 MB a fetch, 1 MB a partition), in decoded bytes: producers'
      // zstd batches would otherwise decode to over 100 MB a fetch (core/fetch-sizing.ts).
      fetch: decodedFetchSizes(deps.config.kafka.detectGroup, {
        maxBytes: 10 * 1024 * 1024,
        maxBytesPerPartition: 1024 * 1024,
        minBytes: deps.config.ingest.maxEventBytes,
      }),
    })
    this.#producer = createProducer(deps.kafka)
    this.#consumer.on(this.#consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) deps.onCrash(payload.error)
    })
  }

  async start(): Promise<void> {
    await this.#producer.connect()
    await this.#consumer.connect()
    await this.#consumer.subscribe({ topics: [this.#config.kafka.eventsTopic], fromBeginning: true })
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.#handleBatch(payload),
    })
  }

  async stop(): Promise<void> {
    await this.#consumer.disconnect()
    await this.#producer.disconnect()
  }

  async #handleBatch({ batch, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    if (batch.isEmpty()) return
    const config = this.#config
    const limits = {
      maxEventBytes: config.ingest.maxEventBytes,
      maxFutureSkewMs: config.ingest.maxFutureSkewMs,
      eventTypes: config.eventTypes,
      retentionDays: config.retentionDays,
    }
    const now = this.#clock()
    const messages: { key: string; value: string }[] = []
    let skipped = 0
    let erased = 0
    let failed = 0
    for (const message of batch.messages) {
      const parsed = parseMessage(message.value, limits, now)
      if (parsed.kind !== 'ok') {
        skipped++
        continue
      }
      const { tenant, user } = parsed.value.event
      if (user && this.#isErased?.(tenant, user)) {
        erased++
        continue
      }
      // The record's time (the events topic stamps arrival): detection latency counts from there.
      const producedAt = Number(message.timestamp)
      const signals = signalsOrFailure(parsed.value.event, this.#enrichers, producedAt)
      if (signals instanceof Error) {
        failed++
        this.#log.warn(
          { err: signals.message, eventType: parsed.value.event.type },
          'signal projection failed; event skipped',
        )
        continue
      }
      // What a browser key reported about itself stays marked through detection (core/key-scopes.ts).
      const client = originOf(message.headers) === 'client'
      for (const signal of signals) {
        if (client) signal.e.client = true
        messages.push({ key: signalKey(signal), value: JSON.stringify(signal) })
      }
    }
    if (messages.length > 0) await this.#producer.send({ topic: this.#topic, acks: -1, messages })
    detectMetrics.events.inc({ outcome: 'read' }, batch.messages.length - skipped - erased - failed)
    if (skipped > 0) detectMetrics.events.inc({ outcome: 'skipped_invalid' }, skipped)
    if (failed > 0) detectMetrics.events.inc({ outcome: 'skipped_signal_failed' }, failed)
    if (erased > 0) {
      detectMetrics.events.inc({ outcome: 'skipped_erased' }, erased)
      detectMetrics.erased.inc({ stage: 'repartition' }, erased)
    }
    if (isStale()) return
    const next = (BigInt(batch.lastOffset()) + 1n).toString()
    await this.#consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }])
    resolveOffset(batch.lastOffset())
  }
}

/**
 * The event's signals, or the error its projection threw (geo lookup, UA parsing, IP truncation
 * on odd input). One such event must be skipped, not crash the batch: a crash repeats on every
 * restart until the restart budget is spent. Ingest catches enricher failures per event too.
 */
export function signalsOrFailure(
  event: SporEvent,
  enrichers: SignalEnrichers,
  producedAt?: number,
): Signal[] | Error {
  try {
    return toSignals(event, enrichers, producedAt)
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error))
  }
}
