import type { Client } from '@elastic/elasticsearch'
import { type BackoffPolicy, backoffDelay } from '../core/backoff.ts'
import type { Logger } from '../core/logger.ts'
import { ingestMetrics } from './metrics.ts'
import type { DlqReason } from './results.ts'
import { classifyItemStatus, classifyRequestError } from './retry-policy.ts'
import { BatchAbandoned, type WriteControl, waitWithHeartbeat } from './write-control.ts'

export interface IndexRequest<R> {
  index: string
  id: string
  document: object
  /** The caller's handle for this document (e.g. its Kafka message), returned on failure. */
  ref: R
}

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
export type DropBefore<R> = (request: IndexRequest<R>) => boolean

export interface BulkWriterOptions {
  maxBytes: number
  itemMaxAttempts: number
  backoff: BackoffPolicy
}

interface Pending<R> {
  request: IndexRequest<R>
  lines: string
  attempts: number
}

/**
 * The one place that owns bulk indexing, its retries and its failures (elasticsearch-js's bulk
 * helper retries only 429 with a fixed wait and reports drops on a side channel; here every
 * failure comes back to the caller, who routes it to the dead-letter topic before committing).
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

  async write<R>(
    requests: IndexRequest<R>[],
    control: WriteControl,
    dropBefore?: DropBefore<R>,
  ): Promise<BulkOutcome<R>> {
    const outcome: BulkOutcome<R> = { indexed: 0, failed: [], dropped: 0 }
    let pending: Pending<R>[] = requests.map((request) => ({
      request,
      // Serialised once; the client passes strings through to the NDJSON body untouched.
      lines: `${JSON.stringify({ index: { _index: request.index, _id: request.id } })}\n${JSON.stringify(request.document)}`,
      attempts: 0,
    }))
    let round = 0
    while (pending.length > 0) {
      if (round > 0) await waitWithHeartbeat(backoffDelay(this.#options.backoff, round), control)
      if (round > 0 && dropBefore) {
        const kept = pending.filter((item) => !dropBefore(item.request))
        outcome.dropped += pending.length - kept.length
        pending = kept
      }
      const retry: Pending<R>[] = []
      let refused: string | undefined
      for (const chunk of this.#chunks(pending)) {
        const statuses = await this.#send(chunk, control, dropBefore)
        if (!statuses) {
          // Some documents are to be dropped now: the next round filters them out.
          retry.push(...chunk)
          continue
        }
        chunk.forEach((item, i) => {
          const { status, error } = statuses[i]!
          const decision = classifyItemStatus(status)
          if (decision === 'done') {
            outcome.indexed++
            return
          }
          const detail = `${status} ${error ?? ''}`.trim()
          if (decision === 'pause') {
            // Not the document's fault and not transient: hold the batch (uncommitted) and say why.
            ingestMetrics.esAvailable.set(0)
            ingestMetrics.bulkRetries.inc({ cause: 'cluster_refused' })
            refused = detail
            retry.push(item)
            return
          }
          item.attempts++
          if (decision === 'retry' && item.attempts < this.#options.itemMaxAttempts) {
            ingestMetrics.bulkRetries.inc({ cause: 'item' })
            retry.push(item)
          } else {
            const reason = decision === 'retry' ? 'es_retries_exhausted' : 'es_rejected'
            outcome.failed.push({ ref: item.request.ref, reason, detail })
          }
        })
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
    return outcome
  }

  /** Sends one chunk until Elasticsearch answers; returns the per-item status in order, or
   * undefined when, while retrying, `dropBefore` now refuses one of its documents. */
  async #send<R>(
    chunk: Pending<R>[],
    control: WriteControl,
    dropBefore?: DropBefore<R>,
  ): Promise<{ status: number; error?: string }[] | undefined> {
    for (let attempt = 0; ; attempt++) {
      if (!control.shouldContinue()) throw new BatchAbandoned()
      if (attempt > 0 && dropBefore && chunk.some((item) => dropBefore(item.request))) return undefined
      try {
        const response = await this.#es.bulk({
          operations: chunk.map((p) => p.lines) as never[],
          refresh: false,
        })
        if (attempt > 0)
          this.#log.info({ attempts: attempt + 1 }, 'elasticsearch reachable again; bulk delivered')
        ingestMetrics.esAvailable.set(1)
        return response.items.map((item) => {
          const result = Object.values(item)[0]!
          return {
            status: result.status,
            error: result.error ? `${result.error.type}: ${result.error.reason ?? ''}` : undefined,
          }
        })
      } catch (error) {
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

  /** Splits by serialised size so one bulk request stays near `maxBytes` (a few MB is the sweet spot). */
  *#chunks<T extends { lines: string }>(items: T[]): Generator<T[]> {
    let chunk: T[] = []
    let bytes = 0
    for (const item of items) {
      const size = Buffer.byteLength(item.lines) + 1
      if (chunk.length > 0 && bytes + size > this.#options.maxBytes) {
        yield chunk
        chunk = []
        bytes = 0
      }
      chunk.push(item)
      bytes += size
    }
    if (chunk.length > 0) yield chunk
  }
}
