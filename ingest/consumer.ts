import { setImmediate } from 'node:timers/promises'
import type { Client } from '@elastic/elasticsearch'
import type { Batch, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs'
import type { Clock } from '../core/clock.ts'
import type { SporConfig } from '../core/config.ts'
import { type DecodedFetchBudget, decodedFetchSizes } from '../core/fetch-sizing.ts'
import { consumerFatalError, createGroupConsumer } from '../core/kafka.ts'
import type { Logger } from '../core/logger.ts'
import { isCutBeforePoison } from '../core/poison.ts'
import type { Enrichers } from '../enrich/enrich-event.ts'
import { BulkBudget } from './bulk-budget.ts'
import { type BulkOutcome, BulkWriter } from './bulk-writer.ts'
import { type DlqRecord, dlqRecord, type MessageOrigin } from './dlq-record.ts'
import { DlqTransactions } from './dlq-transaction.ts'
import { ingestMetrics } from './metrics.ts'
import { type BatchPlan, type MessageRef, messageOrigin, planBatch } from './plan-batch.ts'
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

/** The batch of a partition written after its handler returned (one per partition at most). */
interface Lane {
  /** Settles when the batch is committed; rejects with why it was not. */
  committed: Promise<void>
  /** True once a later batch's handler (or its own) reports this batch's failure. */
  followed: boolean
  firstOffset: string
  generation: number
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
  /** Per partition, the last batch still being written or committed. */
  readonly #lanes = new Map<number, Lane>()
  /** Errors of batches that failed with no later batch to report them, thrown when re-fetched
   * (until the group is joined again). */
  readonly #failures = new Map<number, Error>()
  /** Every batch being written or committed, awaited on stop. */
  readonly #work = new Set<Promise<unknown>>()
  /** Bumped when the group rebalances or the consumer restarts: batches of an older one are abandoned. */
  #generation = 0
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
      fetch: {
        ...decodedFetchSizes(config.kafka.ingestGroup, decodedFetchBudget(config)),
        maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
      },
      beforePoison: (batch) => this.#settleBeforePoison(batch),
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
    // Batches in flight belong to the group generation they were fetched in: a rebalance or a
    // restart abandons them (the group reads again from the committed offsets).
    this.#consumer.on(this.#consumer.events.REBALANCING, () => {
      this.#generation++
    })
    this.#consumer.on(this.#consumer.events.CRASH, ({ payload }) => {
      this.#generation++
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
      this.#generation++
      this.#failures.clear() // positions now come from the committed offsets
      if (this.#state === 'starting' || this.#state === 'joining') this.#state = 'running'
      // Dead-letter producers: closed for partitions this instance no longer owns, opened for the
      // owned ones, which fences their former owner (dlq-transaction.ts). A producer that fails
      // to open here is opened again by the first batch that needs it.
      const owned = payload.memberAssignment[config.kafka.eventsTopic] ?? []
      this.#dlq.claimPartitions(config.kafka.eventsTopic, owned).catch((error) => {
        this.#log.warn(
          { err: (error as Error).message },
          'claiming dead-letter producers after a rebalance failed',
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

  /**
   * Graceful stop: the batches in flight finish and are committed while the group is still
   * joined (or, past the 15 s deadline, e.g. while Elasticsearch is down, are left uncommitted).
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return
    this.#state = 'stopping'
    const stopAbort = setTimeout(() => this.#stopping.abort(), 15_000)
    try {
      try {
        this.#consumer.pause([{ topic: this.#deps.config.kafka.eventsTopic }])
      } catch {} // not running (never started, or crashed): nothing is fetched anyway
      await this.#drain()
      await this.#consumer.disconnect()
      await this.#dlq.close()
    } finally {
      clearTimeout(stopAbort)
      this.#state = 'stopped'
    }
  }

  /**
   * One Kafka batch, pipelined one batch deep per partition: the handler returns as soon as
   * every bulk request of this batch is started and the partition's previous batch is
   * committed, so kafkajs fetches (and spor enriches) the next batch while Elasticsearch is
   * still indexing this one. kafkajs waits for the handlers of a fetch before fetching again;
   * awaiting the whole write here left the CPU idle while Elasticsearch worked and the reverse.
   *
   * The delivery guarantees stay those of a synchronous handler:
   *  - a batch is committed only when all its documents are written or dead-lettered, and only
   *    after the partition's previous batch was committed (commits follow each other in offset
   *    order, so nothing is committed past a failure);
   *  - a failure of the previous batch cancels this one (its requests stopped and awaited) and is
   *    thrown here, as before: kafkajs restarts the consumer within the restart budget, and the
   *    group reads again from the committed offsets;
   *  - a batch that fails when no later batch of its partition is being handled moves the fetch
   *    position back to its first offset (seek) and its error is thrown by the handler of that
   *    re-fetched batch;
   *  - a rebalance, a restart or the stop deadline abandons the batches in flight uncommitted
   *    (their documents are re-read and overwrite themselves under deterministic ids).
   */
  async #handleBatch({
    batch,
    heartbeat,
    isRunning,
    isStale,
    resolveOffset,
  }: EachBatchPayload): Promise<void> {
    if (batch.isEmpty() || this.#state === 'stopping') return
    // A seek is pending for this partition: this batch was fetched before it and is re-read.
    if (isStale()) return
    const { partition } = batch
    // Kept until the consumer rejoins (kafkajs's restart, within the restart budget): its own
    // retries of this handler would otherwise each need a failed write and a re-fetch to see it.
    const failure = this.#failures.get(partition)
    if (failure) throw failure
    const started = performance.now()
    const generation = this.#generation
    let cancelled = false
    const control: WriteControl = {
      // While spor stops, the batches in flight go on until the stop deadline (15 s): SIGTERM
      // finishes and commits them rather than abandoning half-written batches to be re-read.
      shouldContinue: () =>
        !cancelled &&
        generation === this.#generation &&
        !isStale() &&
        (this.#state === 'stopping' ? !this.#stopping.signal.aborted : isRunning()),
      heartbeat,
      signal: this.#stopping.signal,
    }
    const last = this.#lanes.get(partition)
    // A batch of an earlier generation (rebalance, restart) can never commit, and this one was
    // read from the offsets committed since (perhaps by another member that owned the partition
    // meanwhile): it is not this batch's predecessor, its failure is not reported here, and the
    // position is not moved back to it. It is still waited for before committing, so two batches
    // never use the partition's dead-letter producer at once.
    const previous = last?.generation === generation ? last : undefined
    const stale = last && !previous ? last.committed.catch(() => {}) : undefined
    // From here on this handler reports the previous batch's failure, not the previous lane.
    if (previous) previous.followed = true
    const launched = this.#deliver(batch.topic, partition, batch.messages, control)
    launched.catch(() => {}) // awaited below and in `committed`
    const committed = (async () => {
      const { done } = await launched
      try {
        const [rejects] = await Promise.all([done, previous?.committed, stale])
        if (!control.shouldContinue()) throw new BatchAbandoned()
        const next = (BigInt(batch.lastOffset()) + 1n).toString()
        if (rejects.length > 0) {
          // Dead letters and the commit in one transaction: a crash in between cannot repeat them.
          await this.#dlq.publishAndCommit(batch, rejects, next, control)
        } else {
          await this.#consumer.commitOffsets([{ topic: batch.topic, partition, offset: next }])
        }
      } catch (error) {
        cancelled = true
        await done.catch(() => {}) // nothing of this batch is still writing when the failure is reported
        throw error
      }
      this.#lastBatchAt = new Date()
      ingestMetrics.batchSize.observe(batch.messages.length)
      ingestMetrics.batchSeconds.observe((performance.now() - started) / 1000)
      ingestMetrics.lag.set({ partition: String(partition) }, Number(batch.offsetLag()))
    })()
    const lane: Lane = { committed, followed: false, firstOffset: batch.firstOffset()!, generation }
    this.#lanes.set(partition, lane)
    this.#track(committed)
    committed.then(
      () => {
        if (this.#lanes.get(partition) === lane) this.#lanes.delete(partition)
      },
      (error: unknown) => this.#laneFailed(batch.topic, partition, lane, error as Error),
    )
    try {
      await launched
      if (previous) await previous.committed
    } catch (error) {
      lane.followed = true // reported here, not by the lane
      cancelled = true
      await committed.catch(() => {})
      // The earliest failure of the partition is the one reported, and the fetch position goes
      // back to its batch: kafkajs already moved it past the previous batch, and its own retry
      // of this handler must not commit this batch past a previous one that was never written.
      const earlier = previous
        ? await previous.committed.then(
            () => undefined,
            (e: Error) => e,
          )
        : undefined
      const failure = earlier ?? (error as Error)
      this.#rewind(batch.topic, partition, earlier ? previous!.firstOffset : lane.firstOffset, failure)
      if (!(failure instanceof BatchAbandoned)) throw failure
      this.#abandoned(partition, lane.firstOffset, failure)
      return
    }
    // The consumer stops right after this handler (an undecodable batch follows): the records
    // before it are committed first, as the poison report promises.
    if (isCutBeforePoison(batch)) {
      lane.followed = true
      await committed
    }
    // resolveOffset moves kafkajs's fetch position (the next batch is fetched while this one is
    // written); the commit in `committed` is what survives a restart.
    resolveOffset(batch.lastOffset())
  }

  /**
   * The consumer is about to stop at an undecodable batch of this partition. When that batch
   * starts its fetch, no handler runs first, and the partition's previous batch may still be
   * written: kafkajs stopping would abandon it (or silently ignore its commit), leaving the group
   * before it and the skip command of the poison report refused. It is committed first; if it
   * fails, that earlier failure is reported instead, as a later handler would.
   */
  async #settleBeforePoison(batch: Batch): Promise<void> {
    const lane = this.#lanes.get(batch.partition)
    if (!lane) return
    lane.followed = true
    const error = await lane.committed.then(
      () => undefined,
      (e: Error) => e,
    )
    if (!error) return
    this.#rewind(batch.topic, batch.partition, lane.firstOffset, error)
    if (!(error instanceof BatchAbandoned)) throw error
    this.#abandoned(batch.partition, lane.firstOffset, error)
  }

  /** A batch failed after its handler returned, and no later batch of its partition reports it. */
  #laneFailed(topic: string, partition: number, lane: Lane, error: Error): void {
    if (this.#lanes.get(partition) === lane) this.#lanes.delete(partition)
    if (lane.followed) return
    if (
      error instanceof BatchAbandoned ||
      lane.generation !== this.#generation ||
      this.#state !== 'running'
    ) {
      // Rebalance, restart or stop: the group reads again from the committed offsets.
      this.#abandoned(partition, lane.firstOffset, error)
      return
    }
    // kafkajs's position is already past this batch: bring it back, and fail the re-fetched
    // batch's handler with this error (kafkajs then retries and restarts the consumer, as for a
    // failure thrown by a handler). The next fetch sees the seek: FETCH_MAX_WAIT_MS bounds that.
    this.#rewind(topic, partition, lane.firstOffset, error)
  }

  /**
   * Moves the partition's fetch position back to `offset` (the first batch not committed) and,
   * unless the batch was only abandoned, keeps `error` to fail the partition's handler until the
   * group is joined again. After a rebalance or during stop nothing is needed: positions then
   * come from the committed offsets.
   */
  #rewind(topic: string, partition: number, offset: string, error: Error): void {
    if (this.#state !== 'running') return
    if (!(error instanceof BatchAbandoned)) this.#failures.set(partition, error)
    // The group is rebalancing: the consumer rejoins and reads from the committed offsets. A seek
    // would outlive that: kafkajs keeps it until the partition is fetched again, even generations
    // later, after another member has committed past it, and would then read all that again.
    if (rejoinsGroup(error)) return
    try {
      this.#consumer.seek({ topic, partition, offset })
    } catch (seekError) {
      this.#log.warn(
        { err: (seekError as Error).message, partition },
        'could not rewind after a failed batch',
      )
    }
  }

  #abandoned(partition: number, firstOffset: string, error: Error): void {
    ingestMetrics.abandonedBatches.inc()
    this.#log.warn({ partition, firstOffset }, error.message)
  }

  #track(work: Promise<unknown>): void {
    this.#work.add(work)
    const untrack = () => this.#work.delete(work)
    work.then(untrack, untrack)
  }

  /** Waits until no batch is being written or committed (the stop deadline abandons them). */
  async #drain(): Promise<void> {
    while (this.#work.size > 0) await Promise.allSettled([...this.#work])
  }

  /**
   * Plans the batch and starts writing its documents; resolves once every bulk request is
   * started (room in the shared budget is the backpressure), with the promise of the batch's
   * dead-letter records (published with the commit) once every request is settled. The batch is
   * planned in slices and each full bulk request is sent as soon as it is serialised, so
   * enrichment of the rest overlaps with Elasticsearch indexing the first part.
   */
  async #deliver(
    topic: string,
    partition: number,
    messages: KafkaMessage[],
    control: WriteControl,
  ): Promise<{ done: Promise<DlqRecord[]> }> {
    const { config, clock, enrichers, isErased } = this.#deps
    // The plan checked tombstones once; a batch held by retries is checked again before each
    // resend, so an erasure that happened meanwhile is not undone by a late write.
    const dropBefore = isErased
      ? (request: { subject?: { tenant: string; user: string } }) =>
          request.subject !== undefined && isErased(request.subject.tenant, request.subject.user)
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
      await write.launchRest()
    } catch (error) {
      await write.abort()
      throw error
    }
    const done = write
      .finish()
      .then((outcome) =>
        this.#account(outcome, rejected, dropped, (ref) => messageOrigin(topic, partition, ref, now)),
      )
    done.catch(() => {}) // awaited by the caller
    return { done } // wrapped: an async function returning the promise itself would wait for it
  }

  /** Counts a written batch's outcome and returns all its dead letters (planning and bulk). */
  #account(
    outcome: BulkOutcome<MessageRef>,
    rejected: DlqRecord[],
    dropped: BatchPlan['dropped'],
    originOfRef: (ref: MessageRef) => MessageOrigin,
  ): DlqRecord[] {
    if (outcome.dropped > 0) dropped.subject_erased = (dropped.subject_erased ?? 0) + outcome.dropped
    const failedAt = this.#deps.clock()
    for (const f of outcome.failed) {
      rejected.push(dlqRecord(originOfRef(f.ref), f.ref.value, { ...f, step: 'bulk_index' }, failedAt))
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

/** kafkajs rejoins the group on these (its runner's `isRebalancing`, and an unknown member). */
const REJOIN_ERRORS = new Set([
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
])

function rejoinsGroup(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (REJOIN_ERRORS.has((e as { type?: string }).type ?? '')) return true
  }
  return false
}

/**
 * How long a fetch waits on the broker for new records (kafkajs's default is 5 s). A fetch
 * returns at once when records are there; the wait only matters on an idle topic, where it
 * bounds how late a seek (after a batch failed behind the handler's back) takes effect.
 */
const FETCH_MAX_WAIT_MS = 1000

/** Messages enriched between two looks at the event loop (a few milliseconds of CPU). */
const PLAN_SLICE = 256

/**
 * Fetch sizes follow the in-flight budget: a fetch holds about a quarter of it in decoded records,
 * split between the partitions processed at once, and never less than one maximal event. The
 * documents are about twice the size of their events (ECS names, enrichment), so one fetch's
 * documents take half of the budget and the next fetch's can be written beside them (at half
 * the budget per fetch they took all of it: ~45 MB more at peak for the same throughput). They
 * are budgets in decoded bytes (core/fetch-sizing.ts: a compressed batch decodes to many times
 * its fetched size), so memory scales with SPOR_INGEST_MAX_INFLIGHT_BYTES whatever the
 * producers' codec.
 */
export function decodedFetchBudget(config: SporConfig): DecodedFetchBudget {
  const { maxInFlightBytes, maxEventBytes, bulkMaxBytes, partitionsConcurrently } = config.ingest
  const maxBytes = Math.max(maxEventBytes, Math.floor(maxInFlightBytes / 4))
  const perPartition = Math.min(bulkMaxBytes, Math.floor(maxBytes / Math.max(1, partitionsConcurrently)))
  return { maxBytes, maxBytesPerPartition: Math.max(maxEventBytes, perPartition), minBytes: maxEventBytes }
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1
  return counts
}
