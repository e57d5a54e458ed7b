import { gzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SporEvent } from '../core/event-schema.ts'
import { keysIndex, parseKeyText } from '../core/keys.ts'
import { type CollectorApp, startCollectorApp } from './helpers/collector-app.ts'
import { readTopic } from './helpers/dlq.ts'
import type { TestEnv } from './helpers/test-env.ts'

const event = (id: string, extra: Partial<SporEvent> = {}) => ({
  v: 1,
  id,
  type: 'page.view',
  ts: new Date().toISOString(),
  user: 'u1',
  session: 's1',
  module: 'crm',
  function: 'contacts.view',
  ...extra,
})

describe('collector: POST /v1/events', () => {
  let collector: CollectorApp<'web' | 'globex' | 'old'>
  let t: TestEnv
  let app: FastifyInstance
  let key: string
  let otherTenantKey: string
  let revokedKey: string

  beforeAll(async () => {
    collector = await startCollectorApp('collector', {
      env: {
        SPOR_COLLECTOR_BODY_LIMIT: '65536',
        SPOR_COLLECTOR_RATE_LIMIT: '20',
        SPOR_TRUSTED_PROXIES: '10.9.9.9',
      },
      keys: { web: {}, globex: { tenant: 'globex' }, old: { revoked: true } },
    })
    ;({ t, app } = collector)
    ;({ web: key, globex: otherTenantKey, old: revokedKey } = collector.keys)
  })
  afterAll(async () => {
    await collector?.close()
  })

  const post = (body: unknown, headers: Record<string, string> = {}, auth = key) =>
    app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}`, ...headers },
      payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
      remoteAddress: '203.0.113.9',
    })

  it('refuses a missing, wrong or revoked key with 401 and a clear JSON error', async () => {
    for (const auth of [
      '',
      'spor_ik_0000000000000000_' + 'A'.repeat(43),
      revokedKey,
      key.slice(0, -1) + 'x',
    ]) {
      const res = await post({ events: [event('e')] }, {}, auth)
      expect(res.statusCode).toBe(401)
      expect(res.json()).toMatchObject({
        code: 'SPOR_ERR_UNAUTHORIZED',
        message: expect.stringMatching(/key/),
      })
    }
  })

  it('stores keys only hashed', async () => {
    await t.es.indices.refresh({ index: keysIndex(t.name) })
    const stored = JSON.stringify((await t.es.search({ index: keysIndex(t.name), size: 100 })).hits.hits)
    // The secret is base64url, so it may itself contain '_': take it from the key's own parser.
    const secret = parseKeyText(key)?.secret
    expect(secret).toHaveLength(43)
    expect(stored).not.toContain(secret)
    expect(stored).toContain('"hash"')
  })

  it('answers 413 to an oversized body, also when it is gzip-compressed', async () => {
    const big = { events: [event('big', { props: { pad: 'x'.repeat(200) } })], pad: 'y'.repeat(70_000) }
    expect((await post(big)).statusCode).toBe(413)
    const bomb = gzipSync(Buffer.from(JSON.stringify(big)))
    expect(bomb.length).toBeLessThan(65_536)
    const res = await post(bomb, { 'content-encoding': 'gzip' })
    expect(res.statusCode).toBe(413)
    expect(res.json().code).toBe('SPOR_ERR_PAYLOAD_TOO_LARGE')
  })

  it('answers 400 to malformed bodies and lists per-event errors', async () => {
    for (const body of ['{"events": [', { notEvents: [] }, { events: [] }]) {
      const malformed = await post(body)
      expect(malformed.statusCode).toBe(400)
      expect(malformed.json().code).toBe('SPOR_ERR_BAD_REQUEST')
    }
    const res = await post({
      events: [
        event('bad-ts', { ts: 'yesterday' }),
        { v: 1, id: 'x', type: 'no.such_type', ts: new Date().toISOString() },
      ],
    })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('SPOR_ERR_BAD_REQUEST')
    expect(res.json().rejected).toEqual([
      expect.objectContaining({
        index: 0,
        id: 'bad-ts',
        reason: 'schema_violation',
        errors: [expect.stringMatching(/\/ts/)],
      }),
      expect.objectContaining({ index: 1, id: 'x', reason: 'unknown_type' }),
    ])
  })

  it('accepts a valid gzip batch, adds IP, user agent and client hints, and the events reach Kafka', async () => {
    const ua =
      'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36'
    const body = gzipSync(
      Buffer.from(
        JSON.stringify({
          events: [
            event('ok-1'),
            event('ok-2', { ip: '1.2.3.4' }),
            event('wrong-tenant', { tenant: 'globex' }),
          ],
        }),
      ),
    )
    const res = await post(body, {
      'content-encoding': 'gzip',
      'user-agent': ua,
      'sec-ch-ua-platform': '"Android"',
      'sec-ch-ua-model': '"Pixel 8"',
      'sec-ch-ua-mobile': '?1',
      'x-forwarded-for': '198.51.100.77', // not from a trusted proxy: ignored
    })
    expect(res.statusCode).toBe(202)
    expect(res.json()).toEqual({
      accepted: 2,
      rejected: [expect.objectContaining({ index: 2, reason: 'tenant_mismatch' })],
    })

    const produced = await readTopic<SporEvent>(t.kafka, t.config.kafka.eventsTopic, 2)
    expect(produced.map((e) => e.id).sort()).toEqual(['ok-1', 'ok-2'])
    for (const e of produced) {
      expect(e.tenant).toBe('acme')
      // The socket's address, not the client's claim and not the untrusted forwarded header.
      expect(e.ip).toBe('203.0.113.9')
      expect(e.device).toEqual({ ua, ch: { platform: 'Android', model: 'Pixel 8', mobile: true } })
    }
  })

  it('takes the client IP from X-Forwarded-For only behind a trusted proxy', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${otherTenantKey}`,
        'x-forwarded-for': '198.51.100.77',
      },
      payload: JSON.stringify({ events: [event('via-proxy', { tenant: 'globex' })] }),
      remoteAddress: '10.9.9.9',
    })
    expect(res.statusCode).toBe(202)
    const produced = await readTopic<SporEvent>(t.kafka, t.config.kafka.eventsTopic, 3)
    expect(produced.find((e) => e.id === 'via-proxy')?.ip).toBe('198.51.100.77')
  })

  it('answers 429 when a key exceeds its rate limit', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 25; i++) statuses.push((await post({ events: [event(`rl-${i}`)] })).statusCode)
    expect(statuses).toContain(429)
    const limited = await post({ events: [event('rl-last')] })
    expect(limited.json()).toMatchObject({ statusCode: 429, code: 'SPOR_ERR_RATE_LIMITED' })
  })
})
