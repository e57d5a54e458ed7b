import type { Kafka } from 'kafkajs'
import type { SporConfig } from '../core/config.ts'
import { createTopicsReady, mergeTopicConfigs } from '../core/kafka.ts'
import { TOPIC_SEGMENT_MS } from '../ingest/topics.ts'

/** The internal topic carrying signals re-keyed by rule key (Kafka Streams' "-repartition" topic). */
export function repartitionTopic(config: SporConfig): string {
  return config.kafka.eventsTopic.replace(/\.events\.v1$/, '.detect.repartition.v1')
}

/** Consumer group of the rule stage; the repartition stage uses `config.kafka.detectGroup`. */
export function ruleStageGroup(config: SporConfig): string {
  return `${config.kafka.detectGroup}.rules`
}

/**
 * The repartition topic's settings. It holds IPs and user ids, so a record must be gone inside the
 * short class: Kafka deletes whole segments, so a record lives up to retention.ms + segment.ms
 * (+ the broker's check interval); rolling daily, as the events topic does, keeps the default
 * 15 days + 1 day inside 21 days (the broker's default 7-day segments would not).
 */
export function detectTopicConfigEntries(config: SporConfig): { name: string; value: string }[] {
  return [
    { name: 'retention.ms', value: String(config.detect.repartitionRetentionMs) },
    { name: 'segment.ms', value: String(TOPIC_SEGMENT_MS) },
    { name: 'cleanup.policy', value: 'delete' },
  ]
}

/**
 * Creates the repartition topic (same partition count as the events topic) or brings its
 * retention back in line (see `detectTopicConfigEntries`), keeping an operator's other settings.
 */
export async function ensureDetectTopics(kafka: Kafka, config: SporConfig): Promise<void> {
  const topic = repartitionTopic(config)
  const configEntries = detectTopicConfigEntries(config)
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    if (!existing.has(topic)) {
      await createTopicsReady(admin, [
        { topic, numPartitions: config.kafka.partitions, replicationFactor: -1, configEntries },
      ])
    } else {
      await mergeTopicConfigs(admin, [{ topic, configEntries }])
    }
  } finally {
    await admin.disconnect()
  }
}
