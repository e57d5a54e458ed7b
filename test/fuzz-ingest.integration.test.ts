import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createProducer } from '../core/kafka.ts'
import type { IngestConsumer } from '../ingest/consumer.ts'
import { readTopic } from './helpers/dlq.ts'
import { eventArb, mutatedEventArb } from './helpers/fuzz.ts'
import { startIngest, waitForCommittedToEnd } from './helpers/ingest.ts'
import { countDocs, createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * Kafka-side fuzz (issue 15): raw message bytes on the events topic, as any producer with write
 * access could send them — random bytes, invalid UTF-8, JSON of any shape, hostile objects,
 * oversized values, empty values, contract events with one field replaced, and valid events.
 * Through the real ingest consumer into the real Elasticsearch: every message ends indexed or
 * dead-lettered (none lost, none twice), and the consumer neither crashes nor stalls.
 */
const MESSAGES = Number(process.env.SPOR_FUZZ_RUNS ?? 400)

describe('fuzz: raw Kafka messages through ingest', () => {
  let t: TestEnv
  let ingest: IngestConsumer | undefined

  beforeAll(async () => {
    t = await createTestEnv('fuzzing', { SPOR_MAX_EVENT_BYTES: '4096' })
  })
  afterAll(async () => {
    await ingest?.stop()
    await t?.cleanup()
  })

  it('indexes or dead-letters every message, and keeps running', async () => {
    // Each valid-shaped event gets a unique id, so "indexed" is countable as documents.
    const valid = (i: number) =>
      eventArb('acme').map((e) => Buffer.from(JSON.stringify({ ...e, id: `fz-${i}` })))
    const mutated = (i: number) =>
      mutatedEventArb('acme').map((e) =>
        Buffer.from(JSON.stringify({ ...e, id: e.id === undefined ? undefined : `fz-${i}` })),
      )
    const message = (i: number): fc.Arbitrary<Buffer | null> =>
      fc.oneof(
        { weight: 3, arbitrary: valid(i) },
        { weight: 3, arbitrary: mutated(i) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
        { weight: 1, arbitrary: fc.json().map((j) => Buffer.from(j)) },
        { weight: 1, arbitrary: fc.anything().map((a) => Buffer.from(JSON.stringify(a) ?? 'undefined')) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            Buffer.from([0xff, 0xfe, 0x7b, 0x22]), // invalid UTF-8
            Buffer.from(`{"v":1,"id":"x","pad":"${'a'.repeat(5000)}"}`), // over SPOR_MAX_EVENT_BYTES
            Buffer.from('{"__proto__":{"admin":true},"v":1}'),
            Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`.slice(0, 4000)),
            Buffer.alloc(0),
            null,
          ),
        },
      )
    const values = Array.from(
      { length: MESSAGES },
      (_, i) => fc.sample(message(i), { seed: 15 + i, numRuns: 1 })[0]!,
    )
    const producer = createProducer(t.kafka)
    await producer.connect()
    await producer.send({
      topic: t.config.kafka.eventsTopic,
      acks: -1,
      messages: values.map((value, i) => ({ key: i % 7 === 0 ? null : `k${i % 13}`, value })),
    })
    ingest = await startIngest(t)
    await waitForCommittedToEnd(t)

    const docs = await countDocs(t)
    const expectedDlq = MESSAGES - docs
    const dlq = await readTopic(t.kafka, t.config.kafka.dlqTopic, expectedDlq, 60_000, 1_000)
    console.info(`ingest fuzz: ${MESSAGES} messages → ${docs} indexed, ${dlq.length} dead-lettered`)
    expect(docs).toBeGreaterThan(MESSAGES / 10)
    expect(dlq.length).toBe(expectedDlq)
    // Every dead-letter record names a reason and its origin offset; no offset twice.
    const offsets = dlq.map((r) => `${r.origin.partition}:${r.origin.offset}`)
    expect(new Set(offsets).size).toBe(offsets.length)
    for (const r of dlq) expect(r.reason).toMatch(/^[a-z_]+$/)

    // Still consuming: a valid event sent now is indexed.
    await producer.send({
      topic: t.config.kafka.eventsTopic,
      acks: -1,
      messages: [
        {
          key: 'acme:after',
          value: JSON.stringify({
            v: 1,
            id: 'after-fuzz',
            type: 'page.view',
            ts: new Date().toISOString(),
            tenant: 'acme',
          }),
        },
      ],
    })
    await producer.disconnect()
    await waitForCommittedToEnd(t)
    expect(await countDocs(t, 'short-*', { term: { 'event.id': 'after-fuzz' } })).toBe(1)
    expect(ingest.state).toBe('running')
  })
})
