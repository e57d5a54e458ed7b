import { afterAll, beforeAll, expect, it } from 'vitest'
import { generateTraffic } from '../generate/traffic.ts'
import { rollupDays } from '../query/rollups/job.ts'
import { statsMetrics } from '../query/stats/metrics.ts'
import { RowCacheWarmUp } from '../query/stats/warm-up.ts'
import { day, indexEvents, startStatsApp } from './helpers/stats-data.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * A new `spor query` instance reads the dashboard's product-wide view into its row cache before
 * it reports ready (query/stats/warm-up.ts): the first viewer's asks then read no stored rows.
 */
const NOW = new Date('2026-11-25T18:00:00.000Z')
// Older than SPOR_STATS_RAW_DAYS (read from rollups), inside the default 30-day view.
const END = new Date(NOW.getTime() - 8 * 86_400_000)
const DAYS = [day(END.getTime() - 86_400_000), day(END)]

let t: TestEnv

beforeAll(async () => {
  t = await createTestEnv('warmup', { SPOR_STATS_CACHE_MS: '0', SPOR_STATS_WARM_UP_DAYS: '30' })
  await indexEvents(
    t,
    generateTraffic({ seed: 31, tenants: ['acme', 'globex'], usersPerTenant: 60, days: 2, end: END }),
  )
  await rollupDays(t.es, t.config.es.indexPrefix, DAYS, NOW, t.config.query.kAnonymity)
})

afterAll(async () => {
  await t?.cleanup()
})

async function lookups(): Promise<{ hit: number; miss: number }> {
  const values = (await statsMetrics.rowCacheLookups.get()).values
  const of = (outcome: string) => values.find((v) => v.labels.outcome === outcome)?.value ?? 0
  return { hit: of('hit'), miss: of('miss') }
}

async function instance(warmUp?: RowCacheWarmUp) {
  const { app, productKey } = await startStatsApp(t, NOW, warmUp ? { warmUp } : {})
  await app.ready()
  const ask = async (url: string) => {
    const response = await app.inject({ url, headers: { authorization: `Bearer ${productKey}` } })
    expect(response.statusCode, response.body).toBe(200)
    return response.json()
  }
  return { app, ask }
}

// The dashboard's first asks: no range given is the last 30 days.
const FIRST_VIEW = [
  '/v1/stats/summary',
  '/v1/stats/breakdown?by=browser&limit=12',
  '/v1/stats/timeseries?metric=users&interval=day',
]

it('is not settled while warming; once warm it is ready and the first view reads no stored rows', async () => {
  const warmUp = new RowCacheWarmUp()
  const { app, ask } = await instance(warmUp)
  const warming = warmUp.start(t.log)
  expect(warmUp.settled).toBe(false)
  await warming
  expect(warmUp.state).toBe('done')
  const ready = await app.inject({ url: '/ready' })
  expect(ready.statusCode).toBe(200)
  expect(ready.json()).toMatchObject({ ready: true, statsWarmUp: 'done' })

  const before = await lookups()
  for (const url of FIRST_VIEW) {
    const body = await ask(url)
    expect(body.sources.rollup).toBe(2)
  }
  const after = await lookups()
  expect(after.miss).toBe(before.miss)
  expect(after.hit).toBeGreaterThan(before.hit)
  await app.close()
})

it('without the warm-up the same first view misses the cache (what the warm-up saves)', async () => {
  const { app, ask } = await instance()
  const before = await lookups()
  for (const url of FIRST_VIEW) await ask(url)
  expect((await lookups()).miss).toBeGreaterThan(before.miss)
  await app.close()
})

it('a warm-up that cannot read fails soft: the instance is ready and answers cold', async () => {
  const warmUp = new RowCacheWarmUp()
  const { app, ask } = await instance(warmUp)
  // What the statistics routes bound, replaced by a read that fails as a lost cluster would.
  warmUp.bind(() => {
    throw new Error('connect ECONNREFUSED')
  }, 30)
  await warmUp.start(t.log)
  expect(warmUp.state).toBe('failed')
  expect((await app.inject({ url: '/ready' })).json()).toMatchObject({ ready: true, statsWarmUp: 'failed' })
  await ask(FIRST_VIEW[0]!)
  await app.close()
})
