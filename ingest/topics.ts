import type { ITopicConfig, Kafka } from 'kafkajs'
import type { SporConfig } from '../core/config.ts'
import { createTopicsReady, mergeTopicConfigs } from '../core/kafka.ts'

export const TOPIC_SEGMENT_MS = 86_400_000

export interface TopicReport {
  created: string[]
  updated: string[]
}

/**
 * Creates spor's topics, or brings spor's settings on them back into line (other settings an
 * operator added are kept); `updated` lists the topics whose settings changed. The events and dead-letter
 * topics hold raw IPs and user ids, so their `retention.ms` stays inside the short class (S10).
 */
export async function ensureTopics(kafka: Kafka, config: SporConfig): Promise<TopicReport> {
  const { eventsTopic, dlqTopic, alertsTopic, partitions, topicRetentionMs } = config.kafka
  const retention = String(topicRetentionMs)
  const wanted: ITopicConfig[] = [eventsTopic, dlqTopic, alertsTopic].map((topic) => ({
    topic,
    numPartitions: partitions,
    replicationFactor: -1,
    configEntries: [
      { name: 'retention.ms', value: retention },
      // Kafka deletes whole segments: a record lives up to retention.ms + segment.ms. Rolling
      // daily keeps that worst case a day past retention.ms, still inside the short class.
      { name: 'segment.ms', value: String(TOPIC_SEGMENT_MS) },
      { name: 'cleanup.policy', value: 'delete' },
      // The broker's clock, not the producer's, dates each record: retention counts from arrival
      // (a producer cannot stretch it with a future timestamp), and ingest's received_at is
      // the same on every reprocessing of a record.
      { name: 'message.timestamp.type', value: 'LogAppendTime' },
    ],
  }))
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    const missing = wanted.filter((t) => !existing.has(t.topic))
    if (missing.length > 0) await createTopicsReady(admin, missing)
    const present = wanted.filter((t) => existing.has(t.topic))
    // Only spor's keys change; an operator's other settings stay (mergeTopicConfigs).
    const updated = await mergeTopicConfigs(
      admin,
      present.map((t) => ({ topic: t.topic, configEntries: t.configEntries ?? [] })),
    )
    return { created: missing.map((t) => t.topic), updated }
  } finally {
    await admin.disconnect()
  }
}
