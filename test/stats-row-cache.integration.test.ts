import { afterAll, beforeAll, expect, it } from 'vitest'
import { generateTraffic } from '../generate/traffic.ts'
import { eraseSubject } from '../privacy/erase.ts'
import { subjectResolver } from '../privacy/subject.ts'
import { daysDue, rollupDays } from '../query/rollups/job.ts'
import { type LoadOptions, loadRows } from '../query/stats/load-rows.ts'
import { RollupRowCache } from '../query/stats/row-cache.ts'
import { type DayRow, rowId } from '../query/stats/rows.ts'
import {
  day,
  type IndexedEvent,
  indexEvents,
  ResponseLog,
  type StatsApp,
  startStatsApp,
} from './helpers/stats-data.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * The cache of decoded rollup rows (query/stats/row-cache.ts) against the real Elasticsearch:
 * a repeated read is served from it, and a day rolled up again (after an erasure, or any rerun)
 * is read anew, so an erased person never comes back from the cache.
 */
const NOW = new Date('2026-11-25T18:00:00.000Z')
// Older than SPOR_STATS_RAW_DAYS (due only when their raw data changed), within raw retention.
const END = new Date(NOW.getTime() - 8 * 86_400_000)
const DAYS = [day(END.getTime() - 86_400_000), day(END)]
const TRAFFIC = { seed: 21, tenants: ['acme', 'globex'], usersPerTenant: 80, days: 2, end: END }

let t: TestEnv
let data: IndexedEvent[]
let s: StatsApp
const responses = new ResponseLog()

beforeAll(async () => {
  t = await createTestEnv('rowcache', {
    SPOR_STATS_CACHE_MS: '0',
    SPOR_TOMBSTONE_REFRESH_MS: '200',
    SPOR_ERASE_GRACE_MS: '200',
  })
  data = await indexEvents(t, generateTraffic(TRAFFIC))
  await rollupDays(t.es, t.config.es.indexPrefix, DAYS, NOW, t.config.query.kAnonymity)
  s = await startStatsApp(t, NOW)
})

afterAll(async () => {
  await s?.app.close()
  await t?.cleanup()
})

const options = (rowCache?: RollupRowCache): LoadOptions => ({
  es: t.es,
  prefix: t.config.es.indexPrefix,
  from: DAYS[0]!,
  to: DAYS[1]!,
  modules: '*',
  dims: ['total', 'browser'],
  source: 'rollup',
  rawDays: t.config.query.statsRawDays,
  now: NOW,
  k: t.config.query.kAnonymity,
  ...(rowCache ? { rowCache } : {}),
})

/** Rows as comparable values: identity, events, users estimate, sessions. */
const shape = (rows: DayRow[]) =>
  rows.map((row) => `${rowId(row)}=${row.events}/${row.users.count()}/${row.sessions ?? '-'}`).sort()

it('a repeated read comes from the cache and equals a read without it', async () => {
  const cache = new RollupRowCache(64 * 1024 * 1024)
  const uncached = await loadRows(options())
  expect(uncached.sources).toEqual({ raw: 0, rollup: 2 })
  expect(uncached.rows.filter((row) => row.dim === 'browser').length).toBeGreaterThan(4)

  const first = await loadRows(options(cache))
  // Two days (one miss each), two dimensions each, read once and cached (empty or not).
  expect(cache.stats()).toMatchObject({ hits: 0, misses: 2, entries: 4 })
  const second = await loadRows(options(cache))
  expect(cache.stats()).toMatchObject({ hits: 4, misses: 2, entries: 4 })
  expect(shape(first.rows)).toEqual(shape(uncached.rows))
  expect(shape(second.rows)).toEqual(shape(uncached.rows))
  expect(second.sources).toEqual(uncached.sources)

  // One dimension more: the days are read again (every requested dimension of a day, together).
  await loadRows({ ...options(cache), dims: ['total', 'browser', 'country'] })
  expect(cache.stats().entries).toBe(6)
})

it('a partly warm cache gives the rows in the order of a cold read (groups of equal size fold alike)', async () => {
  const cache = new RollupRowCache(64 * 1024 * 1024)
  // The second day is cached first; then both days are asked: one from the cache, one read.
  await loadRows({ ...options(cache), from: DAYS[1]!, to: DAYS[1]! })
  const partlyWarm = await loadRows(options(cache))
  expect(cache.stats()).toMatchObject({ hits: 2, misses: 2 })
  const cold = await loadRows(options())
  expect(partlyWarm.rows.map(rowId)).toEqual(cold.rows.map(rowId))
})

it('a day rolled up again is read anew: an erased person is not served from the cache', async () => {
  const cache = new RollupRowCache(64 * 1024 * 1024)
  const summary = `/v1/stats/summary?tenant=acme&from=${DAYS[0]}&to=${DAYS[1]}&source=rollup`
  const before = await loadRows(options(cache))
  const beforeAnswer = await responses.get(s.app, s.productKey, summary)
  expect(beforeAnswer.status).toBe(200)
  // The app's own cache now holds these days too; asked again, the same answer.
  expect((await responses.get(s.app, s.productKey, summary)).body).toEqual(beforeAnswer.body)

  // Erase one acme person with events on the second day (their raw events are deleted) …
  const person = data.find((x) => day(x.event.ts) === DAYS[1] && x.event.tenant === 'acme' && x.event.user)!
  const subject = subjectResolver(t.config)('acme', person.event.user!)
  await eraseSubject({ es: t.es, config: t.config, log: t.log, now: () => new Date() }, subject, {
    key: 'test',
  })
  // … the rollup job sees that day's raw count change and rolls it up again.
  const due = await daysDue(t.es, t.config, NOW)
  expect(due).toContain(DAYS[1])
  expect(due).not.toContain(DAYS[0])
  const { misses } = cache.stats()
  await rollupDays(t.es, t.config.es.indexPrefix, due, NOW, t.config.query.kAnonymity)

  const after = await loadRows(options(cache))
  // The first day still comes from the cache; the re-rolled one is read again.
  expect(cache.stats().misses).toBe(misses + 1)
  expect(shape(after.rows)).toEqual(shape((await loadRows(options())).rows))
  const acmeTotal = (rows: DayRow[]) =>
    rows.find((r) => r.day === DAYS[1] && r.tenant === 'acme' && r.dim === 'total')!
  expect(acmeTotal(after.rows).users.count()).toBe(acmeTotal(before.rows).users.count() - 1)

  // Through the app: the answer follows the re-rolled rows (same as a fresh instance's answer).
  const afterAnswer = await responses.get(s.app, s.productKey, summary)
  expect(afterAnswer.status).toBe(200)
  const fresh = await startStatsApp(t, NOW)
  try {
    expect(afterAnswer.body).toEqual((await responses.get(fresh.app, fresh.productKey, summary)).body)
  } finally {
    await fresh.app.close()
  }
  expect(afterAnswer.body).not.toEqual(beforeAnswer.body)
})

it('a rerun of a day with unchanged data still invalidates it (new marker)', async () => {
  const cache = new RollupRowCache(64 * 1024 * 1024)
  await loadRows(options(cache))
  await loadRows(options(cache))
  expect(cache.stats()).toMatchObject({ hits: 4, misses: 2 })
  await rollupDays(
    t.es,
    t.config.es.indexPrefix,
    [DAYS[0]!],
    new Date(NOW.getTime() + 1000),
    t.config.query.kAnonymity,
  )
  const again = await loadRows(options(cache))
  expect(cache.stats()).toMatchObject({ hits: 6, misses: 3 })
  expect(shape(again.rows)).toEqual(shape((await loadRows(options())).rows))
})

it('stays within its byte bound', async () => {
  const cache = new RollupRowCache(20_000)
  const read = await loadRows(options(cache))
  expect(read.rows.length).toBeGreaterThan(0)
  expect(cache.stats().bytes).toBeLessThanOrEqual(20_000)
  expect(shape((await loadRows(options(cache))).rows)).toEqual(shape(read.rows))
})

it('module=each is a module like any other (no data), not every module summed', async () => {
  const url = `/v1/stats/summary?module=each&from=${DAYS[0]}&to=${DAYS[1]}&source=rollup`
  const { status, body } = await responses.get(s.app, s.productKey, url)
  expect(status).toBe(200)
  expect(body).toMatchObject({ suppressed: true, users: null, events: null })
})
