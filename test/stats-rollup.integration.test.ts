import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { classIndex } from '../core/indices.ts'
import { generateTraffic, simulatedUsers } from '../generate/traffic.ts'
import { installIndexSetup } from '../ilm-policies/install.ts'
import { indexTemplate } from '../ilm-policies/templates.ts'
import { daysDue, rollupDays } from '../query/rollups/job.ts'
import { STATS_PROPERTIES } from '../query/rollups/mapping.ts'
import { COMPLETE_DIM, purgeRowsBelowK, statsIndex } from '../query/rollups/store.ts'
import { Hll, hashValue } from '../query/stats/hll.ts'
import { daysBetween } from '../query/stats/time.ts'
import {
  day,
  type IndexedEvent,
  indexEvents,
  ResponseLog,
  type StatsApp,
  startStatsApp,
} from './helpers/stats-data.ts'
import { countDocs, createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * Rollups keep statistics alive after the raw 21-day data is gone: numbers answered from raw
 * events before deletion equal those answered from rollups after it (noise included: it is
 * seeded by the cell's rows and sketch, identical on either path).
 */
const NOW = new Date('2026-11-25T18:00:00.000Z')
const OLD_END = new Date(NOW.getTime() - 24 * 86_400_000)
const OLD_FROM = day(OLD_END.getTime() - 3 * 86_400_000)
const OLD_TO = day(OLD_END)
const OLD_DAYS = daysBetween(OLD_FROM, OLD_TO)
const RECENT_FROM = day(NOW.getTime() - 2 * 86_400_000)
const TENANTS = ['acme', 'globex']
const OLD_TRAFFIC = { seed: 7, tenants: TENANTS, usersPerTenant: 40, days: 4, end: OLD_END }

let t: TestEnv
let s: StatsApp
let data: IndexedEvent[]
const responses = new ResponseLog()

const QUERIES = [
  `/v1/stats/summary?tenant=acme&from=${OLD_FROM}&to=${OLD_TO}`,
  `/v1/stats/summary?from=${OLD_FROM}&to=${OLD_TO}`,
  `/v1/stats/timeseries?tenant=acme&metric=users&interval=day&from=${OLD_FROM}&to=${OLD_TO}`,
  `/v1/stats/timeseries?metric=users&interval=week&from=${OLD_FROM}&to=${OLD_TO}`,
  `/v1/stats/timeseries?metric=sessions&interval=day&from=${OLD_FROM}&to=${OLD_TO}`,
  `/v1/stats/timeseries?metric=logins&interval=day&from=${OLD_FROM}&to=${OLD_TO}`,
  `/v1/stats/breakdown?by=module&from=${OLD_FROM}&to=${OLD_TO}`,
  `/v1/stats/breakdown?tenant=globex&by=browser&from=${OLD_FROM}&to=${OLD_TO}`,
  `/v1/stats/breakdown?by=country&module=crm&from=${OLD_FROM}&to=${OLD_TO}`,
  `/v1/stats/breakdown?by=hour&from=${OLD_FROM}&to=${OLD_TO}`,
  `/v1/stats/breakdown?by=weekday&from=${OLD_FROM}&to=${OLD_TO}`,
  `/v1/stats/breakdown?by=tenant&from=${OLD_FROM}&to=${OLD_TO}`,
]
const MIXED = `/v1/stats/summary?from=${OLD_FROM}&to=${day(NOW)}`

const answer = async (url: string, source?: string) => {
  const { status, body } = await responses.get(s.app, s.productKey, source ? `${url}&source=${source}` : url)
  expect(status, JSON.stringify(body)).toBe(200)
  const { sources, ...figures } = body
  return { sources, figures }
}

beforeAll(async () => {
  // No answer cache: these tests change the data between identical questions on purpose.
  t = await createTestEnv('rollup', { SPOR_STATS_NOISE_SD: '1', SPOR_STATS_CACHE_MS: '0' })
  data = await indexEvents(t, generateTraffic(OLD_TRAFFIC))
  data.push(...(await indexEvents(t, generateTraffic({ ...OLD_TRAFFIC, seed: 8, days: 3, end: NOW }))))
  s = await startStatsApp(t, NOW)
})

afterAll(async () => {
  await s?.app.close()
  await t?.cleanup()
})

it('answers from rollups with the same numbers after the raw indices are deleted', async () => {
  const before = []
  for (const url of QUERIES) before.push(await answer(url, 'raw'))
  const mixedBefore = await answer(MIXED, 'raw')
  expect(before[0]!.figures.users).toBeGreaterThan(5)

  const first = await rollupDays(t.es, t.config.es.indexPrefix, OLD_DAYS, NOW, t.config.query.kAnonymity)
  expect(first.map((r) => r.day)).toEqual(OLD_DAYS)
  const rowsAfterFirst = await countDocs(t, 'stats-*')
  expect(rowsAfterFirst).toBeGreaterThan(100)

  // Again through the CLI: idempotent (same ids, nothing added).
  const cli = spawnSync(
    process.execPath,
    [
      join(import.meta.dirname, '..', 'bin', 'spor.js'),
      'rollup',
      'run',
      '--from',
      OLD_FROM,
      '--to',
      OLD_TO,
      '--json',
    ],
    { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...t.env }, encoding: 'utf8' },
  )
  expect(cli.status, cli.stderr).toBe(0)
  expect(JSON.parse(cli.stdout).map((r: { day: string }) => r.day)).toEqual(OLD_DAYS)
  expect(await countDocs(t, 'stats-*')).toBe(rowsAfterFirst)

  // The raw data expires (deleted by exact name, as the retention enforcer does).
  const raw = OLD_DAYS.flatMap((d) => [
    classIndex(t.config.es.indexPrefix, 'short', new Date(d)),
    classIndex(t.config.es.indexPrefix, 'long', new Date(d)),
  ])
  await t.es.indices.delete({ index: raw, ignore_unavailable: true })
  expect(await countDocs(t, 'short-*', { range: { '@timestamp': { lte: `${OLD_TO}T23:59:59Z` } } })).toBe(0)

  // A rerun after expiry must not wipe the rollups it can no longer recompute.
  const rerun = await rollupDays(t.es, t.config.es.indexPrefix, OLD_DAYS, NOW, t.config.query.kAnonymity)
  expect(rerun.every((r) => r.skipped === 'no_raw_index')).toBe(true)
  expect(await countDocs(t, 'stats-*')).toBe(rowsAfterFirst)

  for (const [i, url] of QUERIES.entries()) {
    const after = await answer(url)
    // (a week query also covers empty days around the data: those have no rollup and no raw data)
    expect(after.sources.rollup, url).toBe(OLD_DAYS.length)
    expect(after.figures, url).toEqual(before[i]!.figures)
  }
  // A range across the seam: rollups for old days, raw events for recent ones, same total.
  const mixed = await answer(MIXED)
  expect(mixed.sources.rollup).toBe(OLD_DAYS.length)
  expect(mixed.figures).toEqual(mixedBefore.figures)
  const recent = await answer(`/v1/stats/summary?from=${RECENT_FROM}&to=${day(NOW)}`)
  expect(recent.sources).toEqual({ raw: 3, rollup: 0 })
})

it('no stored row describes fewer than k users, and no sketch holds fewer than k', async () => {
  const k = t.config.query.kAnonymity
  // The test can fail: the raw data has day groups below k (here: browsers of one tenant-day).
  const browserDays = new Map<string, Set<string>>()
  for (const x of data) {
    if (!x.index.includes('-short-') || !x.doc.user?.id || !x.doc.user_agent?.name) continue
    const row = `${day(x.doc['@timestamp'])}|${x.doc.organization.id}|${x.doc.user_agent.name}`
    browserDays.set(row, (browserDays.get(row) ?? new Set()).add(x.doc.user.id))
  }
  expect([...browserDays.values()].some((users) => users.size < k)).toBe(true)

  // A one-user row as an earlier version stored it, on a day whose raw data is gone: purged.
  const legacy = new Hll().add(hashValue('someone-pseudo'))
  await t.es.index({
    index: statsIndex(t.config.es.indexPrefix, OLD_FROM),
    id: 'legacy-one-user-row',
    refresh: true,
    document: {
      day: OLD_FROM,
      tenant: 'acme',
      module: '*',
      dim: 'browser',
      key: 'Lynx',
      events: 7,
      users_estimate: legacy.count(),
      users_sketch: legacy.serialize().toString('base64'),
      computed_at: NOW.toISOString(),
      v: 1,
    },
  })
  expect(await purgeRowsBelowK(t.es, t.config.es.indexPrefix, k)).toBe(1)
  expect(await purgeRowsBelowK(t.es, t.config.es.indexPrefix, k)).toBe(0)

  const stored = await t.es.search<{
    day: string
    tenant: string
    module: string
    dim: string
    key: string
    users_estimate: number
    users_sketch?: string
  }>({
    index: `${t.name}-stats-*`,
    size: 10_000,
    query: { bool: { must_not: { term: { dim: COMPLETE_DIM } } } },
  })
  expect(stored.hits.hits.length).toBeGreaterThan(100)
  for (const hit of stored.hits.hits) {
    const doc = hit._source!
    expect(doc.users_estimate, JSON.stringify(doc)).toBeGreaterThanOrEqual(k)
    expect(doc.users_sketch).toBeDefined()
    expect(Hll.deserialize(Buffer.from(doc.users_sketch!, 'base64')).count()).toBeGreaterThanOrEqual(k)
  }
  // Against the truth: the stored browser rows (all modules) of the rolled-up days are exactly
  // the day groups with at least k true users, each with its true number of users.
  const storedBrowsers = new Map(
    stored.hits.hits
      .map((hit) => hit._source!)
      .filter((doc) => doc.dim === 'browser' && doc.module === '*')
      .map((doc) => [`${doc.day}|${doc.tenant}|${doc.key}`, doc.users_estimate]),
  )
  const expectedBrowsers = new Map(
    [...browserDays]
      .filter(([row, users]) => OLD_DAYS.includes(row.slice(0, 10)) && users.size >= k)
      .map(([row, users]) => [row, users.size]),
  )
  expect(expectedBrowsers.size).toBeGreaterThan(0)
  expect(storedBrowsers).toEqual(expectedBrowsers)
})

it('rollup documents hold no identifiers', async () => {
  const stored = await t.es.search({ index: `${t.name}-stats-*`, size: 10_000 })
  const text = JSON.stringify(stored.hits.hits.map((h) => h._source))
  const users = simulatedUsers(OLD_TRAFFIC)
  const secrets = new Set<string>()
  for (const u of users)
    for (const v of [u.username, u.ip, ...u.devices.map((d) => d.deviceId)]) secrets.add(v)
  for (const x of data) {
    if (x.doc.user?.hash) secrets.add(x.doc.user.hash)
    if (x.doc.spor.session?.id) secrets.add(x.doc.spor.session.id)
  }
  for (const secret of secrets) expect(text.includes(secret), secret).toBe(false)
  for (const u of users) expect(text.includes(`"${u.user}"`)).toBe(false)
  for (const body of responses.bodies) for (const secret of secrets) expect(body.includes(secret)).toBe(false)
})

it('an older day is rolled up again when its raw data changed: late events, an erasure', async () => {
  // Days inside the raw retention but older than SPOR_STATS_RAW_DAYS, so due only when changed.
  const midEnd = new Date(NOW.getTime() - 8 * 86_400_000)
  const mid = { seed: 9, tenants: ['initech'], usersPerTenant: 30, days: 2, end: midEnd }
  const midData = await indexEvents(t, generateTraffic(mid))
  const midDays = [day(midEnd.getTime() - 86_400_000), day(midEnd)]
  const summary = `/v1/stats/summary?tenant=initech&from=${midDays[0]}&to=${midDays[1]}`
  const rollup = (days: string[]) =>
    rollupDays(t.es, t.config.es.indexPrefix, days, NOW, t.config.query.kAnonymity)

  const firstDue = await daysDue(t.es, t.config, NOW)
  expect(firstDue).toEqual(expect.arrayContaining(midDays))
  await rollup(firstDue)
  const rawDays = t.config.query.statsRawDays
  const recentDays = daysBetween(day(NOW.getTime() - rawDays * 86_400_000), day(NOW.getTime() - 86_400_000))
  expect(await daysDue(t.es, t.config, NOW)).toEqual(recentDays)

  // Late events for the first day (new users of the same tenant) arrive after its rollup.
  const late = await indexEvents(
    t,
    generateTraffic({
      ...mid,
      seed: 10,
      usersPerTenant: 8,
      days: 1,
      end: new Date(`${midDays[0]}T20:00:00Z`),
    }),
  )
  expect(late.length).toBeGreaterThan(0)
  expect(new Set(late.map((x) => day(x.event.ts)))).toEqual(new Set([midDays[0]]))
  expect(await daysDue(t.es, t.config, NOW)).toEqual([midDays[0], ...recentDays])

  // A person's events of the second day are erased.
  const erased = midData.find((x) => day(x.event.ts) === midDays[1] && x.event.user)!.event.user!
  const shortIndex = classIndex(t.config.es.indexPrefix, 'short', new Date(midDays[1]!))
  const theirs = await t.es.search({ index: shortIndex, size: 1000, query: { term: { 'user.id': erased } } })
  expect(theirs.hits.hits.length).toBeGreaterThan(0)
  await t.es.bulk({
    refresh: true,
    operations: theirs.hits.hits.map((hit) => ({ delete: { _index: shortIndex, _id: hit._id } })),
  })
  expect(await daysDue(t.es, t.config, NOW)).toEqual([...midDays, ...recentDays])

  // Stale rollups answer differently from the raw data; once rolled up again, identically.
  const raw = await answer(summary, 'raw')
  expect((await answer(summary, 'rollup')).figures).not.toEqual(raw.figures)
  await rollup(await daysDue(t.es, t.config, NOW))
  expect((await answer(summary, 'rollup')).figures).toEqual(raw.figures)
  expect(await daysDue(t.es, t.config, NOW)).toEqual(recentDays)
})

it('every accepted range answers: a 25-month summary and a 12-month monthly series from rollups, exact against the data', async () => {
  // Own prefix without noise, so figures equal the truth computed here from the generated events.
  const env = await createTestEnv('longrange', { SPOR_STATS_NOISE_SD: '0', SPOR_STATS_CACHE_MS: '0' })
  try {
    const k = env.config.query.kAnonymity
    // Data on 14 days spread over 25 months (the whole stats retention of 760 days).
    const offsets = [755, 700, 640, 560, 480, 400, 362, 330, 270, 200, 150, 90, 45, 24]
    const dataDays = offsets.map((o) => day(NOW.getTime() - o * 86_400_000))
    const docs: IndexedEvent[] = []
    for (const [i, d] of dataDays.entries()) {
      const end = new Date(`${d}T12:00:00Z`)
      docs.push(
        ...(await indexEvents(
          env,
          generateTraffic({ seed: 100 + i, tenants: ['acme'], usersPerTenant: 40, days: 1, end }),
        )),
      )
    }
    await rollupDays(env.es, env.config.es.indexPrefix, dataDays, NOW, k)
    const app = await startStatsApp(env, NOW)
    const get = async (url: string) => {
      const { status, body } = await responses.get(app.app, app.productKey, url)
      expect(status, JSON.stringify(body)).toBe(200)
      return body
    }
    // Truth: users of each day (a day's row counts only with >= k users), united over days.
    const usersOfDay = new Map<string, Set<string>>()
    for (const x of docs) {
      if (!x.index.includes('-short-') || !x.doc.user?.id) continue
      const d = day(x.doc['@timestamp'])
      usersOfDay.set(d, (usersOfDay.get(d) ?? new Set()).add(x.doc.user.id))
    }
    const kept = [...usersOfDay].filter(([, users]) => users.size >= k)
    expect(kept.length).toBeGreaterThanOrEqual(10)
    const union = (days: [string, Set<string>][]) => new Set(days.flatMap(([, users]) => [...users])).size

    const from25 = day(NOW.getTime() - 759 * 86_400_000)
    const summary = await get(`/v1/stats/summary?from=${from25}&to=${day(NOW)}`)
    // (every day with events has a rollup; a day the traffic left empty has neither)
    expect(summary.sources.rollup).toBe(usersOfDay.size)
    expect(summary.sources.raw).toBe(0)
    expect(summary.users).toBe(union(kept))

    const from12 = day(NOW.getTime() - 364 * 86_400_000)
    const monthly = await get(
      `/v1/stats/timeseries?metric=users&interval=month&from=${from12}&to=${day(NOW)}`,
    )
    expect(monthly.points.length).toBe(13) // 12 months and the partial current one, snapped
    for (const point of monthly.points) {
      const month = point.t.slice(0, 7)
      const inMonth = kept.filter(([d]) => d.startsWith(month))
      const expected = union(inMonth)
      expect(point.value, month).toBe(expected >= k ? expected : null)
    }
    expect(monthly.points.filter((p: { value: unknown }) => p.value !== null).length).toBeGreaterThanOrEqual(
      5,
    )

    const weekdays = await get(`/v1/stats/breakdown?by=weekday&from=${from25}&to=${day(NOW)}`)
    expect(weekdays.totalGroups).toBeGreaterThan(0)
    await app.app.close()
  } finally {
    await env.cleanup()
  }
})

it('setup adds fields introduced since to existing indices (strict mappings)', async () => {
  // A stats index as an earlier version made it: its template had no `source_events`. A year no
  // other test writes to, as stats indices are yearly.
  const index = statsIndex(t.config.es.indexPrefix, '2019-10-01')
  const { source_events: _added, ...older } = STATS_PROPERTIES
  const template = indexTemplate(t.config.es.indexPrefix, 'stats', { ilm: false })
  await t.es.indices.putIndexTemplate({
    ...template,
    template: { ...template.template, mappings: { dynamic: 'strict', properties: older } },
  })
  await t.es.indices.create({ index })
  const marker = {
    day: '2019-10-01',
    tenant: '_',
    module: '_',
    dim: COMPLETE_DIM,
    key: '_',
    source_events: 3,
  }
  await expect(t.es.index({ index, document: marker })).rejects.toThrow(/strict_dynamic_mapping_exception/)
  await installIndexSetup(t.es, t.config)
  await t.es.index({ index, document: marker, refresh: true })
  expect(await t.es.count({ index })).toEqual(expect.objectContaining({ count: 1 }))
})

it('days of the raw window come from their rollup while it is fresh, from raw events once a late event arrives', async () => {
  const url = `/v1/stats/summary?from=${RECENT_FROM}&to=${day(NOW)}`
  const raw = await answer(url, 'raw')
  // The schedule rolls up every day before today, the raw window included.
  const rolled = daysBetween(RECENT_FROM, day(NOW)).filter((d) => d < day(NOW))
  await rollupDays(t.es, t.config.es.indexPrefix, rolled, NOW, t.config.query.kAnonymity)
  const fresh = await answer(url)
  expect(fresh.sources).toEqual({ raw: 1, rollup: rolled.length })
  expect(fresh.figures).toEqual(raw.figures)

  // A late event for the first of those days: its rollup is stale, that day is read raw again.
  const sample = data.find((x) => day(x.event.ts) === RECENT_FROM)!
  await indexEvents(t, [{ ...sample.event, id: `${sample.event.id}-late` }])
  const stale = await answer(url)
  expect(stale.sources).toEqual({ raw: 2, rollup: rolled.length - 1 })
  expect(stale.figures).toEqual((await answer(url, 'raw')).figures)
})
