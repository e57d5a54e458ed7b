import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SporEvent } from '../core/event-schema.ts'
import { classIndex } from '../core/indices.ts'
import type { IngestConsumer } from '../ingest/consumer.ts'
import { readTopicToMarker } from './helpers/dlq.ts'
import {
  clusterRefusals,
  firstEventThrough,
  produce,
  startIngest,
  waitForCommittedToEnd,
} from './helpers/ingest.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

const now = new Date()
const view = (id: string): SporEvent => ({
  v: 1,
  id,
  type: 'page.view',
  ts: now.toISOString(),
  tenant: 'acme',
  session: 's1',
  module: 'crm',
})

/**
 * A write block on the day's index (what a disk watermark or an operator sets) makes
 * Elasticsearch answer 403 for every document. Those events are not the documents' fault: the
 * batch must wait, uncommitted, and nothing may be dead-lettered.
 */
describe('ingest: the cluster refuses writes (403 cluster_block_exception)', () => {
  let t: TestEnv
  let consumer: IngestConsumer
  const index = () => classIndex(t.name, 'short', now)

  beforeAll(async () => {
    t = await createTestEnv('block')
    consumer = await startIngest(t)
  })
  afterAll(async () => {
    await consumer?.stop()
    await t?.es.indices
      .putSettings({ index: index(), settings: { 'index.blocks.write': false } })
      .catch(() => {})
    await t?.cleanup()
  })

  it('holds the batch while the index is blocked and indexes it once unblocked, with nothing in the DLQ', async () => {
    await produce(t, [view('before-block')])
    await firstEventThrough(t)

    const refusedBefore = await clusterRefusals()
    await t.es.indices.putSettings({ index: index(), settings: { 'index.blocks.write': true } })
    await produce(t, [view('blocked-1'), view('blocked-2')])
    // Evidence rather than a pause: the writer has been refused round after round.
    await waitFor(clusterRefusals, (n) => n >= refusedBefore + 3 * 2, {
      what: 'three refused rounds of both documents',
    })
    expect(await countDocs(t)).toBe(1)
    const admin = t.kafka.admin()
    await admin.connect()
    const [offsets] = await admin.fetchOffsets({
      groupId: t.config.kafka.ingestGroup,
      topics: [t.config.kafka.eventsTopic],
    })
    const ends = await admin.fetchTopicOffsets(t.config.kafka.eventsTopic)
    await admin.disconnect()
    const committed = offsets!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0)
    const produced = ends.reduce((sum, p) => sum + Number(p.high), 0)
    expect(committed).toBeLessThan(produced)

    await t.es.indices.putSettings({ index: index(), settings: { 'index.blocks.write': false } })
    await waitFor(
      () => countDocs(t),
      (n) => n === 3,
      { timeoutMs: 90_000, what: 'the held events' },
    )
    await waitForCommittedToEnd(t)
    expect(await readTopicToMarker(t.kafka, t.config.kafka.dlqTopic)).toEqual([])
  })
})
