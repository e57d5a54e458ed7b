import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fixedClock } from '../core/clock.ts'
import { loadConfig } from '../core/config.ts'
import type { EventDocument } from '../enrich/enrich-event.ts'
import { generateTraffic, simulatedUsers } from '../generate/traffic.ts'
import { buildQueryApp } from '../query/app.ts'
import { weekdayOf } from '../query/stats/time.ts'
import {
  day,
  distinct,
  type IndexedEvent,
  indexEvents,
  ResponseLog,
  type StatsApp,
  startStatsApp,
} from './helpers/stats-data.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * Statistics against counts computed independently from the generated events (noise off, so
 * figures must be exact), k-suppression, scope rules and an identifier scan of every response.
 */
const NOW = new Date('2026-11-25T18:00:00.000Z')
const K = 5
const TENANTS = ['acme', 'globex']
// 40 users a tenant: enough that some day rows (e.g. one module's functions) reach k.
const TRAFFIC = { seed: 41, tenants: TENANTS, usersPerTenant: 40, days: 10, end: NOW }
const FROM = day(NOW.getTime() - 9 * 86_400_000)
const TO = day(NOW)

let t: TestEnv
let s: StatsApp
let data: IndexedEvent[]
const responses = new ResponseLog()

const shortDocs = (tenant: string) =>
  data.filter((x) => x.index.includes('-short-') && x.doc.organization.id === tenant).map((x) => x.doc)

/** Expected users and events per group, computed straight from the documents. */
function expectedGroups(docs: EventDocument[], keyOf: (d: EventDocument) => string | undefined) {
  const groups = new Map<string, { users: Set<string>; events: number }>()
  for (const doc of docs) {
    const key = keyOf(doc)
    if (key === undefined) continue
    const g = groups.get(key) ?? { users: new Set<string>(), events: 0 }
    g.events++
    if (doc.user?.id) g.users.add(doc.user.id)
    groups.set(key, g)
  }
  return groups
}

/**
 * The documented per-day k rule (query/stats/DESIGN.md): a day row — day × tenant × module ×
 * dimension value — with fewer than K distinct users is neither stored nor used. Keeps the
 * documents whose day row survives; `rowKeyOf` names the row (undefined: in no row).
 */
function keptByDayRule(docs: EventDocument[], rowKeyOf: (d: EventDocument) => string | undefined) {
  const rowOf = (d: EventDocument) => {
    const key = rowKeyOf(d)
    return key === undefined ? undefined : `${day(d['@timestamp'])}|${key}`
  }
  const users = new Map<string, Set<string>>()
  for (const d of docs) {
    const row = rowOf(d)
    if (row === undefined) continue
    const set = users.get(row) ?? new Set<string>()
    if (d.user?.id) set.add(d.user.id)
    users.set(row, set)
  }
  return docs.filter((d) => {
    const row = rowOf(d)
    return row !== undefined && (users.get(row)?.size ?? 0) >= K
  })
}
const totalRow = () => 'all'

const get = (url: string, key = s.productKey) => responses.get(s.app, key, url)

beforeAll(async () => {
  t = await createTestEnv('stats', { SPOR_STATS_NOISE_SD: '0', SPOR_K_ANONYMITY: String(K) })
  data = await indexEvents(t, generateTraffic(TRAFFIC))
  s = await startStatsApp(t, NOW)
})

afterAll(async () => {
  await s?.app.close()
  await t?.cleanup()
})

describe('statistics equal independent counts', () => {
  it('summary: users, events, sessions, logins, failures, median session', async () => {
    const all = shortDocs('acme')
    const docs = keptByDayRule(all, totalRow)
    const { status, body } = await get(`/v1/stats/summary?tenant=acme&from=${FROM}&to=${TO}`)
    expect(status, JSON.stringify(body)).toBe(200)
    expect(body.sources).toEqual({ raw: 10, rollup: 0 })
    expect(body.users).toBe(distinct(docs.filter((d) => d.user?.id).map((d) => d.user?.id)))
    expect(body.events).toBe(docs.length)
    const sessionSpans = new Map<string, number[]>()
    for (const d of docs) {
      if (!d.spor.session) continue
      const id = `${day(d['@timestamp'])}|${d.spor.session.id}`
      const ts = Date.parse(d['@timestamp'])
      const span = sessionSpans.get(id) ?? [ts, ts]
      sessionSpans.set(id, [Math.min(span[0]!, ts), Math.max(span[1]!, ts)])
    }
    expect(body.sessions).toBe(sessionSpans.size)
    const durations = [...sessionSpans.values()].map(([a, b]) => (b! - a!) / 1000).sort((a, b) => a - b)
    const mid = durations.length / 2
    const median =
      durations.length % 2 ? durations[Math.floor(mid)]! : (durations[mid - 1]! + durations[mid]!) / 2
    expect(Math.abs(body.medianSessionSeconds - median)).toBeLessThanOrEqual(30)
    const byType = keptByDayRule(all, (d) => d.event.action)
    expect(body.logins).toBe(byType.filter((d) => d.event.action === 'session.login').length)
    const failures = byType.filter((d) => d.event.action === 'session.login_failed')
    // Failures of fewer than k people are a small group like any other: not shown.
    const failingUsers = distinct(failures.map((d) => d.user?.id))
    expect(body.loginFailures).toBe(failingUsers < K ? null : failures.length)
  })

  it.each(['day', 'week'] as const)(
    'active users per %s (DAU / WAU), small buckets suppressed',
    async (interval) => {
      const docs = keptByDayRule(shortDocs('globex'), totalRow).filter((d) => d.user?.id)
      const { body } = await get(
        `/v1/stats/timeseries?tenant=globex&metric=users&interval=${interval}&from=${FROM}&to=${TO}`,
      )
      expect(body.points.length).toBeGreaterThan(0)
      for (const point of body.points) {
        const start = Date.parse(point.t)
        const end = start + (interval === 'day' ? 1 : 7) * 86_400_000
        const users = distinct(
          docs
            .filter((d) => Date.parse(d['@timestamp']) >= start && Date.parse(d['@timestamp']) < end)
            .map((d) => d.user!.id),
        )
        if (users < K) expect(point).toEqual({ t: point.t, value: null, suppressed: true })
        else expect(point.value).toBe(users)
      }
      expect(body.points.some((p: { value: number | null }) => p.value !== null)).toBe(true)
    },
  )

  it('events per hour of the last day', async () => {
    const docs = keptByDayRule(shortDocs('acme'), (d) => d['@timestamp'].slice(11, 13))
    const { body } = await get(
      `/v1/stats/timeseries?tenant=acme&metric=events&interval=hour&from=${TO}&to=${TO}`,
    )
    expect(body.points).toHaveLength(24)
    for (const point of body.points) {
      const inHour = docs.filter((d) => d['@timestamp'].slice(0, 13) === point.t.slice(0, 13))
      if (distinct(inHour.filter((d) => d.user?.id).map((d) => d.user!.id)) < K)
        expect(point.value).toBeNull()
      else expect(point.value).toBe(inHour.length)
    }
  })

  const keyOf: Record<string, (d: EventDocument) => string | undefined> = {
    module: (d) => d.spor.module,
    function: (d) => d.spor.function,
    event_type: (d) => d.event.action,
    browser: (d) => d.user_agent?.name,
    browser_major: (d) =>
      d.user_agent?.name && d.spor.user_agent?.major
        ? `${d.user_agent.name} ${d.spor.user_agent.major}`
        : undefined,
    os: (d) => d.user_agent?.os?.name,
    device_type: (d) => d.spor.device?.type,
    device_vendor: (d) => d.device?.manufacturer,
    country: (d) => d.source?.geo?.country_iso_code,
    region: (d) =>
      d.source?.geo?.country_iso_code && d.source.geo.region_name
        ? `${d.source.geo.country_iso_code} ${d.source.geo.region_name}`
        : undefined,
    hour: (d) => d['@timestamp'].slice(11, 13),
    weekday: (d) => weekdayOf(day(d['@timestamp'])),
  }

  it.each(Object.keys(keyOf))('breakdown by %s: every shown group exact, none below k', async (by) => {
    // Weekday groups are made of each day's total row.
    const rowKeyOf = by === 'weekday' ? totalRow : keyOf[by]!
    const expected = expectedGroups(keptByDayRule(shortDocs('acme'), rowKeyOf), keyOf[by]!)
    const { status, body } = await get(
      `/v1/stats/breakdown?tenant=acme&by=${by}&from=${FROM}&to=${TO}&limit=100`,
    )
    expect(status).toBe(200)
    expect(body.groups.length + body.suppressedGroups).toBe(expected.size)
    for (const group of body.groups) {
      const want = expected.get(group.key)
      expect(want, `group ${group.key}`).toBeDefined()
      expect(want!.users.size).toBeGreaterThanOrEqual(K)
      expect({ key: group.key, users: group.users, events: group.events }).toEqual({
        key: group.key,
        users: want!.users.size,
        events: want!.events,
      })
    }
    if (body.other) expect(body.other.users).toBeGreaterThanOrEqual(K)
  })

  it('module filter: functions of one module only', async () => {
    const docs = keptByDayRule(
      shortDocs('acme').filter((d) => d.spor.module === 'crm'),
      (d) => d.spor.function,
    )
    const expected = expectedGroups(docs, (d) => d.spor.function)
    const { body } = await get(`/v1/stats/breakdown?tenant=acme&module=crm&by=function&from=${FROM}&to=${TO}`)
    expect(body.groups.length).toBeGreaterThan(0)
    for (const group of body.groups) expect(group.users).toBe(expected.get(group.key)!.users.size)
  })

  it('product-wide comparison across tenants', async () => {
    const { body } = await get(`/v1/stats/breakdown?by=tenant&from=${FROM}&to=${TO}`)
    expect(body.groups.map((g: { key: string }) => g.key).sort()).toEqual(TENANTS)
    for (const group of body.groups)
      expect(group.events).toBe(keptByDayRule(shortDocs(group.key), totalRow).length)
  })
})

describe('access and input limits', () => {
  it('a tenant key sees its own tenant, 404 for another, 403 for tenant comparison', async () => {
    const { key } = await s.tenantKey('acme')
    const own = await get(`/v1/stats/summary?from=${FROM}&to=${TO}`, key)
    expect(own.body.events).toBe(keptByDayRule(shortDocs('acme'), totalRow).length)
    const other = await get(`/v1/stats/summary?tenant=globex&from=${FROM}&to=${TO}`, key)
    expect(other.status).toBe(404)
    const unknown = await get(`/v1/stats/summary?tenant=nosuch&from=${FROM}&to=${TO}`, key)
    // The same answer apart from the random per-request id every error carries.
    const { requestId: _a, ...unknownBody } = unknown.body
    const { requestId: _b, ...otherBody } = other.body
    expect({ status: unknown.status, body: unknownBody }).toEqual({ status: 404, body: otherBody })
    expect((await get(`/v1/stats/breakdown?by=tenant&from=${FROM}&to=${TO}`, key)).status).toBe(403)
  })

  it('a revoked key is refused', async () => {
    const { key, id } = await s.tenantKey('globex')
    expect((await get(`/v1/stats/summary?from=${FROM}&to=${TO}`, key)).status).toBe(200)
    await s.keys.revoke(id)
    expect((await get(`/v1/stats/summary?from=${FROM}&to=${TO}`, key)).status).toBe(401)
    expect((await get(`/v1/stats/summary?from=${FROM}&to=${TO}`, 'spor_ak_nonsense')).status).toBe(401)
  })

  it.each([
    ['range too long', `/v1/stats/summary?from=2020-01-01&to=${TO}`, /at most/],
    ['reversed range', `/v1/stats/summary?from=${TO}&to=${FROM}`, /after/],
    ['bad date', `/v1/stats/summary?from=yesterday`, /from/],
    ['unknown breakdown', `/v1/stats/breakdown?by=user`, /by/],
    ['page size', `/v1/stats/breakdown?by=module&limit=1000`, /limit/],
    ['hourly over weeks', `/v1/stats/timeseries?interval=hour&from=2026-10-01&to=${TO}`, /14 days/],
    ['unknown parameter', `/v1/stats/summary?user=u0001`, /additional|user/],
  ])('%s → 400 with a clear message', async (_name, url, message) => {
    const { status, body } = await get(url)
    expect(status).toBe(400)
    expect(body.message).toMatch(message)
  })

  it('the per-key rate limit answers 429 once spent', async () => {
    const config = loadConfig({ ...t.env, SPOR_QUERY_RATE_LIMIT: '3', SPOR_STATS_NOISE_SD: '0' })
    const limited = await buildQueryApp({
      config,
      es: t.es,
      keys: s.keys,
      log: t.log,
      clock: fixedClock(NOW.toISOString()),
    })
    const statuses: number[] = []
    for (let i = 0; i < 4; i++)
      statuses.push(
        (await responses.get(limited, s.productKey, `/v1/stats/breakdown?by=os&from=${TO}&to=${TO}`)).status,
      )
    expect(statuses).toEqual([200, 200, 200, 429])
    await limited.close()
  })

  it('OpenAPI documents the statistics routes', async () => {
    const spec = (await s.app.inject({ url: '/docs/json' })).json()
    for (const path of ['/v1/stats/summary', '/v1/stats/timeseries', '/v1/stats/breakdown'])
      expect(spec.paths[path]?.get?.responses?.['200']).toBeDefined()
  })
})

afterAll(() => {
  // Runs before the cleanup hook above (vitest runs afterAll hooks in reverse order).
  const users = simulatedUsers(TRAFFIC)
  const secrets = new Set<string>()
  for (const u of users) {
    secrets.add(u.username)
    secrets.add(u.ip)
    for (const d of u.devices) secrets.add(d.deviceId)
  }
  for (const x of data ?? []) {
    if (x.doc.user?.hash) secrets.add(x.doc.user.hash)
    if (x.doc.spor.session?.id) secrets.add(x.doc.spor.session.id)
    if (x.doc.spor.device?.hash) secrets.add(x.doc.spor.device.hash)
  }
  const userIds = new Set(users.map((u) => u.user))
  expect(responses.bodies.length).toBeGreaterThan(20)
  for (const body of responses.bodies) {
    for (const secret of secrets) expect(body.includes(secret), `response leaks ${secret}`).toBe(false)
    for (const id of userIds) expect(body.includes(`"${id}"`), `response leaks user id ${id}`).toBe(false)
    expect(body).not.toMatch(/"(lat|lon|position|ip)"/)
  }
})
