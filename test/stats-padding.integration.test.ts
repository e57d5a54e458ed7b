import type { estypes } from '@elastic/elasticsearch'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fixedClock } from '../core/clock.ts'
import { loadConfig } from '../core/config.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { KeyStore } from '../core/keys.ts'
import { seededRandom } from '../generate/random.ts'
import { buildQueryApp } from '../query/app.ts'
import { rollupDays } from '../query/rollups/job.ts'
import { EVENT_FIELDS } from '../query/stats/fields.ts'
import { countingRules } from '../query/stats/raw-rows.ts'
import { daysBetween } from '../query/stats/time.ts'
import { day, type IndexedEvent, indexEvents, ResponseLog, userDayMaker } from './helpers/stats-data.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * Issue 13 item 3: a browser (ingest) key is public, so its holder can post events for invented
 * users. The threshold oracle with padding: per target, k − 1 users invented through a browser
 * key use module `pm{i}` on day i, and the victim (a real user: logged in by the tenant's server,
 * browsing through the browser client) uses it too or not. "Is the cell shown?" then answers "is
 * the victim in it?" — unless users only a browser key reports do not count (raw-rows.ts
 * `attested users`). Events carry the origin the collector stamps (`client` | `server`).
 */
const NOW = new Date('2026-11-25T18:00:00.000Z')
const DAY_MS = 86_400_000
const DAYS = daysBetween(day(NOW.getTime() - 52 * DAY_MS), day(NOW.getTime() - 6 * DAY_MS))
const K = 5
const TARGETS = 40
type Origin = 'client' | 'server'
const origins = new Map<string, Origin>()

const makeUserDay = userDayMaker('pad')
/**
 * One user's day: a login, module use, a logout. `attested` users log in through the tenant's
 * server (server origin) and browse through the browser client; invented users are posted with
 * the browser key only.
 */
function userDay(tenant: string, user: string, d: string, modules: string[], attested: boolean): SporEvent[] {
  const events = makeUserDay(tenant, user, d, modules)
  for (const [i, event] of events.entries()) origins.set(event.id, i === 0 && attested ? 'server' : 'client')
  return events
}

const random = seededRandom(31)
const VICTIM_IN = Array.from({ length: TARGETS }, () => random() < 0.5)

/** Tenant `pad`: the threshold oracle with k − 1 invented users per target. */
function paddingWorld(): SporEvent[] {
  const events: SporEvent[] = []
  for (const [i, present] of VICTIM_IN.entries()) {
    const d = DAYS[i + 1]!
    for (let u = 0; u < 3; u++) events.push(...userDay('pad', `preg${u}`, d, ['base'], true))
    for (let f = 0; f < K - 1; f++) events.push(...userDay('pad', `pfake-${i}-${f}`, d, [`pm${i}`], false))
    if (present) events.push(...userDay('pad', 'victim', d, [`pm${i}`], true))
  }
  return events
}

/** Tenant `mix`, one day: k attested users and three invented ones in module `crm`. */
const MIX_DAY = DAYS[2]!
function mixWorld(): SporEvent[] {
  return [
    ...Array.from({ length: K }, (_, u) => userDay('mix', `real${u}`, MIX_DAY, ['crm'], true)).flat(),
    ...Array.from({ length: 3 }, (_, u) => userDay('mix', `fake${u}`, MIX_DAY, ['crm'], false)).flat(),
  ]
}

/** Tenant `act`, one day: 20 attested users, a cell shown with the default noise. */
const ACT_USERS = 20
function activeWorld(): SporEvent[] {
  return Array.from({ length: ACT_USERS }, (_, u) => userDay('act', `act${u}`, MIX_DAY, ['crm'], true)).flat()
}

/** A dotted field path as a nested object holding `leaf`. */
function nested(path: string, leaf: unknown): Record<string, unknown> {
  return path
    .split('.')
    .reverse()
    .reduce<Record<string, unknown>>((inner, part, i) => ({ [part]: i === 0 ? leaf : inner }), {})
}

/** Stamps every indexed event with its origin, as ingest will from the collector's header. */
async function stampOrigins(env: TestEnv, indexed: IndexedEvent[]): Promise<void> {
  const indices = [...new Set(indexed.map((x) => x.index))]
  const [top, ...rest] = EVENT_FIELDS.origin.split('.')
  const leaf: estypes.MappingProperty = { type: 'keyword', ignore_above: 256 }
  const mapping = rest.reduceRight<estypes.MappingProperty>(
    (inner, part) => ({ type: 'object', properties: { [part]: inner } }),
    leaf,
  )
  await env.es.indices.putMapping({ index: indices, properties: { [top!]: mapping } })
  for (let i = 0; i < indexed.length; i += 2000) {
    const operations = indexed
      .slice(i, i + 2000)
      .flatMap(({ event, index }) => [
        { update: { _index: index, _id: event.id } },
        { doc: nested(EVENT_FIELDS.origin, origins.get(event.id)) },
      ])
    const response = await env.es.bulk({ operations, refresh: true })
    if (response.errors)
      throw new Error(`bulk update failed: ${JSON.stringify(response.items.find((x) => x.update?.error))}`)
  }
}

let t: TestEnv
let productKey = ''
const responses = new ResponseLog()

function app(env: Record<string, string> = {}): Promise<FastifyInstance> {
  const config = loadConfig({ ...t.env, ...env })
  const keyStore = new KeyStore(t.es, config.es.indexPrefix, 60_000)
  return buildQueryApp({ config, es: t.es, keys: keyStore, log: t.log, clock: fixedClock(NOW.toISOString()) })
}

async function ask(instance: FastifyInstance, url: string) {
  const response = await responses.get(instance, productKey, url)
  expect(response.status, JSON.stringify(response.body)).toBe(200)
  return response.body
}

beforeAll(async () => {
  t = await createTestEnv('padding', { SPOR_K_ANONYMITY: String(K), SPOR_STATS_NOISE_SD: '1' })
  const indexed = await indexEvents(t, [...paddingWorld(), ...mixWorld(), ...activeWorld()])
  await stampOrigins(t, indexed)
  await rollupDays(t.es, t.config.es.indexPrefix, [MIX_DAY], NOW, countingRules(t.config))
  const store = new KeyStore(t.es, t.config.es.indexPrefix, 0)
  productKey = (await store.create({ kind: 'api', scope: 'product', name: 'p' })).key
}, 240_000)

afterAll(async () => {
  await t?.cleanup()
})

/** Accuracy of guesses against truth, and of always guessing the most common true value. */
function score(guesses: boolean[], truth: boolean[]): { accuracy: number; baseline: number } {
  const correct = guesses.filter((g, i) => g === truth[i]).length
  const present = truth.filter(Boolean).length
  return {
    accuracy: correct / truth.length,
    baseline: Math.max(present, truth.length - present) / truth.length,
  }
}

/** The attacker asks, per target, "is module pm{i} on day i shown?" and guesses "victim in". */
async function attack(env: Record<string, string>) {
  const instance = await app(env)
  const guesses: boolean[] = []
  for (let i = 0; i < TARGETS; i++) {
    const d = DAYS[i + 1]!
    const body = await ask(
      instance,
      `/v1/stats/summary?tenant=pad&module=pm${i}&from=${d}&to=${d}&source=raw`,
    )
    guesses.push(!body.suppressed)
  }
  await instance.close()
  return { ...score(guesses, VICTIM_IN), shown: guesses.filter(Boolean).length }
}

describe('the threshold oracle with k − 1 users invented through a browser key', () => {
  it('works when browser-key users count (a tenant that opted in, exact threshold)', async () => {
    const result = await attack({ SPOR_STATS_NOISE_SD: '0', SPOR_STATS_CLIENT_USER_TENANTS: 'pad' })
    expect(result.accuracy).toBe(1)
  }, 120_000)

  it('learns nothing when only attested users count: every padded cell stays hidden, even without noise', async () => {
    const result = await attack({ SPOR_STATS_NOISE_SD: '0' })
    expect(result.shown).toBe(0)
    expect(result.accuracy).toBeLessThanOrEqual(result.baseline)
  }, 120_000)

  it('with the default noise, is no better than the baseline + 5 points', async () => {
    const result = await attack({})
    if (process.env.SPOR_TEST_VERBOSE) console.info('padding attacker', result)
    expect(result.accuracy).toBeLessThanOrEqual(result.baseline + 0.05)
  }, 120_000)
})

describe('what browser-key-only users change in a shown cell', () => {
  const url = (source: string) =>
    `/v1/stats/summary?tenant=mix&from=${MIX_DAY}&to=${MIX_DAY}&source=${source}`

  it('nothing: users, events and sessions are those of the attested users, on the raw and the rollup path', async () => {
    const instance = await app({ SPOR_STATS_NOISE_SD: '0' })
    const raw = await ask(instance, url('raw'))
    const rollup = await ask(instance, url('rollup'))
    await instance.close()
    // Each attested user: login + one module use + logout, one session.
    expect(raw).toMatchObject({ suppressed: false, users: K, events: 3 * K, sessions: K })
    expect(rollup).toMatchObject({ users: raw.users, events: raw.events, sessions: raw.sessions })
  })

  it('a tenant without a server key can opt in: its browser-key users count', async () => {
    const instance = await app({ SPOR_STATS_NOISE_SD: '0', SPOR_STATS_CLIENT_USER_TENANTS: 'mix' })
    const body = await ask(instance, url('raw'))
    await instance.close()
    expect(body).toMatchObject({ suppressed: false, users: K + 3, events: 3 * (K + 3), sessions: K + 3 })
  })

  it('a member adding activity of their own does not redraw the noise of the users figure', async () => {
    // Noise is seeded by the people in a cell, not by their activity: otherwise each page view a
    // member (or a browser key) adds would be a fresh draw to average away. Five additions in a
    // row: with the activity in the seed, five independent draws would all round to the first
    // figure only by chance (well under 1 %).
    const url = `/v1/stats/summary?tenant=act&from=${MIX_DAY}&to=${MIX_DAY}&source=raw`
    const before = await app()
    const first = await ask(before, url)
    await before.close()
    expect(first.suppressed).toBe(false)
    for (let i = 0; i < 5; i++) {
      const [extra] = userDay('act', 'act0', MIX_DAY, [], true).slice(1, 2)
      const indexed = await indexEvents(t, [extra!])
      await stampOrigins(t, indexed)
      const instance = await app()
      const again = await ask(instance, url)
      await instance.close()
      expect(again.users).toBe(first.users)
      expect(again.suppressed).toBe(false)
    }
  })

  it('no answer names an invented user', () => {
    expect(responses.bodies.join('\n')).not.toContain('fake')
  })
})
