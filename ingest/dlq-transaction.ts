import type { Kafka, Producer, Transaction } from 'kafkajs'
import { backoffDelay } from '../core/backoff.ts'
import type { SporConfig } from '../core/config.ts'
import { SporError } from '../core/errors.ts'
import { createProducer } from '../core/kafka.ts'
import type { Logger } from '../core/logger.ts'
import { type DlqRecord, dlqKey } from './dlq-record.ts'
import { ingestMetrics } from './metrics.ts'
import { BatchAbandoned, type WriteControl, waitWithHeartbeat } from './write-control.ts'

// Another producer with the same transactional id started: another instance owns the partition.
const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'TRANSACTION_COORDINATOR_FENCED', 'PRODUCER_FENCED'])

/**
 * Dead-letter records of a batch and the batch's offset commit, in one Kafka transaction: either
 * both are visible or neither, so a crash between them can neither lose a reject nor (on the
 * re-run of the batch) dead-letter it twice. Readers of the dead-letter topic must read committed
 * records only (kafkajs does by default; Java clients need `isolation.level=read_committed`).
 *
 * One transactional producer per source partition, its id derived from group, topic and
 * partition: when a partition moves to another instance, the new owner opens its producer at once
 * (`claimPartitions`), which fences the old one (Kafka Streams' "exactly-once alpha" scheme), so a
 * stalled former owner cannot commit late.
 */
export class DlqTransactions {
  readonly #kafka: Kafka
  readonly #config: SporConfig
  readonly #log: Logger
  readonly #producers = new Map<string, Promise<Producer>>()

  constructor(kafka: Kafka, config: SporConfig, log: Logger) {
    this.#kafka = kafka
    this.#config = config
    this.#log = log
  }

  /** Publishes the records and commits `nextOffset` for the partition, retrying Kafka trouble. */
  async publishAndCommit(
    source: { topic: string; partition: number },
    records: DlqRecord[],
    nextOffset: string,
    control: WriteControl,
  ): Promise<void> {
    const { dlqTopic, ingestGroup } = this.#config.kafka
    const messages = records.map((record) => ({
      key: dlqKey(record.origin),
      value: JSON.stringify(record),
      headers: { 'spor-reason': record.reason, 'spor-step': record.step },
    }))
    const id = transactionalId(ingestGroup, source.topic, source.partition)
    for (let attempt = 0; ; attempt++) {
      if (!control.shouldContinue()) throw new BatchAbandoned()
      let transaction: Transaction | undefined
      try {
        transaction = await (await this.#producer(id)).transaction()
        await transaction.send({ topic: dlqTopic, messages })
        await transaction.sendOffsets({
          consumerGroupId: ingestGroup,
          topics: [
            { topic: source.topic, partitions: [{ partition: source.partition, offset: nextOffset }] },
          ],
        })
        if (!control.shouldContinue()) {
          await transaction.abort()
          ingestMetrics.dlqTransactions.inc({ outcome: 'abandoned' })
          throw new BatchAbandoned()
        }
        await transaction.commit()
        ingestMetrics.dlqTransactions.inc({ outcome: 'committed' })
        return
      } catch (error) {
        if (error instanceof BatchAbandoned) throw error
        ingestMetrics.dlqTransactions.inc({ outcome: 'failed' })
        // A producer in an unknown state is replaced; the new one's initialisation aborts any
        // transaction the old one left open.
        if (transaction?.isActive()) await transaction.abort().catch(() => {})
        await this.#discard(id)
        const type = (error as { type?: string }).type ?? ''
        if (FENCED.has(type)) {
          // Rejoining the group (the consumer restarts) settles who owns the partition.
          throw new SporError('SPOR_ERR_KAFKA', `dead-letter producer ${id} was fenced by another instance`, {
            cause: error,
          })
        }
        this.#log.warn(
          { err: (error as Error).message, attempt: attempt + 1, partition: source.partition },
          'dead-letter transaction failed; retrying',
        )
        const { retryBaseMs: baseMs, retryMaxMs: maxMs } = this.#config.ingest
        await waitWithHeartbeat(backoffDelay({ baseMs, maxMs }, attempt), control)
      }
    }
  }

  /** Transactional producers currently open (one per owned partition). */
  get openProducers(): number {
    return this.#producers.size
  }

  /**
   * After a rebalance: closes the producers of partitions no longer owned and opens one for every
   * owned partition at once. Opening (InitProducerId) fences the former owner's producer and
   * aborts a transaction it left open, so a stalled former owner (a zombie that has not noticed
   * the rebalance yet) can no longer publish dead letters or commit offsets for the partition.
   * Opened lazily instead, the former owner stayed unfenced until this instance first had a dead
   * letter for the partition: kafkajs's TxnOffsetCommit carries no group generation (KIP-447), so
   * the epoch is the only fence.
   */
  async claimPartitions(topic: string, owned: readonly number[]): Promise<void> {
    const { ingestGroup } = this.#config.kafka
    const keep = new Set(owned.map((partition) => transactionalId(ingestGroup, topic, partition)))
    const revoked = [...this.#producers.keys()].filter((id) => !keep.has(id))
    await Promise.all([
      ...revoked.map((id) => this.#discard(id)),
      ...[...keep].map((id) => this.#producer(id)),
    ])
  }

  async close(): Promise<void> {
    const producers = [...this.#producers.values()]
    this.#producers.clear()
    await Promise.all(producers.map(async (p) => (await p).disconnect().catch(() => {})))
  }

  #producer(id: string): Promise<Producer> {
    let producer = this.#producers.get(id)
    if (!producer) {
      const opening = (async () => {
        const created = createProducer(this.#kafka, { transactionalId: id })
        try {
          await created.connect()
          // kafkajs sends the transactional InitProducerId with a producer's first transaction,
          // not on connect: an empty one (its abort sends nothing) fences the id's former owner now.
          await (await created.transaction()).abort()
          return created
        } catch (error) {
          // Connected but not initialised (coordinator loading, a broker restarting): closed
          // here, or every rebalance during such trouble would leave connected producers behind.
          await created.disconnect().catch(() => {})
          throw error
        }
      })()
      // A failed opening is not cached: the next attempt tries again (only this one is dropped,
      // not a newer producer opened for the id meanwhile).
      opening.catch(() => {
        if (this.#producers.get(id) === opening) this.#producers.delete(id)
      })
      this.#producers.set(id, opening)
      producer = opening
    }
    return producer
  }

  async #discard(id: string): Promise<void> {
    const producer = this.#producers.get(id)
    this.#producers.delete(id)
    await producer?.then((p) => p.disconnect()).catch(() => {})
  }
}

export function transactionalId(group: string, topic: string, partition: number): string {
  return `${group}.dlq.${topic}.${partition}`
}
