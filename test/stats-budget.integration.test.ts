import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fixedClock } from '../core/clock.ts'
import { loadConfig } from '../core/config.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { KeyStore } from '../core/keys.ts'
import { buildQueryApp } from '../query/app.ts'
import { budgetIndex, QuestionBudget } from '../query/stats/budget.ts'
import { daysBetween } from '../query/stats/time.ts'
import { day, indexEvents } from './helpers/stats-data.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * The question budget's leftovers of issue 13 item 2: a product-wide question (no `tenant=`)
 * spends from the budget of every tenant its answer is made of, and the ledger of ended windows
 * is deleted. Real Elasticsearch, generated data.
 */
const NOW = new Date('2026-11-25T18:00:00.000Z')
const DAY_MS = 86_400_000
const DAYS = daysBetween(day(NOW.getTime() - 12 * DAY_MS), day(NOW.getTime() - 6 * DAY_MS))
const K = 5
const TENANTS = ['alpha', 'beta']

let seq = 0
function world(): SporEvent[] {
  return DAYS.flatMap((d) =>
    TENANTS.flatMap((tenant) =>
      Array.from({ length: K + 1 }, (_, u): SporEvent[] =>
        ['session.login', 'session.logout'].map((type, i) => ({
          v: 1,
          id: `bud-${seq++}`,
          type,
          ts: new Date(Date.parse(`${d}T09:00:00Z`) + u * 60_000 + i * 30_000).toISOString(),
          tenant,
          user: `${tenant}-u${u}`,
          session: `s-${tenant}-${u}-${d}`,
          ip: '81.0.146.10',
        })),
      ).flat(),
    ),
  )
}

let t: TestEnv
const keys = { product: '', alpha: '', beta: '' }

function app(env: Record<string, string> = {}): Promise<FastifyInstance> {
  const config = loadConfig({ ...t.env, SPOR_STATS_CACHE_MS: '0', ...env })
  const keyStore = new KeyStore(t.es, config.es.indexPrefix, 60_000)
  return buildQueryApp({ config, es: t.es, keys: keyStore, log: t.log, clock: fixedClock(NOW.toISOString()) })
}

async function status(instance: FastifyInstance, key: string, url: string): Promise<number> {
  const response = await instance.inject({ url, headers: { authorization: `Bearer ${key}` } })
  if (response.statusCode !== 200 && response.statusCode !== 429) throw new Error(response.body)
  if (response.statusCode === 429) expect(response.json().code).toBe('SPOR_ERR_BUDGET_SPENT')
  return response.statusCode
}

beforeAll(async () => {
  t = await createTestEnv('budget', { SPOR_K_ANONYMITY: String(K) })
  await indexEvents(t, world())
  const store = new KeyStore(t.es, t.config.es.indexPrefix, 0)
  keys.product = (await store.create({ kind: 'api', scope: 'product', name: 'p' })).key
  keys.alpha = (await store.create({ kind: 'api', scope: 'tenant', tenant: 'alpha', name: 'a' })).key
  keys.beta = (await store.create({ kind: 'api', scope: 'tenant', tenant: 'beta', name: 'b' })).key
}, 120_000)

afterAll(async () => {
  await t?.cleanup()
})

const summary = (from: string, to: string) => `/v1/stats/summary?from=${from}&to=${to}`

describe('a product-wide question spends from every tenant budget it covers', () => {
  it('one product-wide question costs each covered tenant one question; asking it again costs nothing', async () => {
    const instance = await app({ SPOR_STATS_BUDGET_QUESTIONS: '2' })
    // Product-wide, twice (the second is the same question: free for everyone).
    expect(await status(instance, keys.product, summary(DAYS[0]!, DAYS[1]!))).toBe(200)
    expect(await status(instance, keys.product, summary(DAYS[0]!, DAYS[1]!))).toBe(200)
    // Each tenant has one of its two questions left.
    expect(await status(instance, keys.alpha, summary(DAYS[2]!, DAYS[2]!))).toBe(200)
    expect(await status(instance, keys.alpha, summary(DAYS[3]!, DAYS[3]!))).toBe(429)
    expect(await status(instance, keys.beta, summary(DAYS[2]!, DAYS[2]!))).toBe(200)
    expect(await status(instance, keys.beta, summary(DAYS[3]!, DAYS[3]!))).toBe(429)
    // `by=tenant` reaches every tenant's cells: refused now that their budgets are spent.
    expect(
      await status(instance, keys.product, `/v1/stats/breakdown?by=tenant&from=${DAYS[4]}&to=${DAYS[4]}`),
    ).toBe(429)
    // Questions already asked are still answered.
    expect(await status(instance, keys.product, summary(DAYS[0]!, DAYS[1]!))).toBe(200)
    await instance.close()
  })

  it('spends only from the tenants whose rows make the answer', async () => {
    const budget = new QuestionBudget(t.es, `${t.config.es.indexPrefix}-other`, {
      questions: 1,
      windowMs: 3_600_000,
    })
    await budget.chargeCovering('*', 'q1', ['alpha'], NOW)
    expect((await budget.charge('beta', 'own question', NOW)).cost).toBe(1)
    await expect(budget.charge('alpha', 'own question', NOW)).rejects.toMatchObject({
      code: 'SPOR_ERR_BUDGET_SPENT',
    })
    await t.es.indices.delete({ index: budgetIndex(`${t.config.es.indexPrefix}-other`) })
  })
})

describe('ended budget windows', () => {
  it('are deleted, and the current window stays', async () => {
    const prefix = `${t.config.es.indexPrefix}-win`
    const hour = 3_600_000
    const budget = new QuestionBudget(t.es, prefix, { questions: 10, windowMs: hour })
    const earlier = new Date(NOW.getTime() - 3 * hour)
    for (const q of ['a', 'b', 'c']) await budget.charge('tenant', q, earlier)
    await budget.charge('tenant', 'a', NOW)
    await t.es.indices.refresh({ index: budgetIndex(prefix) })
    // Three questions and one counter in the ended window.
    expect(await budget.deleteExpired(NOW)).toBe(4)
    await t.es.indices.refresh({ index: budgetIndex(prefix) })
    const { count } = await t.es.count({ index: budgetIndex(prefix) })
    expect(count).toBe(2)
    // The current window is intact: the question asked in it is still free.
    expect((await budget.charge('tenant', 'a', NOW)).cost).toBe(0)
    expect(await budget.deleteExpired(NOW)).toBe(0)
    await t.es.indices.delete({ index: budgetIndex(prefix) })
  })
})
