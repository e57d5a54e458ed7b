import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fixedClock } from '../core/clock.ts'
import { CALLER_CHECKS_SHARDS } from '../core/complete-reads.ts'
import { classIndex } from '../core/indices.ts'
import { DAY_MS, DEFAULT_RETENTION_DAYS } from '../core/retention.ts'
import { generateTraffic } from '../generate/traffic.ts'
import { enforceRetention } from '../ilm-policies/enforcer.ts'
import { PrivateElasticsearch } from './helpers/private-es.ts'
import { day, indexEvents, ResponseLog, type StatsApp, startStatsApp } from './helpers/stats-data.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * A daily index whose primary shard has not started (just created, or recovering after a node
 * restart): Elasticsearch answers searches and counts over the class pattern with 200, the other
 * shards' documents and `_shards.failed`. spor's reads wait a moment for it, then fail (503,
 * which its loops retry; the statistics route answers 502), so a statistic, a rollup or an alert
 * look-up is never computed from part of the data; once the shard has started the same request
 * answers as before. A node of the test's own: the unstarted shard turns the cluster red, which
 * the shared node must not be for the other test files.
 */
const NOW = new Date('2026-11-25T18:00:00.000Z')
const TRAFFIC = { seed: 7, tenants: ['acme'], usersPerTenant: 30, days: 4, end: NOW }
const FROM = day(NOW.getTime() - 3 * 86_400_000)
const TO = day(NOW)
const REQUIRE_NODE = 'index.routing.allocation.require._name'

describe('a search or count missing a shard fails instead of answering with part of the data', () => {
  const node = new PrivateElasticsearch('missing-shards', 9213)
  let t: TestEnv
  let s: StatsApp
  let unstarted: string
  const responses = new ResponseLog()
  /** An index whose primary may only go to a node that does not exist: it stays unassigned. */
  const createUnstarted = (index: string) =>
    t.es.indices.create({
      index,
      settings: { [REQUIRE_NODE]: 'no-such-node' },
      wait_for_active_shards: 0,
    })
  /** Lifts that requirement: the primary starts on this node. */
  const letStart = (index: string) => t.es.indices.putSettings({ index, settings: { [REQUIRE_NODE]: null } })
  const summary = () =>
    responses.get(s.app, s.productKey, `/v1/stats/summary?tenant=acme&from=${FROM}&to=${TO}`)

  beforeAll(async () => {
    await node.up()
    t = await createTestEnv('missingshards', {
      SPOR_ES_URL: node.url,
      SPOR_STATS_NOISE_SD: '0',
      SPOR_K_ANONYMITY: '5',
      // Every answer computed from Elasticsearch, none from the answer cache.
      SPOR_STATS_CACHE_MS: '0',
    })
    await indexEvents(t, generateTraffic(TRAFFIC))
    s = await startStatsApp(t, NOW)
    // The daily index of the day before the oldest event: in the pattern the statistics read.
    unstarted = classIndex(t.config.es.indexPrefix, 'short', new Date(NOW.getTime() - 5 * 86_400_000))
  })
  afterAll(async () => {
    await s?.app.close()
    await t?.cleanup().catch(() => {})
    await node.remove()
  })

  it('fails the read while one daily index has no started shard, and the full figures once it has', async () => {
    const complete = await summary()
    expect(complete.status, JSON.stringify(complete.body)).toBe(200)
    expect(complete.body.events).toBeGreaterThan(0)

    await createUnstarted(unstarted)
    const pattern = `${t.config.es.indexPrefix}-short-*`
    // What Elasticsearch itself answers: a 200 and one failed shard, left to the caller to notice.
    const partial = await t.es.count({ index: pattern }, { context: CALLER_CHECKS_SHARDS })
    expect(partial._shards.failed).toBe(1)
    expect(partial._shards.failures?.[0]?.reason.type).toBe('no_shard_available_action_exception')

    // Each read waits 5 s for the shard to start, then fails.
    for (const read of [
      () => t.es.count({ index: pattern }),
      () => t.es.search({ index: pattern, size: 0 }),
      () => t.es.msearch({ searches: [{ index: pattern }, { size: 0 }] }),
    ]) {
      await expect(read()).rejects.toMatchObject({
        statusCode: 503,
        message: expect.stringContaining(`no_shard_available_action_exception: null [${unstarted}][0]`),
      })
    }
    const during = await summary()
    // The statistics route's answer to a failed cluster read (retriable), instead of a 200.
    expect(during.status, JSON.stringify(during.body)).toBe(502)
    expect(during.body.code).toBe('SPOR_ERR_ES')

    await letStart(unstarted)
    await t.es.cluster.health({ index: unstarted, wait_for_status: 'yellow', timeout: '60s' })
    const after = await summary()
    expect(after.status).toBe(200)
    expect(after.body).toEqual(complete.body)
  })

  it('waits a moment for a shard that is starting: the read answers in full once it has', async () => {
    const pattern = `${t.config.es.indexPrefix}-short-*`
    const { count } = await t.es.count({ index: pattern })
    const starting = classIndex(t.config.es.indexPrefix, 'short', new Date(NOW.getTime() - 6 * 86_400_000))
    await createUnstarted(starting)
    let settled = false
    const read = t.es.count({ index: pattern }).finally(() => {
      settled = true
    })
    // Several 250 ms attempts have found the shard missing: the read is still waiting, not answered.
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(settled).toBe(false)
    await letStart(starting)
    const answer = await read
    expect(answer._shards.failed).toBe(0)
    expect(answer.count).toBe(count)
  })

  it('waits the same way when no shard of the read has started (a single index: a 503 of its own)', async () => {
    const prefix = t.config.es.indexPrefix
    const single = classIndex(prefix, 'short', new Date(NOW.getTime() - 7 * 86_400_000))
    await createUnstarted(single)
    // What Elasticsearch answers: the whole search fails with 503; inside a multi-search, that
    // search's answer is an error in a 200, with no hits to miss.
    await expect(t.es.count({ index: single }, { context: CALLER_CHECKS_SHARDS })).rejects.toMatchObject({
      statusCode: 503,
    })
    const inside = await t.es.msearch(
      { searches: [{ index: single }, { size: 0 }] },
      { context: CALLER_CHECKS_SHARDS },
    )
    expect(inside.responses[0]).toMatchObject({ status: 503 })

    let settled = 0
    const track = <T>(read: Promise<T>) => read.finally(() => settled++)
    const count = track(t.es.count({ index: single }))
    const search = track(t.es.search({ index: single, size: 0 }))
    const multi = track(t.es.msearch({ searches: [{ index: single }, { size: 0 }] }))
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(settled).toBe(0)
    await letStart(single)
    expect(await count).toMatchObject({ count: 0, _shards: { failed: 0 } })
    expect(await search).toMatchObject({ _shards: { failed: 0 } })
    expect((await multi).responses[0]).toMatchObject({ _shards: { failed: 0 } })
  })

  it('fails a multi-search one of whose searches found no started shard, naming it', async () => {
    const prefix = t.config.es.indexPrefix
    const red = classIndex(prefix, 'short', new Date(NOW.getTime() - 8 * 86_400_000))
    await createUnstarted(red)
    await expect(
      t.es.msearch({
        searches: [{ index: `${prefix}-short-*,-${red}` }, { size: 0 }, { index: red }, { size: 0 }],
      }),
    ).rejects.toMatchObject({
      statusCode: 503,
      message: expect.stringContaining(`no_shard_available_action_exception: null [${red}][0]`),
    })
    await t.es.indices.delete({ index: red })
  })

  it('retention sweeps the indices it can count and reports the one whose shard is missing', async () => {
    const prefix = t.config.es.indexPrefix
    // Past retention by five days, and inside it by three: both in the same monthly index.
    const expired = new Date(NOW.getTime() - (DEFAULT_RETENTION_DAYS.long + 5) * DAY_MS)
    const kept = new Date(NOW.getTime() - (DEFAULT_RETENTION_DAYS.long - 3) * DAY_MS)
    const swept = classIndex(prefix, 'long', expired)
    expect(classIndex(prefix, 'long', kept)).toBe(swept)
    const written = await t.es.bulk({
      refresh: true,
      operations: [expired, kept].flatMap((time, i) => [
        { index: { _index: swept, _id: `old-${i}` } },
        {
          '@timestamp': time.toISOString(),
          event: { id: `old-${i}`, action: 'job.start' },
          organization: { id: 'acme' },
        },
      ]),
    })
    expect(written.errors).toBe(false)
    // Another index due for a sweep, whose primary never starts.
    const red = classIndex(prefix, 'alerts', expired)
    await createUnstarted(red)

    const report = await enforceRetention(t.es, {
      prefix,
      retentionDays: DEFAULT_RETENTION_DAYS,
      clock: fixedClock(NOW.toISOString()),
      log: t.log,
    })
    expect(report.swept.map((x) => ({ index: x.index, deleted: x.deleted }))).toEqual([
      { index: swept, deleted: 1 },
    ])
    expect(report.failed).toEqual([{ index: red, cls: 'alerts', error: expect.stringContaining(red) }])
    expect((await t.es.count({ index: swept })).count).toBe(1)
    await t.es.indices.delete({ index: red })
  })
})
