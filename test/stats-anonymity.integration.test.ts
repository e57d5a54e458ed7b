import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fixedClock } from '../core/clock.ts'
import { loadConfig } from '../core/config.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { KeyStore } from '../core/keys.ts'
import { buildQueryApp } from '../query/app.ts'
import { rollupDays } from '../query/rollups/job.ts'
import { daysBetween } from '../query/stats/time.ts'
import { day, indexEvents, ResponseLog } from './helpers/stats-data.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * The attacker's differencing pairs, run against two worlds that differ only in the targeted
 * person: in world A the victim exists (active only on the last day, using the rare module
 * "secretmod" that otherwise only one bystander uses), in world B not. Each pair is run under many noise secrets; the attacker's best
 * threshold rule must stay close to a coin toss, while the same rule without noise wins every
 * time (so the test can fail, and it is the defence that protects).
 */
const NOW = new Date('2026-11-25T18:00:00.000Z')
const DAYS = daysBetween(day(NOW.getTime() - 20 * 86_400_000), day(NOW.getTime() - 13 * 86_400_000))
const FIRST = DAYS[0]!
const LAST = DAYS.at(-1)!
const BEFORE_LAST = DAYS.at(-2)!
const SAMPLES = 40
const UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

function userDay(user: string, d: string, modules: string[], seq: { n: number }): SporEvent[] {
  const events: SporEvent[] = []
  let t = Date.parse(`${d}T09:00:00Z`) + (seq.n % 50) * 60_000
  const ev = (type: string, extra: Partial<SporEvent> = {}): SporEvent => {
    t += 90_000
    return {
      v: 1,
      id: `anon-test-${seq.n++}`,
      type,
      ts: new Date(t).toISOString(),
      tenant: 'acme',
      user,
      session: `s-${user}-${d}`,
      ip: '81.0.146.10',
      device: { ua: UA, deviceId: `dev-${user}` },
      ...extra,
    }
  }
  events.push(ev('session.login', { username: `${user}@acme.example` }))
  for (const module of modules)
    for (let i = 0; i < 3; i++) events.push(ev('feature.use', { module, function: 'x.use' }))
  events.push(ev('session.logout'))
  return events
}

function world(withVictim: boolean): SporEvent[] {
  const seq = { n: 0 }
  const events: SporEvent[] = []
  for (const d of DAYS)
    for (let u = 0; u < 12; u++)
      events.push(...userDay(`r${u}`, d, u % 2 ? ['crm', 'invoicing'] : ['invoicing', 'crm'], seq))
  // A bystander also uses the rare module on the last day in both worlds, so both worlds have a
  // hidden group: the question is what the attacker learns about the victim's part in it.
  events.push(...userDay('bystander', LAST, ['secretmod'], seq))
  if (withVictim) events.push(...userDay('victim', LAST, ['secretmod'], seq))
  return events
}

interface World {
  t: TestEnv
  productKey: string
}
let worlds: { a: World; b: World }
const responses = new ResponseLog()

async function setupWorld(label: string, withVictim: boolean): Promise<World> {
  const t = await createTestEnv(label)
  await indexEvents(t, world(withVictim))
  await rollupDays(t.es, t.config.es.indexPrefix, DAYS, NOW, t.config.query.kAnonymity)
  const keys = new KeyStore(t.es, t.config.es.indexPrefix, 0)
  const { key } = await keys.create({ kind: 'api', scope: 'product', name: 'attacker' })
  return { t, productKey: key }
}

/** `spor query` of a world whose noise secret is derived from `secret` (sd 0 = no noise). */
async function appFor(w: World, secret: string, noiseSd: number): Promise<FastifyInstance> {
  const config = loadConfig({
    ...w.t.env,
    SPOR_PSEUDONYM_KEY: `noise-secret-${secret}-0123456789abcdefghij`,
    SPOR_STATS_NOISE_SD: String(noiseSd),
  })
  const keys = new KeyStore(w.t.es, config.es.indexPrefix, 60_000)
  return buildQueryApp({ config, es: w.t.es, keys, log: w.t.log, clock: fixedClock(NOW.toISOString()) })
}

type Attack = (get: (url: string) => Promise<any>) => Promise<number>

/** "Users of the whole range" minus "users of the range without its last day". */
const timeRangePair: Attack = async (get) =>
  (await get(`/v1/stats/summary?tenant=acme&from=${FIRST}&to=${LAST}`)).users -
  (await get(`/v1/stats/summary?tenant=acme&from=${FIRST}&to=${BEFORE_LAST}`)).users

/**
 * The tenant's events minus every module part shown: what the dropped rare-module day rows (and
 * module-less events such as logins) hold — the victim's events are in the tenant total.
 */
const totalMinusPartsPair: Attack = async (get) => {
  const total = await get(`/v1/stats/summary?tenant=acme&from=${FIRST}&to=${LAST}`)
  const breakdown = await get(`/v1/stats/breakdown?tenant=acme&by=module&from=${FIRST}&to=${LAST}`)
  const parts =
    breakdown.groups.reduce((sum: number, g: { events: number }) => sum + g.events, 0) +
    (breakdown.other?.events ?? 0)
  return total.events - parts
}

/** The attacker's best threshold rule on the samples (optimistic for the attacker). */
function bestAccuracy(withVictim: number[], without: number[]): number {
  const thresholds = [...new Set([...withVictim, ...without])].map((x) => x + 0.5)
  let best = 0.5
  for (const th of [Number.NEGATIVE_INFINITY, ...thresholds]) {
    const correct = withVictim.filter((x) => x > th).length + without.filter((x) => x <= th).length
    best = Math.max(best, correct / (withVictim.length + without.length))
  }
  return best
}

async function runAttack(
  attack: Attack,
  noiseSd: number,
  samples: number,
): Promise<{ a: number[]; b: number[] }> {
  const out = { a: [] as number[], b: [] as number[] }
  for (let i = 0; i < samples; i++) {
    for (const side of ['a', 'b'] as const) {
      const w = worlds[side]
      const app = await appFor(w, String(i), noiseSd)
      const get = async (url: string) => (await responses.get(app, w.productKey, url)).body
      out[side].push(await attack(get))
      await app.close()
    }
  }
  return out
}

beforeAll(async () => {
  worlds = { a: await setupWorld('anona', true), b: await setupWorld('anonb', false) }
})

afterAll(async () => {
  await worlds?.a.t.cleanup()
  await worlds?.b.t.cleanup()
})

describe('differencing pairs', () => {
  it.each([
    ['two time ranges that differ by one new user', timeRangePair],
    ['the tenant total minus its visible module parts', totalMinusPartsPair],
  ])('%s: exact answers give the victim away, noisy ones do not', async (_name, attack) => {
    const exact = await runAttack(attack, 0, 1)
    expect(bestAccuracy(exact.a, exact.b)).toBe(1)
    expect(exact.a[0]).toBeGreaterThan(exact.b[0]!)

    const noisy = await runAttack(attack, 1, SAMPLES)
    const accuracy = bestAccuracy(noisy.a, noisy.b)
    if (process.env.SPOR_TEST_VERBOSE) console.info(_name, { accuracy, a: noisy.a, b: noisy.b })
    expect(accuracy).toBeLessThanOrEqual(0.8)
  })

  it('a module below k users on every day is dropped per day: both worlds look the same, even without noise', async () => {
    const breakdown = async (w: World) => {
      const app = await appFor(w, 'exact', 0)
      const url = `/v1/stats/breakdown?tenant=acme&by=module&from=${FIRST}&to=${LAST}`
      const body = (await responses.get(app, w.productKey, url)).body
      await app.close()
      return body
    }
    const a = await breakdown(worlds.a)
    expect(a.groups.map((g: { key: string }) => g.key).sort()).toEqual(['crm', 'invoicing'])
    expect(a.suppressedGroups).toBe(0)
    expect(a).toEqual(await breakdown(worlds.b))
  })

  it('the one-user module never appears, alone or filtered', async () => {
    const app = await appFor(worlds.a, 'x', 1)
    const get = async (url: string) => (await responses.get(app, worlds.a.productKey, url)).body
    const alone = await get(`/v1/stats/summary?tenant=acme&module=secretmod&from=${FIRST}&to=${LAST}`)
    expect(alone).toMatchObject({ suppressed: true, users: null, events: null, sessions: null })
    const byDay = await get(
      `/v1/stats/timeseries?tenant=acme&module=secretmod&metric=events&from=${FIRST}&to=${LAST}`,
    )
    expect(byDay.points.every((p: { value: unknown }) => p.value === null)).toBe(true)
    for (const by of ['module', 'function', 'browser', 'country', 'hour', 'weekday']) {
      const body = await get(`/v1/stats/breakdown?tenant=acme&by=${by}&from=${FIRST}&to=${LAST}`)
      for (const g of body.groups) expect(g.users).toBeGreaterThanOrEqual(5)
      expect(JSON.stringify(body)).not.toContain('secretmod')
    }
    await app.close()
  })

  it('noise is sticky: repeating a query returns the same numbers', async () => {
    const app = await appFor(worlds.a, 'sticky', 1)
    const url = `/v1/stats/breakdown?tenant=acme&by=module&from=${FIRST}&to=${LAST}`
    const first = (await responses.get(app, worlds.a.productKey, url)).body
    for (let i = 0; i < 5; i++)
      expect((await responses.get(app, worlds.a.productKey, url)).body).toEqual(first)
    await app.close()
  })

  it('snapped bounds: ranges inside the same weeks are the same query', async () => {
    const app = await appFor(worlds.a, 'snap', 1)
    const week = (from: string, to: string) =>
      responses.get(
        app,
        worlds.a.productKey,
        `/v1/stats/timeseries?tenant=acme&metric=users&interval=week&from=${from}&to=${to}`,
      )
    const a = await week(FIRST, LAST)
    const b = await week(DAYS[1]!, BEFORE_LAST)
    expect(a.body.range).toEqual(b.body.range)
    expect(a.body.points).toEqual(b.body.points)
    await app.close()
  })
})

afterAll(() => {
  for (const body of responses.bodies) {
    expect(body).not.toContain('victim')
    expect(body).not.toContain('bystander')
    expect(body).not.toContain('81.0.146.10')
    expect(body).not.toContain('dev-')
  }
})
