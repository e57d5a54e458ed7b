import type { FastifyInstance } from 'fastify'
import type { Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { systemClock } from '../core/clock.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { ORIGIN_HEADER } from '../core/key-scopes.ts'
import { KeyStore, keysIndex } from '../core/keys.ts'
import { buildCollector } from '../ingest/collector/app.ts'
import { type CollectorApp, startCollectorApp } from './helpers/collector-app.ts'
import type { TestEnv } from './helpers/test-env.ts'

/**
 * Hostile holders of ingest keys (issue 15): a browser key writes only client-observable types,
 * cannot use spor's id namespace or backdate beyond the bound, and its events carry the
 * client origin header; malformed forwarded addresses and unauthenticated floods are handled.
 */
const HOUR = 3_600_000
const event = (id: string, type: string, extra: Partial<SporEvent> = {}) => ({
  v: 1,
  id,
  type,
  ts: new Date().toISOString(),
  user: 'u1',
  session: 's1',
  ...(type.startsWith('session.login') ? { username: 'victim' } : {}),
  ...extra,
})

async function readWithHeaders(t: TestEnv, expected: number) {
  const consumer = t.kafka.consumer({ groupId: `reader-${t.name}-${Date.now()}` })
  const out: { event: SporEvent; origin?: string }[] = []
  await consumer.connect()
  await consumer.subscribe({ topics: [t.config.kafka.eventsTopic], fromBeginning: true })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${out.length} of ${expected} records`)), 30_000)
    void consumer.run({
      eachMessage: async ({ message }) => {
        out.push({
          event: JSON.parse(message.value!.toString('utf8')),
          origin: message.headers?.[ORIGIN_HEADER]?.toString(),
        })
        if (out.length === expected) {
          clearTimeout(timer)
          resolve()
        }
      },
    })
  })
  await consumer.disconnect()
  return out
}

describe('collector: scoped ingest keys and hostile requests', () => {
  let collector: CollectorApp<'web' | 'backend' | 'pagesOnly'>
  let t: TestEnv
  let app: FastifyInstance
  let producer: Producer
  let browser: string
  let server: string
  let narrow: string

  beforeAll(async () => {
    collector = await startCollectorApp('colscope', {
      env: {
        SPOR_TRUSTED_PROXIES: '10.9.9.9',
        SPOR_COLLECTOR_IP_RATE_LIMIT: '30',
        SPOR_CLIENT_MAX_BACKDATE_HOURS: '6',
      },
      keyCacheMs: 60_000,
      keys: {
        web: {},
        backend: { scopes: { profile: 'server' } },
        pagesOnly: { scopes: { eventTypes: ['page.*'] } },
      },
    })
    ;({ t, app, producer } = collector)
    ;({ web: browser, backend: server, pagesOnly: narrow } = collector.keys)
  })
  afterAll(async () => {
    await collector?.close()
  })

  let address = 0
  const post = (
    events: unknown[],
    auth: string,
    extra: { headers?: Record<string, string>; from?: string } = {},
  ) =>
    app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}`, ...extra.headers },
      payload: JSON.stringify({ events }),
      // A fresh address per request unless the test is about addresses: the per-address limit is its own test.
      remoteAddress: extra.from ?? `203.0.113.${(address++ % 200) + 1}`,
    })

  it('a browser key sends only client-observable types; server-only types need a server key', async () => {
    const serverOnly = [
      'session.login',
      'session.login_failed',
      'privacy.export',
      'admin.user_deleted',
      'job.start',
      'message.send',
    ]
    const res = await post(
      [event('b-page', 'page.view'), ...serverOnly.map((type, i) => event(`b-${i}`, type))],
      browser,
    )
    expect(res.statusCode).toBe(202)
    expect(res.json().accepted).toBe(1)
    expect(res.json().rejected.map((r: { reason: string }) => r.reason)).toEqual(
      serverOnly.map(() => 'type_not_allowed'),
    )
    const fromServer = await post(
      serverOnly.map((type, i) => event(`s-${i}`, type)),
      server,
    )
    expect(fromServer.statusCode).toBe(202)
    expect(fromServer.json()).toEqual({ accepted: serverOnly.length, rejected: [] })
  })

  it("a key's explicit allow-list narrows its profile", async () => {
    const res = await post([event('n-page', 'page.view'), event('n-feature', 'feature.use')], narrow)
    expect(res.json()).toMatchObject({ accepted: 1, rejected: [{ index: 1, reason: 'type_not_allowed' }] })
  })

  it("refuses spor's own id namespace from every key", async () => {
    for (const auth of [browser, server]) {
      const res = await post(
        [
          event('privacy-export-0b8f6a1e-1c1e-4d7e-9d55-6a1f0e2b3c4d', 'page.view'),
          event('spor-anything', 'page.view'),
        ],
        auth,
      )
      expect(res.statusCode).toBe(400)
      expect(res.json().rejected.map((r: { reason: string }) => r.reason)).toEqual([
        'reserved_id',
        'reserved_id',
      ])
    }
  })

  it('a browser key cannot backdate events beyond the bound; a server key can (within retention)', async () => {
    const old = new Date(Date.now() - 7 * HOUR).toISOString()
    const recent = new Date(Date.now() - 5 * HOUR).toISOString()
    const res = await post(
      [event('old-b', 'page.view', { ts: old }), event('recent-b', 'page.view', { ts: recent })],
      browser,
    )
    expect(res.json()).toMatchObject({ accepted: 1, rejected: [{ index: 0, reason: 'ts_too_old' }] })
    const fromServer = await post([event('old-s', 'page.view', { ts: old })], server)
    expect(fromServer.json()).toEqual({ accepted: 1, rejected: [] })
  })

  it('marks each produced event with its origin: client for browser keys, server for server keys', async () => {
    // 1 + 6 + 1 + 1 + 1 accepted by the tests above
    const records = await readWithHeaders(t, 10)
    const origin = Object.fromEntries(records.map((r) => [r.event.id, r.origin]))
    expect(origin['b-page']).toBe('client')
    expect(origin['recent-b']).toBe('client')
    expect(origin['s-1']).toBe('server')
    expect(origin['old-s']).toBe('server')
    expect(records.every((r) => r.origin === 'client' || r.origin === 'server')).toBe(true)
  })

  it.each([['garbage'], ['unknown'], ['[2001:db8::1]:443']])(
    'behind a trusted proxy, X-Forwarded-For %j neither fails the batch nor becomes the IP',
    async (forwarded) => {
      const res = await post([event(`xff-${forwarded.length}`, 'page.view')], browser, {
        headers: { 'x-forwarded-for': forwarded },
        from: '10.9.9.9',
      })
      expect(res.statusCode).toBe(202)
      expect(res.json()).toEqual({ accepted: 1, rejected: [] })
    },
  )

  it('limits requests per address before authentication: random keys get 429, not a lookup each', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 40; i++) {
      const random = `spor_ik_${i.toString(16).padStart(16, '0')}_${'A'.repeat(43)}`
      statuses.push(
        (await post([event(`r-${i}`, 'page.view')], random, { from: '198.51.100.200' })).statusCode,
      )
    }
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true)
    expect(statuses.slice(30).every((s) => s === 429)).toBe(true)
    // Another address is not affected.
    expect((await post([event('other-address', 'page.view')], browser)).statusCode).toBe(202)
  })

  it('maps a cluster error during the key lookup to 503 with a request id and no cluster text', async () => {
    const broken = new KeyStore(t.es, `${t.name}-broken`, 0)
    await broken.ensureIndex()
    const key = (await broken.create({ kind: 'ingest', scope: 'tenant', tenant: 'acme', name: 'x' })).key
    await t.es.indices.close({ index: keysIndex(`${t.name}-broken`) })
    const brokenApp = await buildCollector({
      config: t.config,
      keys: broken,
      producer,
      log: t.log,
      clock: systemClock,
    })
    try {
      const res = await brokenApp.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        payload: JSON.stringify({ events: [event('closed', 'page.view')] }),
      })
      expect(res.statusCode).toBe(503)
      const body = res.json()
      expect(body).toMatchObject({ code: 'SPOR_ERR_UNAVAILABLE', requestId: expect.any(String) })
      expect(res.headers['x-request-id']).toBe(body.requestId)
      expect(res.body).not.toMatch(/index_closed|closed|broken|exception|shard/i)
    } finally {
      await brokenApp.close()
      await t.es.indices.delete({ index: keysIndex(`${t.name}-broken`) })
    }
  })
})
