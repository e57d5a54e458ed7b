import { connect } from 'node:net'
import { performance } from 'node:perf_hooks'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CollectorApp, startCollectorApp } from './helpers/collector-app.ts'
import { bodyArb, hasControlChar, headerValueArb, heapAfterGc, queryStringArb } from './helpers/fuzz.ts'
import type { TestEnv } from './helpers/test-env.ts'

/**
 * Fuzz of the collector (issue 15), on the real Kafka and Elasticsearch: random and malicious
 * bodies (schema-driven events, mutated events, hostile JSON, gzip/deflate, broken gzip, a gzip
 * bomb, too many events), headers (Client Hints, forwarded addresses, keys) and query strings.
 * Every answer is < 500 and within a time bound, memory returns to its baseline, and every
 * accepted event is on the topic: the sum of `accepted` equals the records produced.
 */
const RUNS = Number(process.env.SPOR_FUZZ_RUNS ?? 300)
const SLOWEST_BOUND_MS = 5_000

describe('fuzz: collector', () => {
  let collector: CollectorApp<'web' | 'api'>
  let t: TestEnv
  let app: FastifyInstance
  let browser: string
  let server: string
  const figures = {
    requests: 0,
    slowestMs: 0,
    slowestKind: '',
    peakHeapMb: 0,
    statuses: {} as Record<number, number>,
  }

  beforeAll(async () => {
    collector = await startCollectorApp('fuzzcol', {
      env: {
        SPOR_TRUSTED_PROXIES: '10.9.9.9',
        SPOR_COLLECTOR_BODY_LIMIT: '262144',
        SPOR_HTTP_REQUEST_TIMEOUT_MS: '1500',
      },
      keyCacheMs: 60_000,
      keys: { web: {}, api: { scopes: { profile: 'server' } } },
    })
    ;({ t, app } = collector)
    ;({ web: browser, api: server } = collector.keys)
  })
  afterAll(async () => {
    console.info(`collector fuzz: ${JSON.stringify(figures)}`)
    await collector?.close()
  })

  it('answers every hostile request below 500, in bounded time, and produces exactly what it accepted', async () => {
    const baseline = heapAfterGc()
    let accepted = 0
    const authArb = fc.oneof(
      { weight: 3, arbitrary: fc.constant(`Bearer ${browser}`) },
      { weight: 3, arbitrary: fc.constant(`Bearer ${server}`) },
      fc.constant(`Bearer spor_ik_0123456789abcdef_${'A'.repeat(43)}`),
      fc.string({ maxLength: 300 }).map((s) => `Bearer ${s}`),
      fc.constant(''),
    )
    await fc.assert(
      fc.asyncProperty(
        bodyArb('acme'),
        authArb,
        fc.record(
          {
            'sec-ch-ua': headerValueArb,
            'sec-ch-ua-full-version-list': headerValueArb,
            'sec-ch-ua-platform': headerValueArb,
            'sec-ch-ua-model': headerValueArb,
            'sec-ch-ua-mobile': headerValueArb,
            'user-agent': headerValueArb,
            'x-forwarded-for': headerValueArb,
          },
          { requiredKeys: [] },
        ),
        queryStringArb,
        fc.constantFrom('203.0.113.9', '10.9.9.9', '2001:db8::7'),
        fc.constantFrom(
          '/v1/events',
          '/v1/events',
          '/v1/events',
          '/v1/events/',
          '/v1/Events',
          '/metrics',
          '/health',
        ),
        async (body, authorization, headers, query, remoteAddress, path) => {
          // Header values a client cannot send (control characters) are refused by Node itself.
          const clean = Object.fromEntries(
            Object.entries(headers).filter(([, v]) => v !== undefined && !hasControlChar(v as string)),
          )
          const start = performance.now()
          const res = await app.inject({
            method: 'POST',
            url: query ? `${path}?${query}` : path,
            headers: { ...clean, ...body.headers, ...(authorization ? { authorization } : {}) },
            payload: body.payload,
            remoteAddress,
          })
          const ms = performance.now() - start
          figures.requests++
          figures.statuses[res.statusCode] = (figures.statuses[res.statusCode] ?? 0) + 1
          if (ms > figures.slowestMs) {
            figures.slowestMs = Math.round(ms)
            figures.slowestKind = body.kind
          }
          if (figures.requests % 25 === 0) {
            figures.peakHeapMb = Math.max(
              figures.peakHeapMb,
              Math.round(process.memoryUsage().heapUsed / 2 ** 20),
            )
          }
          expect(res.statusCode, `${body.kind}: ${res.body.slice(0, 300)}`).toBeLessThan(500)
          if (res.statusCode === 202) accepted += res.json().accepted
          else if (res.statusCode >= 400)
            expect(res.json()).toMatchObject({ code: expect.stringMatching(/^SPOR_ERR_/) })
        },
      ),
      { numRuns: RUNS, seed: Number(process.env.SPOR_FUZZ_SEED ?? 15) },
    )
    expect(figures.slowestMs).toBeLessThan(SLOWEST_BOUND_MS)
    // Every accepted event is a record on the topic, none more.
    const admin = t.kafka.admin()
    await admin.connect()
    const offsets = await admin.fetchTopicOffsets(t.config.kafka.eventsTopic)
    await admin.disconnect()
    const produced = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0)
    expect(produced).toBe(accepted)
    expect(accepted).toBeGreaterThan(0)
    // Memory returns to its baseline (within the JIT's and caches' own growth).
    const after = heapAfterGc()
    expect(after - baseline).toBeLessThan(40 * 2 ** 20)
  })

  it('answers a slow (trickling) body with 408 within the request timeout, serving others meanwhile', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 })
    const port = (app.server.address() as { port: number }).port
    const socket = connect(port, '127.0.0.1')
    await new Promise<void>((resolve) => socket.once('connect', resolve))
    const answer = new Promise<string>((resolve) => {
      let text = ''
      socket.on('data', (d) => {
        text += d.toString()
      })
      socket.on('close', () => resolve(text))
    })
    socket.write(
      `POST /v1/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${browser}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n`,
    )
    const started = performance.now()
    const trickle = setInterval(() => socket.writable && socket.write('{'), 100)
    try {
      // Another client is served while the slow one holds its connection.
      const other = await fetch(`http://127.0.0.1:${port}/health`)
      expect(other.status).toBe(200)
      const text = await answer
      const took = performance.now() - started
      expect(text).toMatch(/^HTTP\/1\.1 408/)
      expect(took).toBeLessThan(1500 + 3000)
    } finally {
      clearInterval(trickle)
      socket.destroy()
    }
  })
})
