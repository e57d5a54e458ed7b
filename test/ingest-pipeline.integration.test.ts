import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SporEvent } from '../core/event-schema.ts'
import { classOf, DEFAULT_EVENT_TYPES } from '../core/event-types.ts'
import { classIndex } from '../core/indices.ts'
import { generateTraffic } from '../generate/traffic.ts'
import type { IngestConsumer } from '../ingest/consumer.ts'
import { readTopic } from './helpers/dlq.ts'
import { produce, produceRaw, startIngest, waitForCommittedToEnd } from './helpers/ingest.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

const now = new Date()
const events: SporEvent[] = [
  ...generateTraffic({ seed: 7, tenants: ['acme', 'globex'], usersPerTenant: 12, days: 3, end: now }),
]
const expectedByClass = { short: 0, long: 0 }
for (const e of events) expectedByClass[classOf(DEFAULT_EVENT_TYPES, e.type)!]++

describe('ingest: Kafka → enrich → Elasticsearch', () => {
  let t: TestEnv
  let consumer: IngestConsumer

  beforeAll(async () => {
    t = await createTestEnv('ingest')
    consumer = await startIngest(t)
    await produce(t, events)
  })
  afterAll(async () => {
    await consumer?.stop()
    await t?.cleanup()
  })

  it('indexes every event once, into the daily index of its class and event date', async () => {
    await waitFor(
      () => countDocs(t),
      (n) => n === events.length,
      { what: `${events.length} documents` },
    )
    expect(await countDocs(t, 'short-*')).toBe(expectedByClass.short)
    expect(await countDocs(t, 'long-*')).toBe(expectedByClass.long)

    const sample = events.find((e) => e.type === 'session.login' && e.device?.ch?.platform === 'Android')!
    const index = classIndex(t.name, 'short', new Date(sample.ts))
    const doc = await t.es.get<Record<string, any>>({ index, id: `${sample.tenant}:${sample.id}` })
    expect(doc._source).toMatchObject({
      organization: { id: sample.tenant },
      user: { id: sample.user, name: sample.username },
      event: { action: 'session.login', kind: 'event', category: ['authentication', 'session'] },
      // The reduced UA says Android 10 / model K; the client hints say Android 14 on a Pixel 8.
      user_agent: {
        name: 'Chrome',
        version: '120.0.6099.144',
        os: { name: 'Android', version: '14' },
        device: { name: 'Pixel 8' },
      },
      source: { ip: sample.ip, geo: { country_iso_code: expect.stringMatching(/^[A-Z]{2}$/) } },
      spor: { device: { type: 'mobile' } },
    })
    expect(doc._source!.user.hash).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(doc._source!.spor.source.ip_prefix).toMatch(/\.0$|::$/)
  })

  it('a replay from the beginning (offsets reset) rewrites identical documents and keeps the count', async () => {
    // event.ingested is the broker's append time, so a reprocessed record yields the same document.
    const sample = events.slice(0, 300).map((e) => ({
      _index: classIndex(t.name, classOf(DEFAULT_EVENT_TYPES, e.type)!, new Date(e.ts)),
      _id: `${e.tenant}:${e.id}`,
    }))
    const read = async () =>
      (await t.es.mget<Record<string, unknown>>({ docs: sample })).docs.map((d) => {
        if (!('found' in d) || !d.found) throw new Error(`document ${d._id} not found`)
        return { source: d._source, version: d._version! }
      })
    const before = await read()
    await consumer.stop()
    const admin = t.kafka.admin()
    await admin.connect()
    const { ingestGroup: groupId, eventsTopic: topic } = t.config.kafka
    await admin.resetOffsets({ groupId, topic, earliest: true })
    // kafkajs commits the "earliest" sentinel (-2); the group then starts from the first message.
    const reset = await admin.fetchOffsets({ groupId, topics: [topic] })
    expect(reset[0]!.partitions.map((p) => p.offset)).toEqual(reset[0]!.partitions.map(() => '-2'))
    await admin.disconnect()
    consumer = await startIngest(t)
    // The replay is done when the group has committed up to the end of every partition.
    await waitForCommittedToEnd(t)
    expect(await countDocs(t)).toBe(events.length)
    const after = await read()
    expect(after.every((d, i) => d.version > before[i]!.version)).toBe(true)
    expect(after.map((d) => d.source)).toEqual(before.map((d) => d.source))
  })

  it('dead-letters each kind of bad input with its reason and goes on', async () => {
    const ok = (id: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        v: 1,
        id,
        type: 'page.view',
        ts: new Date().toISOString(),
        tenant: 'acme',
        session: 's',
        ...extra,
      })
    await produceRaw(t, [
      'this is not json',
      ok('wrong-types', { v: '1', user: 42 }),
      ok('unknown-type', { type: 'made.up' }),
      JSON.stringify({ v: 1, id: 'no-tenant', type: 'page.view', ts: new Date().toISOString() }),
      ok('oversized', { props: { blob: 'x'.repeat(250) }, padding: 'y'.repeat(40_000) }),
      ok('future', { ts: new Date(Date.now() + 86_400_000).toISOString() }),
      Buffer.from([0xff, 0xfe, 0x00]),
      null,
      ok('after-bad-input'),
    ])
    const records = await readTopic(t.kafka, t.config.kafka.dlqTopic, 8)
    const reasons = records.map((r) => r.reason).sort()
    expect(reasons).toEqual(
      [
        'empty_message',
        'invalid_json',
        'invalid_json',
        'oversized',
        'schema_violation',
        'schema_violation',
        'ts_in_future',
        'unknown_type',
      ].sort(),
    )
    const notJson = records.find((r) => r.payload === 'this is not json')!
    expect(notJson.origin.topic).toBe(t.config.kafka.eventsTopic)
    expect(notJson.detail).toMatch(/JSON/)
    expect(records.find((r) => r.payload_encoding === 'base64')?.reason).toBe('invalid_json')
    await waitFor(
      () => countDocs(t, 'short-*', { term: { 'event.id': 'after-bad-input' } }),
      (n) => n === 1,
      {
        what: 'the good event after the bad ones',
      },
    )
    expect(consumer.state).toBe('running')
  })
})
