import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readTopicToMarker } from './helpers/dlq.ts'
import { type ProxiedIngest, produce, startIngestThroughProxy, trafficWithPoison } from './helpers/ingest.ts'
import { committedOffsets, endOffsets, reached } from './helpers/offsets.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * A bulk request of one partition keeps failing while the partition's other requests succeed:
 * the committed offset must never pass the failing document, whatever the writer does with the
 * requests around it (sequential today, concurrent tomorrow). Checked on committed offsets, with
 * the failure proven ongoing (the proxy counts its refusals) rather than assumed from a wait.
 */
const { events, poisonAt: POISON_AT, poisonId } = trafficWithPoison(1818, 0.6)

describe('ingest: one failing bulk request among succeeding ones of the same partition', () => {
  let t: TestEnv
  let ingest: ProxiedIngest | undefined
  let release!: () => void
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  let refusals = 0
  let open = false

  beforeAll(async () => {
    t = await createTestEnv('partialbulk', {
      // One partition: offsets follow production order, so "past the failure" is a number.
      SPOR_KAFKA_PARTITIONS: '1',
      SPOR_BULK_MAX_BYTES: '8192',
      SPOR_RETRY_BASE_MS: '20',
      SPOR_RETRY_MAX_MS: '200',
    })
    void released.then(() => {
      open = true
    })
    ingest = await startIngestThroughProxy(t, {
      request: (_n, items) => {
        if (open || !items.some((item) => item.id === poisonId)) return undefined
        refusals++
        return { kind: 'status', status: 503 }
      },
    })
  })
  afterAll(async () => {
    release()
    await ingest?.stop()
    await t?.cleanup()
  })

  it('commits nothing at or past the failing document until it is indexed, then everything once', async () => {
    expect(events.length).toBeGreaterThan(100)
    await produce(t, events)
    const ends = await endOffsets(t)
    expect([...ends.values()]).toEqual([events.length])

    // The failure is ongoing (refused again and again) and earlier requests did succeed.
    await waitFor(
      async () => ({ refusals, docs: await countDocs(t) }),
      (s) => s.refusals >= 5 && s.docs > 0,
      { what: 'the poisoned request refused repeatedly after earlier ones were indexed' },
    )
    const held = await committedOffsets(t)
    expect(held.get(0)).toBeLessThanOrEqual(POISON_AT)
    expect(await countDocs(t)).toBeLessThan(events.length)
    // Another round of refusals later, the commit still has not moved past the failure.
    const seen = refusals
    await waitFor(
      async () => refusals,
      (n) => n >= seen + 3,
      { what: 'three more refusals' },
    )
    expect((await committedOffsets(t)).get(0)).toBeLessThanOrEqual(POISON_AT)

    release()
    await waitFor(
      () => committedOffsets(t),
      (c) => reached(c, ends),
      { what: 'everything committed once the request goes through' },
    )
    expect(await countDocs(t)).toBe(events.length)
    expect(await readTopicToMarker(t.kafka, t.config.kafka.dlqTopic)).toEqual([])
    expect(ingest?.consumer.state).toBe('running')
  })
})
