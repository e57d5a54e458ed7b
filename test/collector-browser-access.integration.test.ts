import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SporEvent } from '../core/event-schema.ts'
import { normalizeOrigin } from '../core/keys.ts'
import { PREFLIGHT_MAX_AGE_SECONDS } from '../ingest/collector/browser-access.ts'
import { type CollectorApp, startCollectorApp } from './helpers/collector-app.ts'
import { readTopic } from './helpers/dlq.ts'
import type { TestEnv } from './helpers/test-env.ts'

const PAGE = 'https://app.acme.example'
const event = (id: string) => ({
  v: 1,
  id,
  type: 'page.view',
  ts: new Date().toISOString(),
  user: 'u1',
  module: 'crm',
  function: 'contacts.view',
})

describe('collector: browsers (CORS per key, key outside the header, beacon bodies)', () => {
  let collector: CollectorApp<'web' | 'backend' | 'rl'>
  let t: TestEnv
  let app: FastifyInstance
  let browserKey: string
  let serverKey: string
  let limitedKey: string

  beforeAll(async () => {
    collector = await startCollectorApp('cors', {
      env: { SPOR_COLLECTOR_RATE_LIMIT: '8' },
      keys: {
        web: { allowedOrigins: [PAGE, 'http://127.0.0.1:8000'] },
        backend: {},
        rl: { allowedOrigins: [PAGE] },
      },
    })
    ;({ t, app } = collector)
    ;({ web: browserKey, backend: serverKey, rl: limitedKey } = collector.keys)
  })
  afterAll(async () => {
    await collector?.close()
  })

  const preflight = (origin: string, key = browserKey, method = 'POST') =>
    app.inject({
      method: 'OPTIONS',
      url: `/v1/events?key=${encodeURIComponent(key)}`,
      headers: {
        origin,
        'access-control-request-method': method,
        'access-control-request-headers': 'content-type',
      },
    })

  it('answers a preflight from a listed origin with the CORS headers and a cache lifetime', async () => {
    const res = await preflight(PAGE)
    expect(res.statusCode).toBe(204)
    expect(res.headers['access-control-allow-origin']).toBe(PAGE)
    expect(res.headers['access-control-allow-methods']).toBe('POST')
    expect(String(res.headers['access-control-allow-headers'])).toMatch(/content-type/)
    expect(res.headers['access-control-max-age']).toBe(String(PREFLIGHT_MAX_AGE_SECONDS))
    expect(res.headers.vary).toMatch(/Origin/)
  })

  it('refuses a preflight from an unlisted origin, with a wrong key, or for another method', async () => {
    for (const res of [
      await preflight('https://evil.example'),
      await preflight('https://app.acme.example.evil.example'),
      await preflight('null'),
      await preflight(PAGE, serverKey), // a key without origins is not for browsers at all
    ]) {
      expect(res.statusCode).toBe(403)
      expect(res.headers['access-control-allow-origin']).toBeUndefined()
      expect(res.json()).toMatchObject({ code: 'SPOR_ERR_FORBIDDEN' })
    }
    const wrong = await preflight(PAGE, `${browserKey.slice(0, -1)}x`)
    expect(wrong.statusCode).toBe(401)
    expect(wrong.headers['access-control-allow-origin']).toBeUndefined()
    expect((await preflight(PAGE, browserKey, 'DELETE')).statusCode).toBe(403)
  })

  it('accepts a beacon: text/plain JSON body with the key in the query, and the events reach Kafka', async () => {
    const res = await app.inject({
      method: 'POST',
      url: `/v1/events?key=${encodeURIComponent(browserKey)}`,
      headers: { origin: PAGE, 'content-type': 'text/plain;charset=UTF-8' },
      payload: JSON.stringify({ events: [event('beacon-1'), event('beacon-2')] }),
      remoteAddress: '203.0.113.20',
    })
    expect(res.statusCode).toBe(202)
    expect(res.json()).toMatchObject({ accepted: 2 })
    expect(res.headers['access-control-allow-origin']).toBe(PAGE)
    const produced = await readTopic<SporEvent>(t.kafka, t.config.kafka.eventsTopic, 2)
    expect(produced.map((e) => e.id).sort()).toEqual(['beacon-1', 'beacon-2'])
    expect(produced.every((e) => e.tenant === 'acme' && e.ip === '203.0.113.20')).toBe(true)
  })

  it('refuses a beacon with a wrong key (401) or from an unlisted origin (403), and a broken body (400)', async () => {
    const beacon = (key: string, origin: string, payload: string) =>
      app.inject({
        method: 'POST',
        url: `/v1/events?key=${encodeURIComponent(key)}`,
        headers: { origin, 'content-type': 'text/plain' },
        payload,
      })
    const body = JSON.stringify({ events: [event('nope')] })
    const wrong = await beacon(`${browserKey.slice(0, -2)}zz`, PAGE, body)
    expect(wrong.statusCode).toBe(401)
    expect(wrong.json()).toMatchObject({ code: 'SPOR_ERR_UNAUTHORIZED' })
    const foreign = await beacon(browserKey, 'https://evil.example', body)
    expect(foreign.statusCode).toBe(403)
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined()
    const broken = await beacon(browserKey, PAGE, '{"events": [')
    expect(broken.statusCode).toBe(400)
    expect(broken.json()).toMatchObject({ code: 'SPOR_ERR_BAD_REQUEST' })
    // The CORS headers are on the error too, so the page can read why.
    expect(broken.headers['access-control-allow-origin']).toBe(PAGE)
  })

  it('leaves requests without Origin (servers) as they were: header keys work without origins', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { authorization: `Bearer ${serverKey}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ events: [event('server-1')] }),
    })
    expect(res.statusCode).toBe(202)
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('counts query-string keys in the same rate-limit bucket as header keys', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 10; i++) {
      const viaQuery = i % 2 === 0
      const res = await app.inject({
        method: 'POST',
        url: viaQuery ? `/v1/events?key=${encodeURIComponent(limitedKey)}` : '/v1/events',
        headers: {
          'content-type': 'application/json',
          ...(viaQuery ? { origin: PAGE } : { authorization: `Bearer ${limitedKey}` }),
        },
        payload: JSON.stringify({ events: [event(`rl-${i}`)] }),
      })
      statuses.push(res.statusCode)
    }
    // Five requests each way: either way alone stays under the 8-per-minute limit, together they do not.
    expect(statuses.filter((s) => s === 202)).toHaveLength(8)
    expect(statuses.slice(8)).toEqual([429, 429])
  })
})

describe('normalizeOrigin', () => {
  it.each([
    ['https://app.example.com', 'https://app.example.com'],
    ['https://app.example.com/', 'https://app.example.com'],
    ['http://127.0.0.1:8000', 'http://127.0.0.1:8000'],
    ['https://APP.example.com', 'https://app.example.com'], // browsers send hosts in lower case
  ])('accepts %s', (input, expected) => {
    expect(normalizeOrigin(input)).toBe(expected)
  })
  it.each([
    '*',
    'null',
    'app.example.com',
    'ftp://app.example.com',
    'https://app.example.com/path',
    'https://user@app.example.com',
    'https://app.example.com:443',
  ])('refuses %s', (input) => {
    expect(() => normalizeOrigin(input)).toThrow(/origin|canonical/)
  })
})
