import type { ITopicConfig, Kafka } from 'kafkajs'
import type { SporConfig } from '../core/config.ts'

export interface TopicReport {
  created: string[]
  updated: string[]
}

/**
 * Creates spor's topics, or brings their retention back into line. The events and dead-letter
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
      { name: 'cleanup.policy', value: 'delete' },
    ],
  }))
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    const missing = wanted.filter((t) => !existing.has(t.topic))
    if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: true })
    const present = wanted.filter((t) => existing.has(t.topic))
    if (present.length > 0) {
      await admin.alterConfigs({
        validateOnly: false,
        resources: present.map((t) => ({
          type: 2 /* TOPIC */,
          name: t.topic,
          configEntries: t.configEntries ?? [],
        })),
      })
    }
    return { created: missing.map((t) => t.topic), updated: present.map((t) => t.topic) }
  } finally {
    await admin.disconnect()
  }
}
