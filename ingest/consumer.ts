import { setImmediate } from 'node:timers/promises'
import type { Client } from '@elastic/elasticsearch'
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs'
import type { Clock } from '../core/clock.ts'
import type { SporConfig } from '../core/config.ts'
import { consumerFatalError, createGroupConsumer } from '../core/kafka.ts'
import type { Logger } from '../core/logger.ts'
import type { Enrichers } from '../enrich/enrich-event.ts'
import { BulkBudget } from './bulk-budget.ts'
import { BulkWriter } from './bulk-writer.ts'
import { type DlqRecord, dlqRecord } from './dlq-record.ts'
import { DlqTransactions } from './dlq-transaction.ts'
import { ingestMetrics } from './metrics.ts'
import { type BatchPlan, type MessageRef, planBatch } from './plan-batch.ts'
import type { DropReason } from './results.ts'
import { BatchAbandoned, type WriteControl } from './write-control.ts'

export interface IngestConsumerDeps {
  config: SporConfig
  es: Client
  kafka: Kafka
  log: Logger
  enrichers: Enrichers
  clock: Clock
  isErased?: (tenant: string, user: string) => boolean
}

export type ConsumerState = 'starting' | 'joining' | 'running' | 'stopping' | 'stopped' | 'crashed'

/**
 * Kafka → validate → enrich → Elasticsearch, one Kafka batch at a time per partition.
 *
 * The batch and the bulk request are one unit: offsets of a partition are committed only after
 * every message of the batch is in Elasticsearch or in the dead-letter topic, and a batch's dead
 * letters are published in the same Kafka transaction as its commit. kafkajs pitfalls handled on
 * purpose:
 *  - commits after a rebalance: a batch whose partition was revoked (`isStale`) is abandoned
 *    uncommitted; the new owner re-processes it and deterministic ids make that idempotent;
 *  - concurrent batches: each batch commits exactly its own partition's offset, never
 *    `commitOffsetsIfNecessary`, which would also commit other partitions' resolved offsets;
 *  - restart loops: kafkajs restarts a crashed consumer forever by default; here a bounded
 *    number of restarts per window is allowed, then the process exits non-zero with a clear line.
 */
export class IngestConsumer {
  readonly #deps: IngestConsumerDeps
  readonly #log: Logger
  readonly #writer: BulkWriter
  readonly #consumer: Consumer
  readonly #dlq: DlqTransactions
  readonly #stopping = new AbortController()
  #state: ConsumerState = 'starting'
  #lastBatchAt: Date | undefined
  #fatal: Promise<Error>
  #reportFatal!: (error: Error) => void

  constructor(deps: IngestConsumerDeps) {
    this.#deps = deps
    const { config, kafka, es } = deps
    this.#log = deps.log.child({ component: 'ingest-consumer' })
    // One budget for the whole process: bulk requests of every partition share it.
    const budget = new BulkBudget({
      maxBytes: config.ingest.maxInFlightBytes,
      maxRequests: config.ingest.bulkConcurrency,
    })
    this.#writer = new BulkWriter(
      es,
      {
        maxBytes: config.ingest.bulkMaxBytes,
        itemMaxAttempts: config.ingest.itemMaxAttempts,
        backoff: { baseMs: config.ingest.retryBaseMs, maxMs: config.ingest.retryMaxMs },
        budget,
      },
      this.#log,
    )
    this.#fatal = new Promise((resolve) => {
      this.#reportFatal = resolve
    })
    this.#consumer = createGroupConsumer(kafka, config, this.#log, {
      groupId: config.kafka.ingestGroup,
      consumer: 'ingest',
      fetch: fetchSizes(config),
    })
    this.#dlq = new DlqTransactions(kafka, config, this.#log)
  }

  get state(): ConsumerState {
    return this.#state
  }

  get lastBatchAt(): Date | undefined {
    return this.#lastBatchAt
  }

  /** Resolves with the error that stopped the consumer for good (restart budget exhausted). */
  get fatal(): Promise<Error> {
    return this.#fatal
  }

  async start(): Promise<void> {
    const { config } = this.#deps
    this.#consumer.on(this.#consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) return
      this.#state = 'crashed'
      const fatal = consumerFatalError(payload.error)
      this.#log.fatal(
        { err: payload.error, code: fatal.code },
        fatal.code === 'SPOR_ERR_POISON_BATCH'
          ? 'ingest consumer stopped at an undecodable batch'
          : 'ingest consumer stopped after repeated fatal errors',
      )
      this.#reportFatal(fatal)
    })
    // Ready means joined: until the group has assigned partitions nothing is being consumed.
    this.#consumer.on(this.#consumer.events.GROUP_JOIN, ({ payload }) => {
      if (this.#state === 'starting' || this.#state === 'joining') this.#state = 'running'
      // Dead-letter producers of partitions this instance no longer owns are closed.
      const owned = payload.memberAssignment[config.kafka.eventsTopic] ?? []
      this.#dlq.retainPartitions(config.kafka.eventsTopic, owned).catch((error) => {
        this.#log.warn(
          { err: (error as Error).message },
          'closing dead-letter producers of revoked partitions failed',
        )
      })
    })
    await this.#consumer.connect()
    await this.#consumer.subscribe({ topics: [config.kafka.eventsTopic], fromBeginning: true })
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.ingest.partitionsConcurrently,
      eachBatch: (payload) => this.#handleBatch(payload),
    })
    if (this.#state === 'starting') this.#state = 'joining'
    this.#log.info(
      { topic: config.kafka.eventsTopic, group: config.kafka.ingestGroup },
      'ingest consumer started; joining the group',
    )
  }

  /** Graceful stop: the in-flight batch finishes (or, while Elasticsearch is down, is left uncommitted). */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return
    this.#state = 'stopping'
    const stopAbort = setTimeout(() => this.#stopping.abort(), 15_000)
    try {
      await this.#consumer.disconnect()
      await this.#dlq.close()
    } finally {
      clearTimeout(stopAbort)
      this.#state = 'stopped'
    }
  }

  #finishingBeforeStop(): boolean {
    return this.#state === 'stopping' && !this.#stopping.signal.aborted
  }

  async #handleBatch({
    batch,
    heartbeat,
    isRunning,
    isStale,
    resolveOffset,
  }: EachBatchPayload): Promise<void> {
    if (batch.isEmpty()) return
    const started = performance.now()
    const control: WriteControl = {
      // While spor stops, the in-flight batch goes on until the stop deadline (15 s): SIGTERM
      // finishes and commits it rather than abandoning a half-written batch to be re-read.
      shouldContinue: () => !isStale() && (isRunning() || this.#finishingBeforeStop()),
      heartbeat,
      signal: this.#stopping.signal,
    }
    try {
      const rejects = await this.#deliver(batch.topic, batch.partition, batch.messages, control)
      // Partition revoked meanwhile: the new owner re-processes the batch; ids make that harmless.
      if (isStale()) throw new BatchAbandoned()
      const next = (BigInt(batch.lastOffset()) + 1n).toString()
      if (rejects.length > 0) {
        // Dead letters and the commit in one transaction: a crash in between cannot repeat them.
        await this.#dlq.publishAndCommit(batch, rejects, next, control)
      } else {
        await this.#consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }])
      }
    } catch (error) {
      if (!(error instanceof BatchAbandoned)) throw error
      ingestMetrics.abandonedBatches.inc()
      this.#log.warn({ partition: batch.partition, firstOffset: batch.firstOffset() }, error.message)
      return
    }
    // resolveOffset moves kafkajs's fetch position (without it the batch is fetched again);
    // the commit above is what survives a restart.
    resolveOffset(batch.lastOffset())
    this.#lastBatchAt = new Date()
    ingestMetrics.batchSize.observe(batch.messages.length)
    ingestMetrics.batchSeconds.observe((performance.now() - started) / 1000)
    ingestMetrics.lag.set({ partition: String(batch.partition) }, Number(batch.offsetLag()))
  }

  /**
   * Plans and writes the batch's documents; returns the dead-letter records (published with the
   * commit). The batch is planned in slices and each full bulk request is sent as soon as it is
   * serialised, so enrichment of the rest overlaps with Elasticsearch indexing the first part.
   */
  async #deliver(
    topic: string,
    partition: number,
    messages: KafkaMessage[],
    control: WriteControl,
  ): Promise<DlqRecord[]> {
    const { config, clock, enrichers, isErased } = this.#deps
    // The plan checked tombstones once; a batch held by retries is checked again before each
    // resend, so an erasure that happened meanwhile is not undone by a late write.
    const dropBefore = isErased
      ? (request: { document: object }) => {
          // ECS names (enrich/enrich-event.ts): the tenant is organization.id.
          const doc = request.document as { organization?: { id?: unknown }; user?: { id?: unknown } }
          return typeof doc.organization?.id === 'string' && typeof doc.user?.id === 'string'
            ? isErased(doc.organization.id, doc.user.id)
            : false
        }
      : undefined
    const context = {
      limits: {
        maxEventBytes: config.ingest.maxEventBytes,
        maxFutureSkewMs: config.ingest.maxFutureSkewMs,
        eventTypes: config.eventTypes,
        retentionDays: config.retentionDays,
      },
      enrichers,
      indexPrefix: config.es.indexPrefix,
      isErased,
    }
    const now = clock()
    const write = this.#writer.begin<MessageRef>(control, dropBefore)
    const rejected: DlqRecord[] = []
    const dropped: BatchPlan['dropped'] = {}
    let outcome: Awaited<ReturnType<typeof write.finish>>
    try {
      for (let from = 0; from < messages.length; from += PLAN_SLICE) {
        if (from > 0) await setImmediate() // let answers of requests already sent be handled
        const plan = planBatch(topic, partition, messages.slice(from, from + PLAN_SLICE), context, now)
        for (const record of plan.dlq) rejected.push(record)
        for (const [reason, count] of Object.entries(plan.dropped) as [DropReason, number][]) {
          dropped[reason] = (dropped[reason] ?? 0) + count
        }
        await write.add(plan.index)
      }
      outcome = await write.finish()
    } catch (error) {
      await write.abort()
      throw error
    }
    if (outcome.dropped > 0) dropped.subject_erased = (dropped.subject_erased ?? 0) + outcome.dropped
    const failedAt = this.#deps.clock()
    for (const f of outcome.failed) {
      rejected.push(dlqRecord(f.ref.origin, f.ref.value, { ...f, step: 'bulk_index' }, failedAt))
    }

    ingestMetrics.events.inc({ outcome: 'indexed', reason: '' }, outcome.indexed)
    for (const record of rejected) ingestMetrics.events.inc({ outcome: 'dlq', reason: record.reason })
    for (const [reason, count] of Object.entries(dropped)) {
      ingestMetrics.events.inc({ outcome: 'dropped', reason }, count)
    }
    if (rejected.length > 0 || Object.keys(dropped).length > 0) {
      this.#log.info(
        { indexed: outcome.indexed, dlq: countBy(rejected.map((r) => r.reason)), dropped },
        'batch delivered with rejects',
      )
    }
    return rejected
  }
}

/** Messages enriched between two looks at the event loop (a few milliseconds of CPU). */
const PLAN_SLICE = 256

/**
 * Fetch sizes follow the in-flight budget: a fetch holds about half of it in raw records (the
 * serialised documents are larger), split between the partitions processed at once, and never
 * less than one maximal event. Memory then scales with SPOR_INGEST_MAX_INFLIGHT_BYTES.
 */
export function fetchSizes(config: SporConfig): { maxBytes: number; maxBytesPerPartition: number } {
  const { maxInFlightBytes, maxEventBytes, bulkMaxBytes, partitionsConcurrently } = config.ingest
  const maxBytes = Math.max(maxEventBytes, Math.floor(maxInFlightBytes / 2))
  const perPartition = Math.min(bulkMaxBytes, Math.floor(maxBytes / Math.max(1, partitionsConcurrently)))
  return { maxBytes, maxBytesPerPartition: Math.max(maxEventBytes, perPartition) }
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1
  return counts
}
