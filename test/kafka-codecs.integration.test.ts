import { register } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../core/config.ts'
import { fetchExpansion } from '../core/fetch-sizing.ts'
import { createKafka, createProducer } from '../core/kafka.ts'
import { attackScenarios } from '../generate/attacks.ts'
import { partitionKey } from '../ingest/collector/app.ts'
import type { IngestConsumer } from '../ingest/consumer.ts'
import { type DetectHandle, startDetect, storedAlerts } from './helpers/detect.ts'
import { readTopic } from './helpers/dlq.ts'
import { startIngest } from './helpers/ingest.ts'
import { consumeWithJava, type JavaRecord, produceWithJava } from './helpers/java-producer.ts'
import { storedBatchCodecs } from './helpers/kafka-log.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const

/**
 * Batches from the official Java client with every compression.type it offers: ingest indexes
 * each exactly once and detect (both stages) raises the alert each batch holds.
 */
describe('every compression codec, produced by the Java client', () => {
  let t: TestEnv
  let ingest: IngestConsumer
  let detect: DetectHandle
  const idsByCodec = new Map<string, string[]>()

  beforeAll(async () => {
    t = await createTestEnv('codecs')
    ingest = await startIngest(t)
    detect = await startDetect(t)
    const records: JavaRecord[] = []
    for (const [i, codec] of CODECS.entries()) {
      // A seed per codec: event ids (and so documents) differ between the codecs' batches.
      const [brute] = attackScenarios({ seed: 7 + i, tenant: `c-${codec}`, end: new Date() })
      const events = brute!.events
      idsByCodec.set(
        codec,
        events.map((e) => e.id),
      )
      for (const event of events)
        records.push({ codec, key: partitionKey(event), value: JSON.stringify(event) })
    }
    await produceWithJava(t.config.kafka.brokers.join(','), t.config.kafka.eventsTopic, records)
  })

  afterAll(async () => {
    await detect?.stop()
    await ingest?.stop()
    await t?.cleanup()
  })

  it.each(CODECS)('%s: every event indexed exactly once', async (codec) => {
    const ids = idsByCodec.get(codec)!
    expect(ids.length).toBeGreaterThan(5)
    await waitFor(
      () => countDocs(t, undefined, { terms: { 'event.id': ids } }),
      (n) => n >= ids.length,
      { what: `${codec} events indexed` },
    )
    expect(await countDocs(t, undefined, { terms: { 'event.id': ids } })).toBe(ids.length)
  })

  it.each(CODECS)('%s: detect raises the brute-force alert from it', async (codec) => {
    const account = `bf-victim@c-${codec}.example`
    const alerts = await waitFor(
      () => storedAlerts(t),
      (all) => all.some((a) => a.rule === 'brute_force' && a.subject.value === account),
      { what: `${codec} alert`, timeoutMs: 90_000 },
    )
    expect(alerts.filter((a) => a.rule === 'brute_force' && a.subject.value === account)).toHaveLength(1)
  })

  it('ingest and detect both size their fetches in decoded bytes (core/fetch-sizing.ts)', async () => {
    // Registered groups only: a consumer sized in wire bytes alone has no expansion.
    expect(fetchExpansion(t.config.kafka.ingestGroup)).toBeGreaterThanOrEqual(1)
    expect(fetchExpansion(t.config.kafka.detectGroup)).toBeGreaterThanOrEqual(1)
    expect(fetchExpansion(`${t.config.kafka.ingestGroup}-never-created`)).toBeUndefined()
    // What an operator sees on /metrics: one series per group, the ratio its fetches are sized by.
    const series = (await register.getSingleMetric('spor_kafka_fetch_expansion')!.get()).values
    for (const group of [t.config.kafka.ingestGroup, t.config.kafka.detectGroup]) {
      const value = series.find((s) => s.labels.group === group)?.value
      expect({ group, value }).toEqual({ group, value: fetchExpansion(group) })
    }
  })

  it('nothing was dead-lettered and nothing duplicated', async () => {
    const total = [...idsByCodec.values()].reduce((n, ids) => n + ids.length, 0)
    expect(await countDocs(t)).toBe(total)
    // Everything expected is indexed: any dead letter would be in the topic by now.
    expect(await readTopic(t.kafka, t.config.kafka.dlqTopic, 1, 5_000)).toEqual([])
    expect(ingest.state).toBe('running')
  })
})

describe("spor's own producers with each compression setting", () => {
  let t: TestEnv

  beforeAll(async () => {
    t = await createTestEnv('prodcodec')
  })

  afterAll(async () => {
    await t?.cleanup()
  })

  it('gzip, snappy and lz4 batches from spor are read by the official Java client', async () => {
    const topic = t.config.kafka.alertsTopic
    const sent: string[] = []
    for (const codec of ['gzip', 'snappy', 'lz4'] as const) {
      const kafka = createKafka(loadConfig({ ...t.env, SPOR_KAFKA_COMPRESSION: codec }), t.log)
      const producer = createProducer(kafka)
      await producer.connect()
      const values = Array.from({ length: 40 }, (_, i) => JSON.stringify({ codec, i, pad: 'x'.repeat(200) }))
      await producer.send({ topic, acks: -1, messages: values.map((value) => ({ key: codec, value })) })
      await producer.disconnect()
      sent.push(...values)
    }
    const read = await consumeWithJava(t.config.kafka.brokers.join(','), topic, sent.length)
    expect(read.sort()).toEqual(sent.sort())
    // The broker stored them as sent: gzip (1), snappy (2) and lz4 (3) batches, nothing else.
    expect([...new Set(await storedBatchCodecs(t, topic))].sort()).toEqual([1, 2, 3])
  })
})
