import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateTraffic } from '../generate/traffic.ts'
import type { IngestConsumer } from '../ingest/consumer.ts'
import { ingestMetrics } from '../ingest/metrics.ts'
import { produce, startIngest } from './helpers/ingest.ts'
import { PrivateElasticsearch, RESTART_TEST_TIMEOUT_MS } from './helpers/private-es.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

const all = [
  ...generateTraffic({ seed: 23, tenants: ['acme'], usersPerTenant: 40, days: 2, end: new Date() }),
]
const before = all.slice(0, Math.floor(all.length / 2))
const during = all.slice(before.length)

describe('ingest: Elasticsearch stopped for a while, then started', {
  timeout: RESTART_TEST_TIMEOUT_MS,
}, () => {
  const node = new PrivateElasticsearch('outage', 9211)
  let t: TestEnv
  let consumer: IngestConsumer

  beforeAll(async () => {
    await node.up()
    t = await createTestEnv('outage', { SPOR_ES_URL: node.url })
    consumer = await startIngest(t)
  })
  afterAll(async () => {
    await consumer?.stop()
    await t?.cleanup().catch(() => {})
    await node.remove()
  })

  async function committed(): Promise<number> {
    const admin = t.kafka.admin()
    await admin.connect()
    const [topic] = await admin.fetchOffsets({
      groupId: t.config.kafka.ingestGroup,
      topics: [t.config.kafka.eventsTopic],
    })
    await admin.disconnect()
    return topic!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0)
  }

  it('pauses without committing while the cluster is down and loses nothing', async () => {
    await produce(t, before)
    await waitFor(
      () => countDocs(t),
      (n) => n === before.length,
      { what: 'the first half' },
    )
    await waitFor(committed, (n) => n === before.length, { what: 'the first half committed' })

    const requestRetries = async () =>
      (await ingestMetrics.bulkRetries.get()).values.find((v) => v.labels.cause === 'request')?.value ?? 0
    const retriedBefore = await requestRetries()
    await node.down()
    await produce(t, during)
    // The consumer keeps retrying (seen in its retry counter, not assumed from a pause); nothing
    // may be committed for events that are not indexed.
    await waitFor(requestRetries, (n) => n >= retriedBefore + 3, { what: 'three failed bulk requests' })
    expect(await committed()).toBe(before.length)
    expect(consumer.state).toBe('running')

    await node.up()
    await waitFor(
      () => countDocs(t),
      (n) => n === all.length,
      { timeoutMs: 90_000, what: 'every event after restart' },
    )
    await waitFor(committed, (n) => n === all.length, { what: 'everything committed' })
    expect(await countDocs(t)).toBe(all.length)
  })
})
