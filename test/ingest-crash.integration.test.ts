import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateTraffic } from '../generate/traffic.ts'
import { readTopicToMarker } from './helpers/dlq.ts'
import { type EsFaultProxy, startEsFaultProxy } from './helpers/es-fault-proxy.ts'
import { produce, spawnIngest } from './helpers/ingest.ts'
import { committedOffsets, endOffsets, reached, sum } from './helpers/offsets.ts'
import { countDocs, createTestEnv, endOfYesterday, type TestEnv, waitFor } from './helpers/test-env.ts'

// Every 40th event has a type spor does not know: most batches carry dead letters, so the kill
// can land between a batch's dead-letter records and its commit.
const all = [
  ...generateTraffic({
    seed: 11,
    tenants: ['acme', 'initech', 'umbrella'],
    usersPerTenant: 80,
    days: 14,
    end: endOfYesterday(),
  }),
].map((e, i) => (i % 40 === 7 ? { ...e, type: 'unknown.kind' } : e))
const events = all.filter((e) => e.type !== 'unknown.kind')
const rejected = all.filter((e) => e.type === 'unknown.kind')

// The kill is placed, not timed: the fault proxy slows every bulk request a little (so the run
// cannot finish between two looks), the test waits until some batch is committed, then the proxy
// holds every later request, and the process dies with batches committed and a bulk request in
// flight, however fast or slow the machine is and however batches and requests line up.
const PASSED_REQUEST_DELAY_MS = 100

describe('ingest: killed with SIGKILL mid-stream and restarted', () => {
  let t: TestEnv
  let proxy: EsFaultProxy
  let holding = false
  let releaseHeld!: () => void
  const held = new Promise<void>((resolve) => {
    releaseHeld = resolve
  })
  beforeAll(async () => {
    // A killed member is noticed after the session timeout; keep it short so the test is quick.
    // Small batches (about 50 events) so the kill lands between many commits, mid-stream.
    t = await createTestEnv('crash', { SPOR_KAFKA_SESSION_TIMEOUT_MS: '8000', SPOR_BULK_MAX_BYTES: '32768' })
    proxy = await startEsFaultProxy(t.config.es.url, {
      request: () =>
        holding ? { kind: 'delay', until: held } : { kind: 'delay', ms: PASSED_REQUEST_DELAY_MS },
    })
  })
  afterAll(async () => {
    releaseHeld()
    await proxy?.close()
    await t?.cleanup()
  })

  it('indexes every event exactly once and dead-letters every reject exactly once', {
    timeout: 240_000,
  }, async () => {
    expect(events.length).toBeGreaterThan(10_000)
    expect(rejected.length).toBeGreaterThan(250)
    await produce(t, all)
    const ends = await endOffsets(t)
    const first = spawnIngest(t, { SPOR_ES_URL: proxy.url })
    // Kill it while it is busy: batches committed, and a bulk request held in the proxy.
    await waitFor(
      async () => sum(await committedOffsets(t)),
      (committed) => committed > 0,
      { intervalMs: 50, what: 'some batches committed' },
    )
    holding = true
    const requestsWhenHolding = proxy.ledger.bulkRequests
    await waitFor(
      async () => proxy.ledger.bulkRequests,
      (requests) => requests > requestsWhenHolding,
      { intervalMs: 50, what: 'a bulk request held' },
    )
    first.kill('SIGKILL')
    await new Promise((resolve) => first.once('exit', resolve))
    const afterKill = await countDocs(t)
    expect(afterKill).toBeGreaterThan(0)
    expect(afterKill).toBeLessThan(events.length)
    expect(sum(await committedOffsets(t))).toBeLessThan(all.length)
    // The held requests of the dead process now reach the cluster late, as a zombie's would.
    proxy.setPlan({})
    releaseHeld()

    const second = spawnIngest(t, { SPOR_ES_URL: proxy.url })
    try {
      // Done means every offset committed: nothing is left for the second consumer to write.
      await waitFor(
        () => committedOffsets(t),
        (c) => reached(c, ends),
        { timeoutMs: 120_000, what: 'every offset committed' },
      )
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

      // The dead-letter topic, read as a consumer would (committed records only) up to a marker
      // appended after the last commit: each reject once, and a repeat would be seen.
      const letters = await readTopicToMarker(t.kafka, t.config.kafka.dlqTopic)
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
