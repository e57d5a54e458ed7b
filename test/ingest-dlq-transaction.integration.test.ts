import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createProducer } from '../core/kafka.ts'
import { dlqKey, dlqRecord } from '../ingest/dlq-record.ts'
import { DlqTransactions, transactionalId } from '../ingest/dlq-transaction.ts'
import type { WriteControl } from '../ingest/write-control.ts'
import { readTopicToMarker } from './helpers/dlq.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * A batch's dead letters and its offset commit are one Kafka transaction. These tests stage the
 * moments a crash or a partition move can hit and check what a dead-letter reader then sees.
 */
describe('ingest: dead letters and the offset commit in one transaction', () => {
  let t: TestEnv
  const running: WriteControl = { shouldContinue: () => true, heartbeat: async () => {} }

  beforeAll(async () => {
    t = await createTestEnv('dlqtx')
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  const reject = (partition: number, offset: string) =>
    dlqRecord(
      {
        topic: t.config.kafka.eventsTopic,
        partition,
        offset,
        key: null,
        timestamp: new Date().toISOString(),
      },
      Buffer.from(`{"broken":${offset}`),
      { reason: 'invalid_json', detail: 'Unexpected end of JSON input', step: 'parse' },
      new Date(),
    )

  const committed = async (partition: number) => {
    const admin = t.kafka.admin()
    await admin.connect()
    try {
      const [topic] = await admin.fetchOffsets({
        groupId: t.config.kafka.ingestGroup,
        topics: [t.config.kafka.eventsTopic],
      })
      return topic!.partitions.find((p) => p.partition === partition)!.offset
    } finally {
      await admin.disconnect()
    }
  }

  it('a process that died mid-transaction leaves nothing behind, and its successor publishes once', async () => {
    const source = { topic: t.config.kafka.eventsTopic, partition: 0 }
    const record = reject(0, '41')
    // The first owner sent the dead letter in its transaction and died before committing.
    const dead = createProducer(t.kafka, {
      transactionalId: transactionalId(t.config.kafka.ingestGroup, source.topic, 0),
    })
    await dead.connect()
    const open = await dead.transaction()
    await open.send({
      topic: t.config.kafka.dlqTopic,
      messages: [{ key: dlqKey(record.origin), value: JSON.stringify(record) }],
    })

    // The batch is re-processed by the next owner of the partition.
    const successor = new DlqTransactions(t.kafka, t.config, t.log)
    try {
      await successor.publishAndCommit(source, [record], '42', running)
    } finally {
      await successor.close()
    }
    // The dead process comes back to life: it has been fenced and cannot commit late.
    // (INVALID_PRODUCER_EPOCH or PRODUCER_FENCED, by protocol version: both name the newer producer)
    await expect(open.commit()).rejects.toThrow(/newer producer/)
    await dead.disconnect()

    const letters = await readTopicToMarker(t.kafka, t.config.kafka.dlqTopic)
    expect(letters.map((r) => dlqKey(r.origin))).toEqual([dlqKey(record.origin)])
    expect(await committed(0)).toBe('42')
  })

  it('a batch abandoned mid-transaction (partition revoked) publishes nothing and commits nothing', async () => {
    const source = { topic: t.config.kafka.eventsTopic, partition: 1 }
    let checks = 0
    // Still owned when the transaction starts, revoked before it commits.
    const revoked: WriteControl = { shouldContinue: () => ++checks < 2, heartbeat: async () => {} }
    const dlq = new DlqTransactions(t.kafka, t.config, t.log)
    try {
      await expect(dlq.publishAndCommit(source, [reject(1, '7')], '8', revoked)).rejects.toThrow(/abandoned/)
      await dlq.publishAndCommit(source, [reject(1, '9')], '10', running)
    } finally {
      await dlq.close()
    }
    const letters = await readTopicToMarker(t.kafka, t.config.kafka.dlqTopic)
    expect(letters.filter((r) => r.origin.partition === 1).map((r) => r.origin.offset)).toEqual(['9'])
    expect(await committed(1)).toBe('10')
  })

  it('after a rebalance the producers of revoked partitions are closed and those of owned partitions opened', async () => {
    const topic = t.config.kafka.eventsTopic
    const dlq = new DlqTransactions(t.kafka, t.config, t.log)
    try {
      await dlq.publishAndCommit({ topic, partition: 0 }, [reject(0, '50')], '51', running)
      await dlq.publishAndCommit({ topic, partition: 1 }, [reject(1, '60')], '61', running)
      expect(dlq.openProducers).toBe(2)
      await dlq.claimPartitions(topic, [1])
      expect(dlq.openProducers).toBe(1)
      // Partition 0 comes back (and partition 2 arrives): their producers are opened at once.
      await dlq.claimPartitions(topic, [0, 1, 2])
      expect(dlq.openProducers).toBe(3)
      await dlq.publishAndCommit({ topic, partition: 0 }, [reject(0, '52')], '53', running)
    } finally {
      await dlq.close()
    }
    expect(dlq.openProducers).toBe(0)
    expect(await committed(0)).toBe('53')
    expect(await committed(1)).toBe('61')
  })

  it('a new owner fences the former owner as soon as it is assigned the partition, before any dead letter of its own', async () => {
    const topic = t.config.kafka.eventsTopic
    const record = reject(2, '70')
    // The former owner, stalled mid-transaction: dead letter sent, offsets added, not committed.
    const zombie = createProducer(t.kafka, {
      transactionalId: transactionalId(t.config.kafka.ingestGroup, topic, 2),
    })
    await zombie.connect()
    const open = await zombie.transaction()
    await open.send({
      topic: t.config.kafka.dlqTopic,
      messages: [{ key: dlqKey(record.origin), value: JSON.stringify(record) }],
    })
    await open.sendOffsets({
      consumerGroupId: t.config.kafka.ingestGroup,
      topics: [{ topic, partitions: [{ partition: 2, offset: '71' }] }],
    })
    const before = await committed(2)
    const owner = new DlqTransactions(t.kafka, t.config, t.log)
    try {
      await owner.claimPartitions(topic, [2])
      // The zombie wakes up: too late, its transaction was aborted and its epoch is old.
      await expect(open.commit()).rejects.toThrow(/newer producer/)
    } finally {
      await owner.close()
      await zombie.disconnect()
    }
    const letters = await readTopicToMarker(t.kafka, t.config.kafka.dlqTopic)
    expect(letters.filter((r) => r.origin.partition === 2)).toEqual([])
    expect(await committed(2)).toBe(before)
  })
})
