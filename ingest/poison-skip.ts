import type { Kafka } from 'kafkajs'
import { POISON_PAYLOAD_HEADER, type PoisonInfo } from '../core/codecs.ts'
import type { SporConfig } from '../core/config.ts'
import { SporError } from '../core/errors.ts'
import { createProducer } from '../core/kafka.ts'
import { poisonInfo } from '../core/poison.ts'
import { repartitionTopic, ruleStageGroup } from '../detect/topics.ts'
import { dlqKey, dlqRecord, type MessageOrigin } from './dlq-record.ts'

/** The consumers that can stop at a poison batch: their group and the topic they read. */
export const SKIPPABLE_CONSUMERS = ['ingest', 'detect', 'detect-rules'] as const
export type SkippableConsumer = (typeof SKIPPABLE_CONSUMERS)[number]

export function consumerGroupOf(
  config: SporConfig,
  consumer: SkippableConsumer,
): { groupId: string; topic: string } {
  switch (consumer) {
    case 'ingest':
      return { groupId: config.kafka.ingestGroup, topic: config.kafka.eventsTopic }
    case 'detect':
      return { groupId: config.kafka.detectGroup, topic: config.kafka.eventsTopic }
    case 'detect-rules':
      return { groupId: ruleStageGroup(config), topic: repartitionTopic(config) }
  }
}

export interface SkipReport {
  groupId: string
  topic: string
  partition: number
  from: string
  to: string
  records: number
  codec: string
  error: string
}

/**
 * `spor ingest skip`: moves a stopped consumer group past the undecodable batch at
 * (partition, offset) — and only past that batch. Refused unless the group is stopped (no
 * members), its committed offset is exactly that batch's first offset (nothing before it is
 * lost, nothing after it skipped), and the batch there really cannot be decoded. The batch's
 * bytes and range go to the dead-letter topic first, then the offset moves: a skip is never
 * silent, and a crash between the two leaves a dead letter whose key (topic/partition/offset)
 * a second run repeats, rather than a skip without record.
 */
export async function skipPoisonBatch(
  kafka: Kafka,
  config: SporConfig,
  options: { consumer: SkippableConsumer; partition: number; offset: string; now?: Date },
): Promise<SkipReport> {
  const { groupId, topic } = consumerGroupOf(config, options.consumer)
  const { partition, offset } = options
  const admin = kafka.admin()
  await admin.connect()
  try {
    const { groups } = await admin.describeGroups([groupId])
    const members = groups[0]?.members.length ?? 0
    if (members > 0) {
      throw new SporError(
        'SPOR_ERR_BAD_REQUEST',
        `group ${groupId} has ${members} active member(s): stop every ${options.consumer} process first`,
      )
    }
    const committed = await committedOffset(kafka, groupId, topic, partition)
    if (committed !== offset) {
      throw new SporError(
        'SPOR_ERR_BAD_REQUEST',
        `group ${groupId} stands at offset ${committed} of ${topic} partition ${partition}, not ${offset}: skipping from ${offset} would lose or repeat the records between (use the offset from the SPOR_ERR_POISON_BATCH line)`,
      )
    }
    const batch = await readPoisonBatch(kafka, topic, partition, offset)
    const to = batch.info.lastOffset
    const origin: MessageOrigin = { topic, partition, offset, key: null, timestamp: String(Date.now()) }
    const record = {
      ...dlqRecord(
        origin,
        null,
        {
          reason: 'poison_batch',
          step: 'kafka_decode',
          detail: `skipped by an operator for group ${groupId}: ${batch.records} record(s) at offsets ${offset}..${to} in a ${batch.info.codec} batch that cannot be decoded: ${batch.info.error}`,
        },
        options.now ?? new Date(),
      ),
      // The compressed bytes as fetched: whoever fixes the producer can still recover them.
      payload: batch.payload?.toString('base64') ?? null,
      payload_encoding: 'base64' as const,
      skipped: { group: groupId, from: offset, to, records: batch.records, codec: batch.info.codec },
    }
    const producer = createProducer(kafka)
    await producer.connect()
    try {
      await producer.send({
        topic: config.kafka.dlqTopic,
        acks: -1,
        messages: [{ key: dlqKey(origin), value: JSON.stringify(record) }],
      })
    } finally {
      await producer.disconnect()
    }
    const next = (BigInt(to) + 1n).toString()
    await admin.setOffsets({ groupId, topic, partitions: [{ partition, offset: next }] })
    return {
      groupId,
      topic,
      partition,
      from: offset,
      to,
      records: batch.records,
      codec: batch.info.codec,
      error: batch.info.error,
    }
  } finally {
    await admin.disconnect()
  }
}

/** The group's committed offset, or the log start when it has committed none (it reads from the beginning). */
async function committedOffset(
  kafka: Kafka,
  groupId: string,
  topic: string,
  partition: number,
): Promise<string> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] })
    const committed = offsets?.partitions.find((p) => p.partition === partition)?.offset ?? '-1'
    if (committed !== '-1') return committed
    const low = (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === partition)
    if (!low) throw new SporError('SPOR_ERR_BAD_REQUEST', `${topic} has no partition ${partition}`)
    return low.low
  } finally {
    await admin.disconnect()
  }
}

/**
 * Reads the batch at (partition, offset) with a throwaway group that commits nothing, and
 * returns what its stand-in records say (core/codecs.ts). A batch that decodes is refused.
 */
async function readPoisonBatch(
  kafka: Kafka,
  topic: string,
  partition: number,
  offset: string,
  timeoutMs = 30_000,
): Promise<{ info: PoisonInfo; payload: Buffer | undefined; records: number }> {
  const probeGroup = `spor-skip-probe-${process.pid}-${Date.now()}`
  const probe = kafka.consumer({ groupId: probeGroup, retry: { retries: 2 } })
  await probe.connect()
  try {
    await probe.subscribe({ topics: [topic], fromBeginning: true })
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new SporError(
              'SPOR_ERR_UNAVAILABLE',
              `offset ${offset} of ${topic} partition ${partition} was not fetched within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      )
      const done = (outcome: () => void) => {
        clearTimeout(timer)
        outcome()
      }
      void probe
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            if (batch.partition !== partition) return
            const at = batch.messages.findIndex((m) => m.offset === offset)
            if (at < 0) return
            const info = poisonInfo(batch.messages[at]!)
            if (!info || info.baseOffset !== offset) {
              done(() =>
                reject(
                  new SporError(
                    'SPOR_ERR_BAD_REQUEST',
                    `offset ${offset} of ${topic} partition ${partition} ${info ? `is inside the undecodable batch ${info.baseOffset}..${info.lastOffset}, not its start` : 'decodes fine: nothing to skip'}`,
                  ),
                ),
              )
              return
            }
            const records = batch.messages
              .slice(at)
              .filter((m) => poisonInfo(m)?.baseOffset === offset).length
            const payload = batch.messages[at]!.headers?.[POISON_PAYLOAD_HEADER]
            done(() => resolve({ info, payload: Buffer.isBuffer(payload) ? payload : undefined, records }))
          },
        })
        .then(() => probe.seek({ topic, partition, offset }))
        .catch((error) => done(() => reject(error)))
    })
  } finally {
    await probe.disconnect()
    const admin = kafka.admin()
    await admin.connect()
    await admin.deleteGroups([probeGroup]).catch(() => {}) // it committed nothing; tidiness only
    await admin.disconnect()
  }
}
