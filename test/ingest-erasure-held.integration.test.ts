import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SporEvent } from '../core/event-schema.ts'
import { classIndex } from '../core/indices.ts'
import { subjectResolver } from '../privacy/subject.ts'
import { writeTombstone } from '../privacy/tombstones.ts'
import { readTopicToMarker } from './helpers/dlq.ts'
import { clusterRefusals, firstEventThrough, produce, waitForCommittedToEnd } from './helpers/ingest.ts'
import { startIngestWithTombstones } from './helpers/privacy-fixture.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

const now = new Date()
const view = (id: string, user: string): SporEvent => ({
  v: 1,
  id,
  type: 'page.view',
  ts: now.toISOString(),
  tenant: 'acme',
  user,
  session: `s-${user}`,
  module: 'crm',
})

/**
 * A batch planned before a person was erased can be held by the writer's retries (here: a write
 * block on the day's index) for longer than erasure waits. Before each resend the writer checks
 * the tombstones again, so the erased person's documents are dropped, not written after the
 * erasure's sweeps have finished.
 */
describe('ingest: a subject erased while their batch is held', () => {
  let t: TestEnv
  let ingest: Awaited<ReturnType<typeof startIngestWithTombstones>> | undefined
  const index = () => classIndex(t.name, 'short', now)
  const byUser = (user: string) => ({ bool: { filter: [{ term: { 'user.id': user } }] } })

  beforeAll(async () => {
    t = await createTestEnv('heldErase', { SPOR_TOMBSTONE_REFRESH_MS: '1000' })
    ingest = await startIngestWithTombstones(t)
  })
  afterAll(async () => {
    await ingest?.stop()
    await t?.es.indices
      .putSettings({ index: index(), settings: { 'index.blocks.write': false } })
      .catch(() => {})
    await t?.cleanup()
  })

  it("drops the erased subject's held documents and writes the others", async () => {
    await produce(t, [view('first', 'other')])
    await firstEventThrough(t)

    const refusedBefore = await clusterRefusals()
    await t.es.indices.putSettings({ index: index(), settings: { 'index.blocks.write': true } })
    await produce(t, [view('gone-1', 'gone'), view('gone-2', 'gone'), view('other-2', 'other')])
    // Planned (the subject is not erased yet) and held by the block: all three documents refused
    // in two rounds already.
    await waitFor(clusterRefusals, (n) => n >= refusedBefore + 3 * 2, {
      what: 'two refused rounds of the batch',
    })
    expect(await countDocs(t)).toBe(1)

    const subject = subjectResolver(t.config)('acme', 'gone')
    await writeTombstone(t.es, t.config.es.indexPrefix, {
      hash: subject.hash,
      tenant: 'acme',
      erased_at: new Date().toISOString(),
      requested_by: 'test',
    })
    // The consumer's tombstone cache has loaded the erasure (its next resend checks it).
    await waitFor(
      async () => ingest!.isErased('acme', 'gone'),
      (erased) => erased,
      { what: 'the tombstone in the consumer cache' },
    )
    await t.es.indices.putSettings({ index: index(), settings: { 'index.blocks.write': false } })

    await waitFor(
      () => countDocs(t, 'short-*', byUser('other')),
      (n) => n === 2,
      { timeoutMs: 90_000, what: "the other user's held event" },
    )
    await waitForCommittedToEnd(t)
    expect(await countDocs(t, 'short-*', byUser('gone'))).toBe(0)
    expect(await readTopicToMarker(t.kafka, t.config.kafka.dlqTopic)).toEqual([])
  })
})
