import type { FastifyInstance } from 'fastify'
import type { Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { systemClock } from '../core/clock.ts'
import { createEsClient } from '../core/es.ts'
import { KeyStore } from '../core/keys.ts'
import { buildCollector } from '../ingest/collector/app.ts'
import { type CollectorApp, pageView, startCollectorApp } from './helpers/collector-app.ts'
import { endOffsets, sum } from './helpers/offsets.ts'
import { type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * Collector outcomes not covered by collector.integration.test.ts, each produced for real: the
 * `x-spor-key` header, the per-request event limit, the key store unreachable (503), and how
 * long a revoked key keeps working (the key cache).
 */
const MAX_EVENTS = 5
// Long enough that the post right after a revocation surely still hits the cache on a busy machine.
const KEY_CACHE_MS = 4000

const event = pageView

describe('collector: statuses and codes', () => {
  let collector: CollectorApp<'web' | 'pagesOnly'>
  let t: TestEnv
  let app: FastifyInstance
  let producer: Producer
  let keys: KeyStore
  let key: string

  beforeAll(async () => {
    collector = await startCollectorApp('collstatus', {
      env: { SPOR_COLLECTOR_MAX_EVENTS: String(MAX_EVENTS), SPOR_COLLECTOR_RATE_LIMIT: '1000' },
      keyCacheMs: KEY_CACHE_MS,
      keys: { web: {}, pagesOnly: { scopes: { eventTypes: ['page.*'] } } },
    })
    ;({ t, app, producer, keyStore: keys } = collector)
    key = collector.keys.web
  })
  afterAll(async () => {
    await collector?.close()
  })

  const post = (events: unknown[], headers: Record<string, string>) =>
    app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': 'application/json', ...headers },
      payload: JSON.stringify({ events }),
      remoteAddress: '203.0.113.9',
    })
  const bearer = (k: string) => ({ authorization: `Bearer ${k}` })

  it('accepts the key in the x-spor-key header (for clients that cannot set Authorization)', async () => {
    const before = sum(await endOffsets(t))
    const res = await post([event('xkey-1')], { 'x-spor-key': key })
    expect(res.statusCode).toBe(202)
    expect(res.json()).toEqual({ accepted: 1, rejected: [] })
    expect(sum(await endOffsets(t))).toBe(before + 1)
    // A wrong key in the header is refused like a wrong bearer token.
    const wrong = await post([event('xkey-2')], { 'x-spor-key': `${key.slice(0, -1)}x` })
    expect(wrong.statusCode).toBe(401)
    expect(wrong.json().code).toBe('SPOR_ERR_UNAUTHORIZED')
  })

  it(`takes at most ${MAX_EVENTS} events per request (413, nothing produced), exactly ${MAX_EVENTS} is fine`, async () => {
    const before = sum(await endOffsets(t))
    const over = await post(
      Array.from({ length: MAX_EVENTS + 1 }, (_, i) => event(`many-${i}`)),
      bearer(key),
    )
    expect(over.statusCode).toBe(413)
    expect(over.json()).toMatchObject({
      code: 'SPOR_ERR_PAYLOAD_TOO_LARGE',
      message: expect.stringMatching(/at most 5/),
    })
    expect(sum(await endOffsets(t))).toBe(before)
    const full = await post(
      Array.from({ length: MAX_EVENTS }, (_, i) => event(`full-${i}`)),
      bearer(key),
    )
    expect(full.statusCode).toBe(202)
    expect(sum(await endOffsets(t))).toBe(before + MAX_EVENTS)
  })

  it('answers 403 SPOR_ERR_FORBIDDEN when every event is valid but outside the key scope; 400 when anything else is wrong', async () => {
    const narrow = collector.keys.pagesOnly
    const before = sum(await endOffsets(t))
    const outside = { ...event('scope-1'), type: 'feature.use' }
    const loginFromBrowser = { ...event('scope-2'), type: 'session.login', username: 'victim' }
    const forbidden = await post([outside], bearer(narrow))
    expect(forbidden.statusCode).toBe(403)
    expect(forbidden.json()).toMatchObject({
      code: 'SPOR_ERR_FORBIDDEN',
      message: expect.stringMatching(/ingest key/),
      rejected: [{ index: 0, id: 'scope-1', reason: 'type_not_allowed' }],
    })
    // A browser key (the default profile) sending only server-side types: the same answer.
    const serverOnly = await post([loginFromBrowser], bearer(key))
    expect(serverOnly.statusCode).toBe(403)
    expect(serverOnly.json().rejected).toEqual([expect.objectContaining({ reason: 'type_not_allowed' })])
    // A scope refusal next to an invalid event is a bad request: the payload needs fixing first.
    const mixed = await post([outside, { ...event('scope-3'), ts: 'yesterday' }], bearer(narrow))
    expect(mixed.statusCode).toBe(400)
    expect(mixed.json().code).toBe('SPOR_ERR_BAD_REQUEST')
    // spor's own id namespace is refused from every key: a bad request, not a matter of scope.
    const reserved = await post([event('spor-scope-4')], bearer(narrow))
    expect(reserved.statusCode).toBe(400)
    expect(reserved.json().rejected).toEqual([expect.objectContaining({ reason: 'reserved_id' })])
    expect(sum(await endOffsets(t))).toBe(before)
    // One allowed event among them is accepted; the refused one is listed.
    const partial = await post([outside, event('scope-5')], bearer(narrow))
    expect(partial.statusCode).toBe(202)
    expect(partial.json()).toEqual({
      accepted: 1,
      rejected: [expect.objectContaining({ index: 0, reason: 'type_not_allowed' })],
    })
    expect(sum(await endOffsets(t))).toBe(before + 1)
  })

  it('answers 503 SPOR_ERR_UNAVAILABLE when the key store cannot be reached', async () => {
    // A key store on a cluster nobody listens on (port 1 refuses connections).
    const deadEs = createEsClient({ ...t.config, es: { ...t.config.es, url: 'http://127.0.0.1:1' } })
    const isolated = await buildCollector({
      config: t.config,
      keys: new KeyStore(deadEs, t.config.es.indexPrefix, 0),
      producer,
      log: t.log,
      clock: systemClock,
    })
    try {
      const res = await isolated.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { 'content-type': 'application/json', ...bearer(key) },
        payload: JSON.stringify({ events: [event('nokeystore')] }),
      })
      expect(res.statusCode).toBe(503)
      const { requestId, ...body } = res.json()
      expect(body).toEqual({
        statusCode: 503,
        code: 'SPOR_ERR_UNAVAILABLE',
        message: 'a backing service is unavailable',
      })
      // The id that ties the answer to the log line, never the cluster's own text.
      expect(requestId).toMatch(/^[\w-]{8,}$/)
      expect(res.headers['x-request-id']).toBe(requestId)
    } finally {
      await isolated.close()
      await deadEs.close()
    }
  })

  it(`a revoked key keeps working only until the key cache expires (${KEY_CACHE_MS} ms)`, async () => {
    const created = await keys.create({
      kind: 'ingest',
      scope: 'tenant',
      tenant: 'acme',
      name: 'soon-revoked',
    })
    expect((await post([event('rev-1')], bearer(created.key))).statusCode).toBe(202) // now cached
    // Revoked by another process (its own store): this collector learns it from Elasticsearch.
    await new KeyStore(t.es, t.config.es.indexPrefix, 0).revoke(created.record.id)
    // Still accepted from the cache right after the revocation...
    expect((await post([event('rev-2')], bearer(created.key))).statusCode).toBe(202)
    // ...and refused once the cached entry has expired, within the configured delay.
    const refused = await waitFor(
      () => post([event('rev-3')], bearer(created.key)),
      (res) => res.statusCode === 401,
      { timeoutMs: KEY_CACHE_MS + 5_000, intervalMs: 100, what: 'the revoked key to be refused' },
    )
    expect(refused.json().code).toBe('SPOR_ERR_UNAUTHORIZED')
  })
})
