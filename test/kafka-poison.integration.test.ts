import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SporError } from '../core/errors.ts'
import { poisonBatches } from '../core/poison.ts'
import { generateTraffic } from '../generate/traffic.ts'
import type { IngestConsumer } from '../ingest/consumer.ts'
import { skipPoisonBatch } from '../ingest/poison-skip.ts'
import { type DetectHandle, startDetect } from './helpers/detect.ts'
import { readTopic } from './helpers/dlq.ts'
import { startIngest } from './helpers/ingest.ts'
import { produceWithRottedSnappyBatch, XERIAL_MAGIC } from './helpers/kafka-log.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * A batch no consumer can decode: the Java client writes a snappy batch between a gzip and an lz4
 * one, then the snappy batch's first chunk length is damaged on the broker's disk (the broker
 * validates what producers send, so bit rot is how such a batch reaches consumers).
 */
describe('a poison batch', () => {
  let t: TestEnv
  let ingest: IngestConsumer
  let detect: DetectHandle
  const ids: Record<'before' | 'poison' | 'after', string[]> = { before: [], poison: [], after: [] }

  beforeAll(async () => {
    t = await createTestEnv('poison', { SPOR_KAFKA_PARTITIONS: '1', SPOR_MAX_RESTARTS: '50' })
    const events = [
      ...generateTraffic({
        seed: 5,
        tenants: ['acme'],
        usersPerTenant: 30,
        days: 2,
        end: new Date(Date.now() - 86_400_000),
      }),
    ].slice(0, 30)
    expect(events).toHaveLength(30)
    const parts = [
      ['before', 'gzip', events.slice(0, 10)],
      ['poison', 'snappy', events.slice(10, 20)],
      ['after', 'lz4', events.slice(20, 30)],
    ] as const
    for (const [part, , slice] of parts) ids[part] = slice.map((e) => e.id)
    await produceWithRottedSnappyBatch(
      t,
      parts.map(([, codec, slice]) => [codec, slice]),
    )
  })

  afterAll(async () => {
    await detect?.stop()
    await ingest?.stop()
    await t?.cleanup()
  })

  it('stops ingest and detect with SPOR_ERR_POISON_BATCH naming topic, partition and offsets, after the records before it', async () => {
    ingest = await startIngest(t)
    detect = await startDetect(t)
    const [ingestError, detectError] = (await Promise.all([
      ingest.fatal,
      detect.service.fatal,
    ])) as SporError[]
    for (const error of [ingestError!, detectError!]) {
      expect(error.code).toBe('SPOR_ERR_POISON_BATCH')
      expect(error.message).toContain(`${t.config.kafka.eventsTopic} partition 0 at offsets 10..19`)
      expect(error.message).toMatch(/snappy batch/)
    }
    expect(ingest.state).toBe('crashed')
    // The gzip batch before it is indexed; nothing of it or after it.
    expect(await countDocs(t, undefined, { terms: { 'event.id': ids.before } })).toBe(10)
    expect(await countDocs(t)).toBe(10)
    const metric = (await poisonBatches.get()).values.filter((v) => v.labels.codec === 'snappy')
    expect(metric.map((v) => v.labels.consumer).sort()).toEqual(['detect', 'ingest'])
  })

  it('skip refuses an offset that is not where the group stopped', async () => {
    await ingest.stop()
    await expect(
      skipPoisonBatch(t.kafka, t.config, { consumer: 'ingest', partition: 0, offset: '12' }),
    ).rejects.toThrow(/stands at offset 10 .* not 12/)
  })

  it('the documented skip moves the group on, the batch is in the DLQ, nothing else lost or repeated', async () => {
    const report = await skipPoisonBatch(t.kafka, t.config, {
      consumer: 'ingest',
      partition: 0,
      offset: '10',
    })
    expect(report).toMatchObject({ from: '10', to: '19', records: 10, codec: 'snappy' })
    ingest = await startIngest(t)
    await waitFor(
      () => countDocs(t),
      (n) => n >= 20,
      { what: 'the batch after the poison one indexed' },
    )
    expect(await countDocs(t, undefined, { terms: { 'event.id': ids.after } })).toBe(10)
    expect(await countDocs(t, undefined, { terms: { 'event.id': ids.poison } })).toBe(0)
    const dead = await readTopic<Record<string, unknown>>(t.kafka, t.config.kafka.dlqTopic, 1, 30_000, 2_000)
    expect(dead).toHaveLength(1)
    expect(dead[0]).toMatchObject({
      reason: 'poison_batch',
      origin: { topic: t.config.kafka.eventsTopic, partition: 0, offset: '10' },
      skipped: { group: t.config.kafka.ingestGroup, from: '10', to: '19', records: 10, codec: 'snappy' },
      payload_encoding: 'base64',
    })
    // The damaged bytes as fetched: still xerial snappy with the broken chunk length.
    const payload = Buffer.from(dead[0]!.payload as string, 'base64')
    expect(payload.subarray(0, 8).equals(XERIAL_MAGIC)).toBe(true)
    expect(await countDocs(t)).toBe(20)
    expect(ingest.state).toBe('running')
  })
})
