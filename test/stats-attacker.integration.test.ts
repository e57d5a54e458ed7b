import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fixedClock } from '../core/clock.ts'
import { loadConfig } from '../core/config.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { KeyStore } from '../core/keys.ts'
import { seededRandom } from '../generate/random.ts'
import { buildQueryApp } from '../query/app.ts'
import { rollupDays } from '../query/rollups/job.ts'
import { QuestionBudget } from '../query/stats/budget.ts'
import { daysBetween } from '../query/stats/time.ts'
import { day, indexEvents, ResponseLog, userDayMaker } from './helpers/stats-data.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * The patient attacker of issue 13, against real Elasticsearch and generated data whose truth is
 * known here:
 *
 * - Re-asking: for each day d of tenant `demo`, the people first seen on d (0–4 of them: a cell
 *   the k rule exists to hide) are |users(F..d)| − |users(F..d−1)|. The attacker asks each range
 *   in every phrasing family — `from` padded with empty days, `to` in the future, another endpoint
 *   (breakdown by tenant), two tenant keys and a product key, two `spor query` instances, a
 *   restart — averages all answers per range and differences. Noise seeded by the question let
 *   this average the noise away; noise seeded by the data gives one number per cell, however asked.
 * - Threshold oracle: k − 1 invented users in a cell ask "is the victim in it too?".
 *
 * Accuracy is compared with always guessing the most common value (baseline); an exact (noise 0)
 * run of the same attacker shows that the attack works when nothing defends (the test can fail).
 */
const NOW = new Date('2026-11-25T18:00:00.000Z')
const DAY_MS = 86_400_000
const DAYS = daysBetween(day(NOW.getTime() - 52 * DAY_MS), day(NOW.getTime() - 6 * DAY_MS))
const FIRST = DAYS[0]!
const LAST = DAYS.at(-1)!
const K = 5
const REGULARS = 10
/**
 * People first seen per day in a small tenant: mostly none or one, sometimes up to four (weights
 * 4 : 3 : 1.5 : 1 : 0.5). Stated here because the baseline depends on it.
 */
const NEW_PEOPLE_WEIGHTS = [4, 3, 1.5, 1, 0.5]
function drawNewPeople(random: () => number): number {
  let x = random() * NEW_PEOPLE_WEIGHTS.reduce((a, b) => a + b, 0)
  for (const [value, weight] of NEW_PEOPLE_WEIGHTS.entries()) {
    if (x < weight) return value
    x -= weight
  }
  return NEW_PEOPLE_WEIGHTS.length - 1
}

const userDay = userDayMaker('atk')

/** Tenant `demo`: regulars every day plus `newPeople[i]` people seen only on day i. */
function demoWorld(newPeople: number[]): SporEvent[] {
  const events: SporEvent[] = []
  for (const [i, d] of DAYS.entries()) {
    for (let u = 0; u < REGULARS; u++) events.push(...userDay('demo', `reg${u}`, d, ['crm']))
    for (let n = 0; n < (newPeople[i] ?? 0); n++) events.push(...userDay('demo', `new-${d}-${n}`, d, ['crm']))
  }
  return events
}

/**
 * Tenant `thr`: per target i, module `tm{i}` on day i is used by k − 1 invented users (the
 * attacker posted them) and by the victim when `victimIn[i]`; three regulars keep each tenant-day
 * above k.
 */
function thresholdWorld(victimIn: boolean[]): SporEvent[] {
  const events: SporEvent[] = []
  for (const [i, present] of victimIn.entries()) {
    const d = DAYS[i + 1]!
    for (let u = 0; u < 3; u++) events.push(...userDay('thr', `treg${u}`, d, ['base']))
    for (let f = 0; f < K - 1; f++) events.push(...userDay('thr', `fake-${i}-${f}`, d, [`tm${i}`]))
    if (present) events.push(...userDay('thr', 'victim', d, [`tm${i}`]))
  }
  return events
}

/** Tenants `bud` and `bud2`: k people every day, for the budget tests' own scopes. */
function budgetWorld(): SporEvent[] {
  return DAYS.slice(0, 40).flatMap((d) =>
    ['bud', 'bud2'].flatMap((tenant) =>
      Array.from({ length: K }, (_, u) => userDay(tenant, `${tenant}-u${u}`, d, ['crm'])).flat(),
    ),
  )
}

const random = seededRandom(13)
const NEW_PEOPLE = DAYS.map((_, i) => (i === 0 ? 0 : drawNewPeople(random)))
const VICTIM_IN = Array.from({ length: 40 }, () => random() < 0.5)

let t: TestEnv
const responses = new ResponseLog()
const keys = { tenant1: '', tenant2: '', product: '', bud2: '' }

function app(env: Record<string, string> = {}): Promise<FastifyInstance> {
  const config = loadConfig({ ...t.env, ...env })
  const keyStore = new KeyStore(t.es, config.es.indexPrefix, 60_000)
  return buildQueryApp({ config, es: t.es, keys: keyStore, log: t.log, clock: fixedClock(NOW.toISOString()) })
}

async function ask(instance: FastifyInstance, key: string, url: string) {
  const response = await responses.get(instance, key, url)
  expect(response.status, JSON.stringify(response.body)).toBe(200)
  return response.body
}

beforeAll(async () => {
  t = await createTestEnv('attacker', { SPOR_K_ANONYMITY: String(K), SPOR_STATS_NOISE_SD: '1' })
  await indexEvents(t, [...demoWorld(NEW_PEOPLE), ...thresholdWorld(VICTIM_IN), ...budgetWorld()])
  await rollupDays(t.es, t.config.es.indexPrefix, DAYS, NOW, K)
  const store = new KeyStore(t.es, t.config.es.indexPrefix, 0)
  keys.tenant1 = (await store.create({ kind: 'api', scope: 'tenant', tenant: 'demo', name: 'a' })).key
  keys.tenant2 = (await store.create({ kind: 'api', scope: 'tenant', tenant: 'demo', name: 'b' })).key
  keys.product = (await store.create({ kind: 'api', scope: 'product', name: 'p' })).key
  keys.bud2 = (await store.create({ kind: 'api', scope: 'tenant', tenant: 'bud2', name: 'c' })).key
}, 240_000)

afterAll(async () => {
  await t?.cleanup()
})

const shift = (d: string, days: number) => day(Date.parse(`${d}T00:00:00Z`) + days * DAY_MS)

/** Accuracy of guesses against truth, and of always guessing the most common true value. */
function score(guesses: number[], truth: number[]): { accuracy: number; baseline: number } {
  const counts = new Map<number, number>()
  for (const v of truth) counts.set(v, (counts.get(v) ?? 0) + 1)
  const correct = guesses.filter((g, i) => g === truth[i]).length
  return { accuracy: correct / truth.length, baseline: Math.max(...counts.values()) / truth.length }
}

/**
 * Every phrasing of "distinct users of demo from FIRST to d" the attacker has: two instances
 * (one of them restarted half-way), three keys, `from` padded by 1–8 empty days, `to` pushed
 * into the future where that adds no data, and the breakdown by tenant.
 */
async function reask(
  noiseSd: string,
  everyPhrasing = true,
): Promise<{ answers: Map<string, (number | null)[]>; requests: number }> {
  const env = { SPOR_STATS_NOISE_SD: noiseSd }
  const instances = [await app(env), await app(env)]
  const answers = new Map<string, (number | null)[]>()
  let requests = 0
  for (const [i, d] of DAYS.entries()) {
    if (i === Math.floor(DAYS.length / 2)) {
      // A restart: a new process with nothing in memory.
      await instances[0]!.close()
      instances[0] = await app(env)
    }
    const got: (number | null)[] = []
    const toPads = d === LAST && everyPhrasing ? [0, 9, 40] : [0]
    for (const pad of everyPhrasing ? [0, 1, 3, 8] : [0]) {
      for (const toPad of toPads) {
        const instance = instances[(pad + toPad) % 2]!
        const key = [keys.tenant1, keys.tenant2][pad % 2]!
        const body = await ask(
          instance,
          key,
          `/v1/stats/summary?from=${shift(FIRST, -pad)}&to=${shift(d, toPad)}`,
        )
        got.push(body.users)
        requests++
      }
    }
    for (const pad of everyPhrasing ? [2] : []) {
      const url = `/v1/stats/breakdown?by=tenant&from=${shift(FIRST, -pad)}&to=${d}&limit=100`
      const body = await ask(instances[pad % 2]!, keys.product, url)
      const demo = body.groups.find((g: { key: string }) => g.key === 'demo')
      got.push(demo?.users ?? null)
      requests++
    }
    answers.set(d, got)
  }
  for (const instance of instances) await instance.close()
  return { answers, requests }
}

/** The attacker's estimate of the people first seen on each day after the first. */
function differencing(answers: Map<string, (number | null)[]>): number[] {
  // (a suppressed answer carries no number: the attacker averages what is shown)
  const mean = (xs: (number | null)[]) => {
    const shown = xs.filter((x): x is number => x !== null)
    return shown.reduce((a, b) => a + b, 0) / Math.max(1, shown.length)
  }
  return DAYS.slice(1).map((d, i) => {
    const estimate = mean(answers.get(d)!) - mean(answers.get(DAYS[i]!)!)
    return Math.min(4, Math.max(0, Math.round(estimate)))
  })
}

describe('a patient attacker re-asking the same cells', () => {
  const truth = NEW_PEOPLE.slice(1)

  it('has at least 40 targets, including cells of one person', () => {
    expect(truth.length).toBeGreaterThanOrEqual(40)
    expect(truth.filter((v) => v === 1).length).toBeGreaterThanOrEqual(8)
  })

  it('without noise, differencing recovers every hidden cell (the attack works)', async () => {
    // One phrasing per range is enough when the answers are exact.
    const { answers } = await reask('0', false)
    expect(score(differencing(answers), truth).accuracy).toBe(1)
  }, 240_000)

  it('with noise seeded by the data, every phrasing of a cell gives one number, and differencing is no better than the baseline + 5 points', async () => {
    const { answers, requests } = await reask('1')
    expect(requests).toBeGreaterThanOrEqual(DAYS.length * 5)
    const result = score(differencing(answers), truth)
    if (process.env.SPOR_TEST_VERBOSE) console.info('re-asking attacker', result, { requests })
    for (const [d, got] of answers) expect(new Set(got).size, `answers for ${FIRST}..${d}: ${got}`).toBe(1)
    expect(result.accuracy).toBeLessThanOrEqual(result.baseline + 0.05)
  }, 240_000)
})

describe('the threshold oracle: k − 1 invented users in a cell', () => {
  const attack = async (noiseSd: string) => {
    const instance = await app({ SPOR_STATS_NOISE_SD: noiseSd })
    const guesses: boolean[] = []
    for (let i = 0; i < VICTIM_IN.length; i++) {
      const d = DAYS[i + 1]!
      const body = await ask(
        instance,
        keys.product,
        `/v1/stats/summary?tenant=thr&module=tm${i}&from=${d}&to=${d}`,
      )
      guesses.push(!body.suppressed)
    }
    await instance.close()
    const asNumbers = (xs: boolean[]) => xs.map((x) => (x ? 1 : 0))
    return score(asNumbers(guesses), asNumbers(VICTIM_IN))
  }

  it('an exact threshold answers "is the victim in it?" every time', async () => {
    expect((await attack('0')).accuracy).toBe(1)
  })

  it('the noisy threshold leaves the attacker at the baseline + 5 points at most', async () => {
    const result = await attack('1')
    if (process.env.SPOR_TEST_VERBOSE) console.info('threshold attacker', result)
    expect(result.accuracy).toBeLessThanOrEqual(result.baseline + 0.05)
  })
})

describe('one cell, one number', () => {
  it('the same people reached by summary, breakdown by tenant and padded ranges give the same figures', async () => {
    const instance = await app()
    const other = await app()
    const summary = await ask(instance, keys.tenant1, `/v1/stats/summary?from=${FIRST}&to=${LAST}`)
    const padded = await ask(
      other,
      keys.product,
      `/v1/stats/summary?tenant=demo&from=${shift(FIRST, -30)}&to=${day(NOW)}`,
    )
    const byTenant = await ask(
      other,
      keys.product,
      `/v1/stats/breakdown?by=tenant&from=${FIRST}&to=${shift(LAST, 3)}`,
    )
    const demo = byTenant.groups.find((g: { key: string }) => g.key === 'demo')
    expect(padded.users).toBe(summary.users)
    expect(padded.events).toBe(summary.events)
    expect(demo.users).toBe(summary.users)
    expect(demo.events).toBe(summary.events)
    // Different people, independent noise: the cell of all but the last day is another number.
    const shorter = await ask(instance, keys.tenant1, `/v1/stats/summary?from=${FIRST}&to=${DAYS.at(-2)}`)
    expect(shorter.events).not.toBe(summary.events)
    await instance.close()
    await other.close()
  })
})

describe('the question budget', () => {
  // A window of their own (1 h, not the 24 h above): the re-asking attack's product-wide
  // questions spend from every tenant they cover, `bud` and `bud2` included, in the 24 h window.
  const budgetEnv = {
    SPOR_STATS_BUDGET_QUESTIONS: '3',
    SPOR_STATS_CACHE_MS: '0',
    SPOR_STATS_BUDGET_WINDOW_HOURS: '1',
  }
  // Days 36..40: `bud` has data up to day 39, none after.
  const question = (n: number) => `/v1/stats/summary?tenant=bud&from=${DAYS[35 + n]}&to=${DAYS[35 + n]}`

  it('counts distinct questions per data scope, shared by instances and keys, surviving a restart', async () => {
    const a = await app(budgetEnv)
    const b = await app(budgetEnv)
    // A repeated identical question costs nothing (10 asks, one question).
    for (let i = 0; i < 10; i++) await ask(a, keys.product, question(4))
    // Padding with days that hold no data is the same question (day 39 is bud's last day).
    await ask(
      b,
      keys.product,
      `/v1/stats/summary?tenant=bud&from=${DAYS[39]}&to=${day(NOW.getTime() + 9 * DAY_MS)}`,
    )
    await ask(b, keys.product, question(1))
    await ask(a, keys.product, question(2))
    const refused = await responses.get(b, keys.product, question(3))
    expect(refused.status).toBe(429)
    expect(refused.body.code).toBe('SPOR_ERR_BUDGET_SPENT')
    // Another tenant's data has its own budget.
    await ask(a, keys.bud2, `/v1/stats/summary?from=${DAYS[4]}&to=${DAYS[4]}`)
    await a.close()
    await b.close()

    // A restart forgets nothing: the new question is still refused, asked ones are answered.
    const restarted = await app(budgetEnv)
    expect((await responses.get(restarted, keys.product, question(3))).status).toBe(429)
    expect((await responses.get(restarted, keys.product, question(5))).status).toBe(429)
    await ask(restarted, keys.product, question(2))
    await ask(restarted, keys.product, question(4))
    await restarted.close()
  })

  it('tenant keys and product keys asking about one tenant spend from that tenant`s budget', async () => {
    const instance = await app({ ...budgetEnv, SPOR_STATS_BUDGET_QUESTIONS: '2' })
    const store = new KeyStore(t.es, t.config.es.indexPrefix, 0)
    let minted = 0
    const fresh = async () =>
      (await store.create({ kind: 'api', scope: 'tenant', tenant: 'bud2', name: `minted-${minted++}` })).key
    const q = (n: number) => `/v1/stats/timeseries?metric=events&interval=week&from=${DAYS[n]}&to=${DAYS[n]}`
    // The bud2 scope already holds one question from the test above; one more fits.
    await ask(instance, await fresh(), q(10))
    const refused = await responses.get(instance, await fresh(), q(20))
    expect(refused.status).toBe(429)
    const viaProduct = await responses.get(instance, keys.product, `${q(30)}&tenant=bud2`)
    expect(viaProduct.status).toBe(429)
    await instance.close()
  })
})

describe('the question budget under concurrency', () => {
  it('two instances charging 20 distinct questions at once against a budget of 7: exactly 7 are answered', async () => {
    const options = { questions: 7, windowMs: 3_600_000 }
    const budgets = [
      new QuestionBudget(t.es, t.config.es.indexPrefix, options),
      new QuestionBudget(t.es, t.config.es.indexPrefix, options),
    ]
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => budgets[i % 2]!.charge('race', `question-${i}`, NOW)),
    )
    expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBe(7)
    for (const o of outcomes)
      if (o.status === 'rejected') expect((o.reason as { code?: string }).code).toBe('SPOR_ERR_BUDGET_SPENT')
    // An answered question asked again is free, even on the other instance.
    const answered = outcomes.findIndex((o) => o.status === 'fulfilled')
    expect((await budgets[(answered + 1) % 2]!.charge('race', `question-${answered}`, NOW)).cost).toBe(0)
  })
})

describe('Elasticsearch failures', () => {
  it('a failing search answers spor`s own error with a request id, never the cluster`s text', async () => {
    const env = await createTestEnv('eserr')
    try {
      // A stats index whose `day` is a keyword: sorting across it and a real rollup index fails
      // inside Elasticsearch ("incompatible sort types").
      await indexEvents(env, userDay('demo', 'x', DAYS[2]!, ['crm']))
      await rollupDays(env.es, env.config.es.indexPrefix, [DAYS[2]!], NOW, 1)
      await env.es.indices.create({
        index: `${env.config.es.indexPrefix}-stats-broken`,
        mappings: { properties: { day: { type: 'keyword' }, dim: { type: 'keyword' } } },
      })
      await env.es.index({
        index: `${env.config.es.indexPrefix}-stats-broken`,
        document: { day: DAYS[2], dim: '_complete' },
        refresh: true,
      })
      const store = new KeyStore(env.es, env.config.es.indexPrefix, 0)
      const key = (await store.create({ kind: 'api', scope: 'product', name: 'p' })).key
      const config = loadConfig({ ...env.env, SPOR_K_ANONYMITY: '2' })
      const instance = await buildQueryApp({
        config,
        es: env.es,
        keys: store,
        log: env.log,
        clock: fixedClock(NOW.toISOString()),
      })
      const response = await instance.inject({
        method: 'GET',
        url: `/v1/stats/summary?from=${DAYS[2]}&to=${DAYS[2]}&source=rollup`,
        headers: { authorization: `Bearer ${key}` },
      })
      await instance.close()
      expect(response.statusCode).toBe(502)
      const body = response.json()
      expect(body.code).toBe('SPOR_ERR_ES')
      expect(body.message).toMatch(/request id [0-9a-f-]{36}/)
      expect(response.body).not.toMatch(/sort|incompatible|shard|exception|day/i)
    } finally {
      await env.cleanup()
    }
  })
})

afterAll(() => {
  for (const body of responses.bodies) {
    expect(body).not.toContain('victim')
    expect(body).not.toContain('fake-')
    expect(body).not.toContain('81.0.146.10')
    expect(body).not.toContain('dev-')
  }
})
