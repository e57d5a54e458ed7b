import { performance } from 'node:perf_hooks'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateTraffic } from '../generate/traffic.ts'
import { hasControlChar, headerValueArb, heapAfterGc, queryStringArb } from './helpers/fuzz.ts'
import { indexEvents, type StatsApp, startStatsApp } from './helpers/stats-data.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * Fuzz of the query service (issue 15) on the real Elasticsearch with a few days of traffic:
 * every public route with random path parameters, query strings, bodies and keys (tenant,
 * product-wide, random, none). No 5xx, no response slower than a bound, memory back to its
 * baseline, every answer either data or a coded spor error.
 */
const RUNS = Number(process.env.SPOR_FUZZ_RUNS ?? 300)
const SLOWEST_BOUND_MS = 8_000
const NOW = new Date()

const ROUTES: { method: 'GET' | 'POST'; path: (p: string, u: string) => string }[] = [
  { method: 'GET', path: () => '/v1/stats/summary' },
  { method: 'GET', path: () => '/v1/stats/timeseries' },
  { method: 'GET', path: () => '/v1/stats/breakdown' },
  { method: 'GET', path: () => '/v1/alerts' },
  { method: 'GET', path: (p) => `/v1/alerts/${p}` },
  { method: 'POST', path: (p) => `/v1/alerts/${p}/acknowledge` },
  { method: 'GET', path: () => '/v1/segments/definitions' },
  { method: 'GET', path: () => '/v1/segments/sizes' },
  { method: 'GET', path: (p, u) => `/v1/tenants/${p}/subjects/${u}/export` },
  { method: 'GET', path: () => '/dashboard' },
  { method: 'GET', path: () => '/docs/json' },
  { method: 'GET', path: () => '/health' },
  { method: 'GET', path: (p) => `/${p}` },
]

describe('fuzz: query service', () => {
  let t: TestEnv
  let s: StatsApp
  let acme: string
  const figures = {
    requests: 0,
    slowestMs: 0,
    slowestRoute: '',
    peakHeapMb: 0,
    statuses: {} as Record<number, number>,
  }

  beforeAll(async () => {
    t = await createTestEnv('fuzzq', { SPOR_QUERY_RATE_LIMIT: '100000', SPOR_QUERY_IP_RATE_LIMIT: '100000' })
    await indexEvents(
      t,
      generateTraffic({ seed: 15, tenants: ['acme', 'globex'], usersPerTenant: 12, days: 3, end: NOW }),
    )
    s = await startStatsApp(t, NOW)
    acme = (await s.tenantKey('acme')).key
  })
  afterAll(async () => {
    console.info(`query fuzz: ${JSON.stringify(figures)}`)
    await s?.app.close()
    await t?.cleanup()
  })

  it('answers every hostile request below 500 and in bounded time', async () => {
    const baseline = heapAfterGc()
    const segment = fc.oneof(
      fc.constantFrom('acme', 'globex', 'nobody', 'u1', '..', '%2e%2e', '%00', 'a'.repeat(300), '__proto__'),
      fc.string({ maxLength: 40 }).map(encodeURIComponent),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        segment,
        segment,
        queryStringArb,
        fc.oneof(
          { weight: 3, arbitrary: fc.constant(`Bearer ${acme}`) },
          { weight: 2, arbitrary: fc.constant(`Bearer ${s.productKey}`) },
          fc.constant(`Bearer spor_ak_0123456789abcdef_${'A'.repeat(43)}`),
          headerValueArb.map((v) => `Bearer ${v}`),
          fc.constant(''),
        ),
        fc.oneof(fc.constant(undefined), fc.json(), fc.string({ maxLength: 200 })),
        async (route, p, u, query, authorization, body) => {
          const url = `${route.path(p, u)}${query ? `?${query}` : ''}`
          const start = performance.now()
          const res = await s.app.inject({
            method: route.method,
            url,
            headers: {
              ...(authorization && !hasControlChar(authorization) ? { authorization } : {}),
              ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            },
            ...(body !== undefined && route.method === 'POST' ? { payload: body } : {}),
            remoteAddress: '203.0.113.5',
          })
          const ms = performance.now() - start
          figures.requests++
          figures.statuses[res.statusCode] = (figures.statuses[res.statusCode] ?? 0) + 1
          if (ms > figures.slowestMs) {
            figures.slowestMs = Math.round(ms)
            figures.slowestRoute = route.path(':p', ':u')
          }
          if (figures.requests % 25 === 0)
            figures.peakHeapMb = Math.max(
              figures.peakHeapMb,
              Math.round(process.memoryUsage().heapUsed / 2 ** 20),
            )
          expect(res.statusCode, `${route.method} ${url}: ${res.body.slice(0, 300)}`).toBeLessThan(500)
          if (res.statusCode >= 400 && res.headers['content-type']?.toString().includes('json'))
            expect(res.json()).toMatchObject({ code: expect.stringMatching(/^SPOR_ERR_/) })
        },
      ),
      { numRuns: RUNS, seed: Number(process.env.SPOR_FUZZ_SEED ?? 15) },
    )
    expect(figures.slowestMs).toBeLessThan(SLOWEST_BOUND_MS)
    expect(heapAfterGc() - baseline).toBeLessThan(40 * 2 ** 20)
  })
})
