import { setTimeout as delay } from 'node:timers/promises'
import type { Client } from '@elastic/elasticsearch'
import { type BackoffPolicy, backoffDelay } from '../core/backoff.ts'
import type { Logger } from '../core/logger.ts'
import { actionLine, BulkBody, lineBytes, linesOf } from './bulk-body.ts'
import type { BulkBudget } from './bulk-budget.ts'
import { ingestMetrics } from './metrics.ts'
import type { DlqReason } from './results.ts'
import { classifyItemStatus, classifyRequestError } from './retry-policy.ts'
import { BatchAbandoned, type WriteControl, waitWithHeartbeat, whileHeartbeating } from './write-control.ts'

export interface IndexRequest<R> {
  index: string
  id: string
  document: object
  /** The caller's handle for this document (e.g. its Kafka message), returned on failure. */
  ref: R
  /** Whose data the document is, for `DropBefore` (the document is not kept once serialised). */
  subject?: { tenant: string; user: string }
}

/**
 * What the writer keeps of a request after serialising it: the caller's handle and the subject.
 * The document, its index and its id are in the request body's bytes.
 */
export type HeldRequest<R> = Pick<IndexRequest<R>, 'ref' | 'subject'>

export interface FailedDocument<R> {
  ref: R
  reason: Extract<DlqReason, 'es_rejected' | 'es_retries_exhausted'>
  detail: string
}

export interface BulkOutcome<R> {
  indexed: number
  failed: FailedDocument<R>[]
  /** Documents `dropBefore` removed while the batch was held (e.g. of subjects erased meanwhile). */
  dropped: number
}

/** Checked before every resend: true drops the document (a batch can be held for minutes, and
 * what was right to write when it was planned may not be any more, e.g. an erased subject). */
export type DropBefore<R> = (request: HeldRequest<R>) => boolean

export interface BulkWriterOptions {
  maxBytes: number
  itemMaxAttempts: number
  backoff: BackoffPolicy
  /** Shared by every batch of the process: bytes and requests in flight. */
  budget: BulkBudget
}

/**
 * A document until its request is answered: what is held of its request (`HeldRequest`: not the
 * document, which would otherwise live, and be promoted by the garbage collector, until the
 * batch's last request is answered) and where its two lines are in the request's body
 * (bulk-body.ts), which holds them as bytes. One small object per document: thousands are in
 * flight.
 */
interface Pending<R> extends HeldRequest<R> {
  /** Its lines in the body of its first request: `[start, end)`, resent as they are. */
  start: number
  end: number
  attempts: number
}

/** A request's documents and its body, as first sent. */
interface Chunk<R> {
  items: Pending<R>[]
  body: Buffer
}

/**
 * The parts of a bulk answer the writer reads: each item's status and error, in order (the count
 * is checked against the request). Elasticsearch leaves out the rest (ids, versions, shards,
 * sequence numbers), about 150 bytes per document the client would otherwise parse.
 */
const BULK_RESPONSE_FIELDS = ['errors', 'items.*.status', 'items.*.error.type', 'items.*.error.reason']

/**
 * The one place that owns bulk indexing, its retries and its failures (elasticsearch-js's bulk
 * helper retries only 429 with a fixed wait and reports drops on a side channel; here every
 * failure comes back to the caller, who routes it to the dead-letter topic before committing).
 *
 * A batch is written as several bulk requests at once (within the shared budget), started while
 * the rest of the batch is still being planned; the batch's outcome is known only when every one
 * of its requests is settled, and only then may its offsets be committed. If one request fails
 * for good (abandoned, fatal), its siblings are stopped and awaited before the failure is thrown,
 * so nothing of the batch is still writing when the caller decides.
 *
 * Whole-request failures (cluster down, timeouts, 5xx) are retried without limit while the caller
 * wants to continue: an outage pauses consumption rather than dead-lettering good events.
 * Item failures are retried `itemMaxAttempts` times when retryable, else returned at once.
 */
export class BulkWriter {
  readonly #es: Client
  readonly #options: BulkWriterOptions
  readonly #log: Logger

  constructor(es: Client, options: BulkWriterOptions, log: Logger) {
    this.#es = es
    this.#options = options
    this.#log = log.child({ component: 'bulk-writer' })
  }

  /** Starts writing one batch; add its documents as they are planned, then `finish()`. */
  begin<R>(control: WriteControl, dropBefore?: DropBefore<R>): BatchWrite<R> {
    return new BatchWrite(this, control, dropBefore)
  }

  /** Writes a whole list at once (the same as begin, add, finish). */
  async write<R>(
    requests: IndexRequest<R>[],
    control: WriteControl,
    dropBefore?: DropBefore<R>,
  ): Promise<BulkOutcome<R>> {
    const batch = this.begin(control, dropBefore)
    await batch.add(requests)
    return batch.finish()
  }

  get maxBytes(): number {
    return this.#options.maxBytes
  }

  /**
   * True when fewer than two bulk requests of the process are out: Elasticsearch is about to
   * run out of work, so what is serialised is worth sending now rather than when a chunk is full.
   */
  get starving(): boolean {
    return this.#options.budget.inFlightRequests < 2
  }

  /** Waits for room in the shared budget, heartbeating so a long wait keeps the group session. */
  async reserve(bytes: number, control: WriteControl): Promise<() => void> {
    const granted = this.#options.budget.acquire(bytes)
    for (;;) {
      const release = await Promise.race([granted, delay(2000, undefined, { ref: false })])
      if (release) {
        if (control.shouldContinue()) return release
        release()
        throw new BatchAbandoned()
      }
      if (!control.shouldContinue()) {
        granted.then((late) => late())
        throw new BatchAbandoned()
      }
      await control.heartbeat()
    }
  }

  /** Delivers one chunk of a batch: sends, retries what may be retried, records the rest. */
  async deliver<R>(
    chunk: Chunk<R>,
    outcome: BulkOutcome<R>,
    control: WriteControl,
    dropBefore?: DropBefore<R>,
  ): Promise<void> {
    let pending = chunk.items
    let round = 0
    while (pending.length > 0) {
      if (round > 0) await waitWithHeartbeat(backoffDelay(this.#options.backoff, round), control)
      if (round > 0 && dropBefore) {
        const kept = pending.filter((item) => !dropBefore(item))
        outcome.dropped += pending.length - kept.length
        pending = kept
        if (pending.length === 0) break
      }
      const retry: Pending<R>[] = []
      let refused: string | undefined
      const body = pending === chunk.items ? chunk.body : linesOf(chunk.body, pending)
      const statuses = await this.#send(pending, body, control, dropBefore)
      if (!statuses) {
        // Some documents are to be dropped now: the next round filters them out.
        retry.push(...pending)
      } else {
        for (let i = 0; i < pending.length; i++) {
          const item = pending[i]!
          const { status, error } = statuses[i]!
          const decision = classifyItemStatus(status)
          if (decision === 'done') {
            outcome.indexed++
            continue
          }
          const detail = `${status} ${error ?? ''}`.trim()
          if (decision === 'pause') {
            // Not the document's fault and not transient: hold the batch (uncommitted) and say why.
            ingestMetrics.esAvailable.set(0)
            ingestMetrics.bulkRetries.inc({ cause: 'cluster_refused' })
            refused = detail
            retry.push(item)
            continue
          }
          item.attempts++
          if (decision === 'retry' && item.attempts < this.#options.itemMaxAttempts) {
            ingestMetrics.bulkRetries.inc({ cause: 'item' })
            retry.push(item)
          } else {
            const reason = decision === 'retry' ? 'es_retries_exhausted' : 'es_rejected'
            outcome.failed.push({ ref: item.ref, reason, detail })
          }
        }
      }
      if (refused && round % 10 === 0) {
        this.#log.error(
          { status: refused, documents: retry.length },
          'elasticsearch refuses the documents; batch held until fixed',
        )
      }
      pending = retry
      round++
    }
  }

  /** Sends one chunk until Elasticsearch answers; returns the per-item status in order, or
   * undefined when, while retrying, `dropBefore` now refuses one of its documents. */
  async #send<R>(
    chunk: Pending<R>[],
    body: Buffer,
    control: WriteControl,
    dropBefore?: DropBefore<R>,
  ): Promise<{ status: number; error?: string }[] | undefined> {
    for (let attempt = 0; ; attempt++) {
      if (!control.shouldContinue()) throw new BatchAbandoned()
      if (attempt > 0 && dropBefore && chunk.some((item) => dropBefore(item))) return undefined
      try {
        const started = performance.now()
        const response = await whileHeartbeating(
          this.#es.bulk(
            // A Buffer body is sent as it is (the client serialises only arrays).
            { operations: body as never, refresh: false, filter_path: BULK_RESPONSE_FIELDS },
            // The stop deadline cancels a request already sent: the batch stays uncommitted (and
            // is re-read), and spor does not wait out the request timeout on a hung cluster.
            control.signal ? { signal: control.signal } : {},
          ),
          control,
        )
        ingestMetrics.bulkSeconds.observe((performance.now() - started) / 1000)
        if (attempt > 0)
          this.#log.info({ attempts: attempt + 1 }, 'elasticsearch reachable again; bulk delivered')
        ingestMetrics.esAvailable.set(1)
        if (response.items.length !== chunk.length) {
          // Never count a document as written on an answer that does not account for it.
          throw new Error(`bulk answered ${response.items.length} items for ${chunk.length} documents`)
        }
        return response.items.map((item) => {
          const result = (item.index ?? Object.values(item)[0])!
          return {
            status: result.status,
            error: result.error ? `${result.error.type}: ${result.error.reason ?? ''}` : undefined,
          }
        })
      } catch (error) {
        // Cancelled by the stop deadline: the batch is abandoned (uncommitted), not failed.
        if (control.signal?.aborted) throw new BatchAbandoned()
        if (classifyRequestError(error) === 'fatal') throw error
        ingestMetrics.esAvailable.set(0)
        ingestMetrics.bulkRetries.inc({ cause: 'request' })
        const wait = backoffDelay(this.#options.backoff, attempt)
        // Log the first failure and then about every tenth, so an outage is visible but not noisy.
        if (attempt % 10 === 0) {
          this.#log.warn(
            { err: (error as Error).message, attempt: attempt + 1, waitMs: wait },
            'bulk request failed; retrying',
          )
        }
        await waitWithHeartbeat(wait, control)
      }
    }
  }
}

/**
 * One batch being written: `add` serialises documents into chunks of about `maxBytes` and starts
 * each full chunk (after waiting for room in the shared budget, which is the backpressure), and
 * a partly filled one at the end of an `add` when fewer than two requests of the process are out
 * (requests fill up while Elasticsearch is busy and go early while it is not); `finish` starts
 * the last chunk and settles them all.
 */
export class BatchWrite<R> {
  readonly #writer: BulkWriter
  readonly #control: WriteControl
  readonly #dropBefore: DropBefore<R> | undefined
  readonly #outcome: BulkOutcome<R> = { indexed: 0, failed: [], dropped: 0 }
  readonly #inFlight: Promise<void>[] = []
  /** Set by the first chunk that fails for good: its siblings stop at their next check. */
  #failed = false
  #chunk: Pending<R>[] = []
  /** The body of the request being filled: created at its first document. */
  #body: BulkBody | undefined

  constructor(writer: BulkWriter, control: WriteControl, dropBefore: DropBefore<R> | undefined) {
    this.#writer = writer
    this.#dropBefore = dropBefore
    this.#control = {
      ...control,
      shouldContinue: () => !this.#failed && control.shouldContinue(),
    }
  }

  async add(requests: readonly IndexRequest<R>[]): Promise<void> {
    for (const request of requests) {
      // The text is garbage as soon as it is copied into the body: it dies young, in the scavenger.
      const json = JSON.stringify(request.document)
      const action = actionLine(request.index, request.id)
      const bytes = lineBytes(action, json)
      if (this.#body && this.#body.length + bytes > this.#writer.maxBytes) await this.#launch()
      this.#body ??= new BulkBody()
      const start = this.#body.append(action, json, bytes)
      const item: Pending<R> = {
        ref: request.ref,
        start,
        end: start + bytes,
        attempts: 0,
      }
      if (request.subject !== undefined) item.subject = request.subject
      this.#chunk.push(item)
    }
    // A chunk fills while Elasticsearch is busy and goes early when it is not: whole-batch chunks
    // were sent only once the batch was planned, leaving the cluster idle meanwhile.
    if (this.#chunk.length > 0 && this.#writer.starving) await this.#launch()
  }

  /** Starts the last, partly filled request; resolves once every request of the batch is started. */
  async launchRest(): Promise<void> {
    try {
      if (this.#chunk.length > 0) await this.#launch()
    } catch (error) {
      this.#failed = true
      await Promise.allSettled(this.#inFlight)
      throw error
    }
  }

  async finish(): Promise<BulkOutcome<R>> {
    await this.launchRest()
    const results = await Promise.allSettled(this.#inFlight)
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failure) throw failure.reason
    return this.#outcome
  }

  /** Stops every chunk of the batch and waits until none is writing (after add() threw). */
  async abort(): Promise<void> {
    this.#failed = true
    this.#chunk = []
    this.#body = undefined
    await Promise.allSettled(this.#inFlight)
  }

  async #launch(): Promise<void> {
    const chunk: Chunk<R> = { items: this.#chunk, body: this.#body!.bytes() }
    this.#chunk = []
    this.#body = undefined
    const release = await this.#writer.reserve(chunk.body.length, this.#control)
    const delivery = this.#writer
      .deliver(chunk, this.#outcome, this.#control, this.#dropBefore)
      .catch((error: unknown) => {
        this.#failed = true
        throw error
      })
      .finally(release)
    // Settled in finish(); marked handled here so a failure before finish() is not "unhandled".
    delivery.catch(() => {})
    this.#inFlight.push(delivery)
  }
}
