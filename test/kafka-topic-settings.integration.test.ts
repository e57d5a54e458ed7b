import type { Kafka } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../core/config.ts'
import { ensureDetectTopics, repartitionTopic } from '../detect/topics.ts'
import { ensureTopics } from '../ingest/topics.ts'
import { ensureTombstoneIndex, tombstoneIndex } from '../privacy/tombstones.ts'
import { createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

async function topicSettings(kafka: Kafka, topic: string): Promise<Record<string, string>> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2 /* TOPIC */, name: topic }],
    })
    return Object.fromEntries(resources[0]!.configEntries.map((e) => [e.configName, e.configValue]))
  } finally {
    await admin.disconnect()
  }
}

/**
 * The topic's settings once they include `expected`. A broker serves describeConfigs from its
 * metadata cache, which follows an alter a moment later (KRaft): a read right after a write can
 * still show the old value, so the test waits for the written state instead of reading once.
 */
async function settingsReach(
  kafka: Kafka,
  topic: string,
  expected: Record<string, string>,
): Promise<Record<string, string>> {
  return waitFor(
    () => topicSettings(kafka, topic),
    (settings) => Object.entries(expected).every(([name, value]) => settings[name] === value),
    { what: `${topic} settings ${JSON.stringify(expected)}` },
  )
}

/** An operator's setting, added the way `kafka-configs --alter --add-config` would (all others kept). */
async function operatorAdds(kafka: Kafka, topic: string, added: Record<string, string>): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: topic }],
    })
    const overrides = resources[0]!.configEntries
      .filter((e) => e.configSource === 1 /* TOPIC_CONFIG */)
      .map((e) => ({ name: e.configName, value: e.configValue }))
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: 2,
          name: topic,
          configEntries: [...overrides, ...Object.entries(added).map(([name, value]) => ({ name, value }))],
        },
      ],
    })
  } finally {
    await admin.disconnect()
  }
  // As on a real cluster, where the operator's change was made long before spor setup runs.
  await settingsReach(kafka, topic, added)
}

describe('topic settings are merged, not replaced', () => {
  let t: TestEnv

  beforeAll(async () => {
    t = await createTestEnv('topicset', { SPOR_ES_REPLICAS: '0-2' })
  })

  afterAll(async () => {
    await t?.cleanup()
  })

  it("an operator's min.insync.replicas and compression.type survive `spor setup`, which still sets spor's keys", async () => {
    const topic = t.config.kafka.eventsTopic
    await operatorAdds(t.kafka, topic, { 'min.insync.replicas': '1', 'compression.type': 'zstd' })
    // setup again with a shorter topic retention: spor's key changes, the operator's stay.
    const config = loadConfig({ ...t.env, SPOR_TOPIC_RETENTION_HOURS: '48' })
    const report = await ensureTopics(t.kafka, config)
    expect(report.updated.sort()).toEqual(
      [t.config.kafka.alertsTopic, t.config.kafka.dlqTopic, t.config.kafka.eventsTopic].sort(),
    )
    const settings = await settingsReach(t.kafka, topic, { 'retention.ms': String(48 * 3_600_000) })
    expect(settings).toMatchObject({
      'min.insync.replicas': '1',
      'compression.type': 'zstd',
      'retention.ms': String(48 * 3_600_000),
      'message.timestamp.type': 'LogAppendTime',
    })
    for (const other of [t.config.kafka.dlqTopic, t.config.kafka.alertsTopic])
      await settingsReach(t.kafka, other, { 'retention.ms': String(48 * 3_600_000) })
    // Nothing to change: nothing rewritten.
    expect((await ensureTopics(t.kafka, config)).updated).toEqual([])
  })

  it('the detect repartition topic keeps an operator setting too', async () => {
    await ensureDetectTopics(t.kafka, t.config)
    const topic = repartitionTopic(t.config)
    await operatorAdds(t.kafka, topic, { 'min.insync.replicas': '1' })
    await ensureDetectTopics(
      t.kafka,
      loadConfig({
        ...t.env,
        SPOR_DETECT_REPARTITION_RETENTION_HOURS: '100',
        SPOR_DETECT_LOOKBACK_HOURS: '72',
      }),
    )
    const settings = await settingsReach(t.kafka, topic, { 'retention.ms': String(100 * 3_600_000) })
    expect(settings).toMatchObject({ 'min.insync.replicas': '1', 'retention.ms': String(100 * 3_600_000) })
  })

  it("index templates and spor's single indices take their replicas from SPOR_ES_REPLICAS", async () => {
    const { index_templates } = await t.es.indices.getIndexTemplate({ name: `${t.name}-*` })
    expect(index_templates.length).toBeGreaterThan(0)
    for (const { index_template } of index_templates) {
      expect(
        index_template.template?.settings?.index?.auto_expand_replicas ??
          index_template.template?.settings?.auto_expand_replicas,
      ).toBe('0-2')
    }
    await ensureTombstoneIndex(t.es, t.name)
    const settings = await t.es.indices.getSettings({ index: tombstoneIndex(t.name) })
    expect(Object.values(settings)[0]!.settings?.index?.auto_expand_replicas).toBe('0-2')
    // One node: auto-expansion keeps it green.
    const health = await t.es.cluster.health({ index: tombstoneIndex(t.name) })
    expect(health.status).toBe('green')
  })
})
