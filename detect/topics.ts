import type { Kafka } from 'kafkajs'
import type { SporConfig } from '../core/config.ts'

/** The internal topic carrying signals re-keyed by rule key (Kafka Streams' "-repartition" topic). */
export function repartitionTopic(config: SporConfig): string {
  return config.kafka.eventsTopic.replace(/\.events\.v1$/, '.detect.repartition.v1')
}

/** Consumer group of the rule stage; the repartition stage uses `config.kafka.detectGroup`. */
export function ruleStageGroup(config: SporConfig): string {
  return `${config.kafka.detectGroup}.rules`
}

/**
 * Creates the repartition topic (same partition count as the events topic) or brings its
 * retention back in line: it holds IPs and user ids, so it stays inside the short class.
 */
export async function ensureDetectTopics(kafka: Kafka, config: SporConfig): Promise<void> {
  const topic = repartitionTopic(config)
  const configEntries = [
    { name: 'retention.ms', value: String(config.detect.repartitionRetentionMs) },
    { name: 'cleanup.policy', value: 'delete' },
  ]
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    if (!existing.has(topic)) {
      await admin.createTopics({
        topics: [{ topic, numPartitions: config.kafka.partitions, replicationFactor: -1, configEntries }],
        waitForLeaders: true,
      })
    } else {
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: topic, configEntries }] })
    }
  } finally {
    await admin.disconnect()
  }
}
