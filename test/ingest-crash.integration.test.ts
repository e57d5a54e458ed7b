import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateTraffic } from '../generate/traffic.ts'
import { readTopic } from './helpers/dlq.ts'
import { produce, spawnIngest } from './helpers/ingest.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

// Every 40th event has a type spor does not know: most batches carry dead letters, so the kill
// can land between a batch's dead-letter records and its commit.
const all = [
  ...generateTraffic({
    seed: 11,
    tenants: ['acme', 'initech', 'umbrella'],
    usersPerTenant: 80,
    days: 14,
    end: new Date(),
  }),
].map((e, i) => (i % 40 === 7 ? { ...e, type: 'unknown.kind' } : e))
const events = all.filter((e) => e.type !== 'unknown.kind')
const rejected = all.filter((e) => e.type === 'unknown.kind')

describe('ingest: killed with SIGKILL mid-stream and restarted', () => {
  let t: TestEnv
  beforeAll(async () => {
    // A killed member is noticed after the session timeout; keep it short so the test is quick.
    // Small batches (about 50 events) so the kill lands between many commits, mid-stream.
    t = await createTestEnv('crash', { SPOR_KAFKA_SESSION_TIMEOUT_MS: '8000', SPOR_BULK_MAX_BYTES: '32768' })
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('indexes every event exactly once and dead-letters every reject exactly once', {
    timeout: 240_000,
  }, async () => {
    expect(events.length).toBeGreaterThan(10_000)
    expect(rejected.length).toBeGreaterThan(250)
    await produce(t, all)
    const first = spawnIngest(t)
    // Kill it while it is busy: some but not all documents are in.
    const seen = await waitFor(
      () => countDocs(t),
      (n) => n > 1_000,
      { intervalMs: 100, what: 'indexing to start' },
    )
    first.kill('SIGKILL')
    await new Promise((resolve) => first.once('exit', resolve))
    const afterKill = await countDocs(t)
    expect(afterKill).toBeGreaterThanOrEqual(seen)
    expect(afterKill).toBeLessThan(events.length)

    const second = spawnIngest(t)
    try {
      await waitFor(
        () => countDocs(t),
        (n) => n >= events.length,
        { timeoutMs: 120_000, what: `${events.length} documents` },
      )
      // Let the second consumer finish whatever it re-read; the count must not move past the total.
      await new Promise((r) => setTimeout(r, 2_000))
      expect(await countDocs(t)).toBe(events.length)
      // Every event is there under its deterministic id (none lost, none doubled).
      const ids = new Set<string>()
      const pit = await t.es.openPointInTime({
        index: [`${t.name}-short-*`, `${t.name}-long-*`],
        keep_alive: '1m',
      })
      let after: (string | number)[] | undefined
      for (;;) {
        const page = await t.es.search({
          pit: { id: pit.id, keep_alive: '1m' },
          size: 5_000,
          _source: false,
          sort: [{ '@timestamp': 'asc' }, { 'event.id': 'asc' }],
          ...(after ? { search_after: after } : {}),
        })
        if (page.hits.hits.length === 0) break
        for (const hit of page.hits.hits) ids.add(hit._id!)
        after = page.hits.hits.at(-1)!.sort as (string | number)[]
      }
      await t.es.closePointInTime({ id: pit.id })
      expect(ids.size).toBe(events.length)
      for (const e of events) expect(ids.has(`${e.tenant}:${e.id}`)).toBe(true)

      // The dead-letter topic, read as a consumer would (committed records only): each reject
      // once. Reads for a while past the expected count, so a repeat would be seen.
      const letters = await readTopic(t.kafka, t.config.kafka.dlqTopic, rejected.length, 60_000, 3_000)
      const keys = letters.map((r) => `${r.origin.partition}/${r.origin.offset}`)
      expect(new Set(keys).size).toBe(keys.length)
      expect(letters.map((r) => JSON.parse(r.payload!).id).sort()).toEqual(rejected.map((e) => e.id).sort())
      expect(letters.every((r) => r.reason === 'unknown_type')).toBe(true)
    } finally {
      second.kill('SIGTERM')
      await new Promise((resolve) => second.once('exit', resolve))
    }
  })
})
