import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SporError } from '../core/errors.ts'
import { createEsClient } from '../core/es.ts'
import { generateTraffic } from '../generate/traffic.ts'
import type { IngestConsumer } from '../ingest/consumer.ts'
import { skipPoisonBatch } from '../ingest/poison-skip.ts'
import { type EsFaultProxy, startEsFaultProxy } from './helpers/es-fault-proxy.ts'
import { startIngest } from './helpers/ingest.ts'
import { produceWithRottedSnappyBatch } from './helpers/kafka-log.ts'
import { committedOffsets } from './helpers/offsets.ts'
import { countDocs, createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * The undecodable batch is the first of its fetch (the fetch before it ended just before it), and
 * the batch before it is still being written (pipelined: its handler has returned). kafkajs stops
 * the consumer as soon as the poison is seen; the batch before must still be committed, or the
 * group stands before it and the skip command of the report is refused.
 */
describe('a poison batch that starts a fetch, behind a batch still being written', () => {
  let t: TestEnv
  let proxy: EsFaultProxy
  let ingest: IngestConsumer
  const before: string[] = []

  beforeAll(async () => {
    // Fetches of about 1 KiB a partition: the gzip batch (~0.9 KiB) fills one, the snappy one is the next.
    t = await createTestEnv('poisonpipe', {
      SPOR_KAFKA_PARTITIONS: '1',
      SPOR_MAX_EVENT_BYTES: '1024',
      SPOR_BULK_MAX_BYTES: '1024',
      SPOR_INGEST_MAX_INFLIGHT_BYTES: '4096',
    })
    const events = [
      ...generateTraffic({
        seed: 11,
        tenants: ['acme'],
        usersPerTenant: 30,
        days: 2,
        end: new Date(Date.now() - 86_400_000),
      }),
    ].slice(0, 20)
    expect(events).toHaveLength(20)
    before.push(...events.slice(0, 10).map((e) => e.id))
    await produceWithRottedSnappyBatch(t, [
      ['gzip', events.slice(0, 10)],
      ['snappy', events.slice(10, 20)],
    ])
    // Elasticsearch is slow: the gzip batch is still being written when the poison is fetched.
    proxy = await startEsFaultProxy(t.config.es.url, {
      request: (n) => (n === 0 ? { kind: 'delay', ms: 1500 } : undefined),
    })
  })

  afterAll(async () => {
    await ingest?.stop()
    await proxy?.close()
    await t?.cleanup()
  })

  it('commits the batch before it, so the reported skip is accepted', async () => {
    const es = createEsClient({ ...t.config, es: { ...t.config.es, url: proxy.url } })
    ingest = await startIngest(t, { es })
    const error = (await ingest.fatal) as SporError
    expect(error.code).toBe('SPOR_ERR_POISON_BATCH')
    expect(error.message).toContain(`${t.config.kafka.eventsTopic} partition 0 at offsets 10..19`)
    expect(await countDocs(t, undefined, { terms: { 'event.id': before } })).toBe(10)
    expect((await committedOffsets(t)).get(0)).toBe(10)
    await ingest.stop()
    await es.close()
    await expect(
      skipPoisonBatch(t.kafka, t.config, { consumer: 'ingest', partition: 0, offset: '10' }),
    ).resolves.toMatchObject({ from: '10', to: '19', records: 10 })
  })
})
