import type { Kafka } from 'kafkajs'
import type { SporConfig } from '../core/config.ts'
import { DAY_MS } from '../core/retention.ts'
import { repartitionTopic } from '../detect/topics.ts'

/**
 * Kafka holds personal data too: the events, dead-letter and detect repartition topics carry raw
 * IPs and user ids, so they may keep a record no longer than the short class allows; the alerts
 * topic no longer than the alerts class. (The repartition topic exists once `spor detect` ran.)
 *
 * Kafka deletes whole segments, once the newest record of a segment is older than `retention.ms`.
 * A segment spans up to `segment.ms` of records (it is rolled after that), and the broker looks
 * for deletable segments every `log.retention.check.interval.ms` (default 5 min). The oldest record
 * can therefore live `retention.ms + segment.ms + check interval`: that worst case is what must fit.
 */

export const BROKER_RETENTION_CHECK_MS = 5 * 60_000

export type TopicRole = 'events' | 'dlq' | 'repartition' | 'alerts'

export interface TopicRule {
  topic: string
  role: TopicRole
  maxMs: number
}

export interface TopicAuditEntry {
  topic: string
  role: TopicRole
  exists: boolean
  retentionMs: number | null
  segmentMs: number | null
  cleanupPolicy: string | null
  /** Longest a record can stay in the topic with these settings; null when unbounded. */
  worstCaseMs: number | null
  maxMs: number
  problems: string[]
}

export function topicRules(config: SporConfig): TopicRule[] {
  const { eventsTopic, dlqTopic, alertsTopic } = config.kafka
  const short = config.retentionDays.short * DAY_MS
  return [
    { topic: eventsTopic, role: 'events', maxMs: short },
    { topic: dlqTopic, role: 'dlq', maxMs: short },
    { topic: repartitionTopic(config), role: 'repartition', maxMs: short },
    { topic: alertsTopic, role: 'alerts', maxMs: config.retentionDays.alerts * DAY_MS },
  ]
}

function days(ms: number): string {
  return `${Number((ms / DAY_MS).toFixed(2))} d`
}

/** Pure: checks one topic's effective configuration (`undefined` map = topic does not exist). */
export function checkTopicConfig(
  rule: TopicRule,
  configs: Readonly<Record<string, string>> | undefined,
): TopicAuditEntry {
  const entry: TopicAuditEntry = {
    ...rule,
    exists: configs !== undefined,
    retentionMs: null,
    segmentMs: null,
    cleanupPolicy: null,
    worstCaseMs: null,
    problems: [],
  }
  if (!configs) return entry
  const retention = Number(configs['retention.ms'])
  const segment = Number(configs['segment.ms'])
  entry.retentionMs = Number.isFinite(retention) ? retention : null
  entry.segmentMs = Number.isFinite(segment) ? segment : null
  entry.cleanupPolicy = configs['cleanup.policy'] ?? null
  const limit = `the ${rule.role} topic may keep records at most ${days(rule.maxMs)}`
  if (entry.cleanupPolicy?.split(',').includes('compact')) {
    entry.problems.push(
      `cleanup.policy=${entry.cleanupPolicy} keeps the last record per key forever; ${limit}`,
    )
  }
  if (entry.retentionMs === null || entry.retentionMs < 0) {
    entry.problems.push(`retention.ms=${configs['retention.ms']} never deletes; ${limit}`)
    return entry
  }
  if (entry.retentionMs > rule.maxMs) {
    entry.problems.push(
      `retention.ms=${entry.retentionMs} (${days(entry.retentionMs)}) is longer than allowed; ${limit}`,
    )
    return entry
  }
  entry.worstCaseMs = entry.retentionMs + (entry.segmentMs ?? 0) + BROKER_RETENTION_CHECK_MS
  if (entry.worstCaseMs > rule.maxMs) {
    entry.problems.push(
      `retention.ms + segment.ms + check interval = ${days(entry.worstCaseMs)}: a record can outlive the limit; ${limit}`,
    )
  }
  return entry
}

/** Reads the effective topic configs (overrides and broker defaults) and checks each topic. */
export async function auditTopics(kafka: Kafka, config: SporConfig): Promise<TopicAuditEntry[]> {
  const rules = topicRules(config)
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = new Set(await admin.listTopics())
    const present = rules.filter((r) => existing.has(r.topic))
    const described =
      present.length === 0
        ? { resources: [] }
        : await admin.describeConfigs({
            includeSynonyms: false,
            resources: present.map((r) => ({
              type: 2 /* ConfigResourceTypes.TOPIC: kafkajs's CJS build hides the enum from ESM */,
              name: r.topic,
              configNames: ['retention.ms', 'segment.ms', 'cleanup.policy'],
            })),
          })
    const byTopic = new Map<string, Record<string, string>>()
    for (const resource of described.resources) {
      if (resource.errorCode !== 0) continue
      byTopic.set(
        resource.resourceName,
        Object.fromEntries(resource.configEntries.map((e) => [e.configName, e.configValue])),
      )
    }
    return rules.map((rule) => checkTopicConfig(rule, byTopic.get(rule.topic)))
  } finally {
    await admin.disconnect()
  }
}
