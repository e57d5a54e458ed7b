import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readTopicToMarker } from './helpers/dlq.ts'
import { type ProxiedIngest, produce, startIngestThroughProxy, trafficWithPoison } from './helpers/ingest.ts'
import { committedOffsets, endOffsets, reached } from './helpers/offsets.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * A partition's next batch is written while the one before it is still out (consumer.ts): a
 * batch's request fails for good (400 for the whole request, not retried) after the batch
 * behind it was written. None of them may be committed; the consumer goes back to the
 * failed batch (restart within its budget), and once the fault is gone every event is indexed
 * once. The committed offset is sampled all along the fault, not only at its end.
 */
const { events, poisonAt: POISON_AT, poisonId } = trafficWithPoison(2424, 0.4)

describe('ingest: a batch fails for good after the next batch of its partition was written', () => {
  let t: TestEnv
  let ingest: ProxiedIngest | undefined
  let refusals = 0
  let open = false

  beforeAll(async () => {
    t = await createTestEnv('failbehind', {
      // One partition: offsets follow production order, so "past the failure" is a number.
      SPOR_KAFKA_PARTITIONS: '1',
      SPOR_BULK_MAX_BYTES: '8192',
      SPOR_MAX_RESTARTS: '50',
    })
    ingest = await startIngestThroughProxy(t, {
      request: (_n, items) => {
        if (open || !items.some((item) => item.id === poisonId)) return undefined
        refusals++
        // Refused late: meanwhile the partition's next batch is planned, written and ready to
        // commit, which it must not do before this one.
        return { kind: 'status', status: 400, afterMs: 1500 }
      },
    })
  })
  afterAll(async () => {
    open = true
    await ingest?.stop()
    await t?.cleanup()
  })

  it('commits nothing at or past the failed batch, goes back to it, and then indexes everything once', async () => {
    expect(events.length).toBeGreaterThan(300)
    // Small record batches: the partition is read as many fetches, each a batch of its own.
    await produce(t, events, { batchSize: 20 })
    const ends = await endOffsets(t)
    expect([...ends.values()]).toEqual([events.length])

    let highest = -1
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        const committed = (await committedOffsets(t)).get(0) ?? -1
        highest = Math.max(highest, committed)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    })()
    // Refused, re-read from the failed batch and refused again: the consumer went back each time
    // (or, wrongly, committed past it, and then never reads it again).
    await waitFor(
      async () => ({ refusals, docs: await countDocs(t), highest }),
      (s) => (s.refusals >= 2 && s.docs > 0) || s.highest > POISON_AT,
      // Each round: the late refusal, kafkajs's retries of the handler, a restart, a re-read.
      { what: 'the failing request refused twice after earlier ones were indexed', timeoutMs: 90_000 },
    )
    sampling = false
    await sampler
    expect(highest).toBeGreaterThan(0)
    expect(highest).toBeLessThanOrEqual(POISON_AT)
    expect((await committedOffsets(t)).get(0)).toBeLessThanOrEqual(POISON_AT)

    open = true
    await waitFor(
      () => committedOffsets(t),
      (c) => reached(c, ends),
      { what: 'everything committed once the fault is gone' },
    )
    expect(await countDocs(t)).toBe(events.length)
    expect(await readTopicToMarker(t.kafka, t.config.kafka.dlqTopic)).toEqual([])
    expect(ingest?.consumer.state).toBe('running')
  })
})
