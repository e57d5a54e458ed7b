import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { systemClock } from '../core/clock.ts'
import { KeyStore } from '../core/keys.ts'
import { AlertStore } from '../detect/alert-store.ts'
import type { Finding } from '../detect/findings.ts'
import { type Incident, IncidentTracker } from '../detect/incidents.ts'
import { buildQueryApp } from '../query/app.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

/** The alerts API on real Elasticsearch: tenant keys only (alerts name people), tenant scoping,
 * filters, acknowledgement that sticks. */
const T0 = Date.now() - 3_600_000
const finding = (
  tenant: string,
  account: string,
  evidence: string[],
  rule: Finding['rule'] = 'brute_force',
): Finding => ({
  rule,
  severity: 'high',
  tenant,
  subject: { kind: 'account', value: account },
  relatedUsers: [account.split('@')[0]!],
  windowStart: T0,
  windowEnd: T0 + evidence.length * 1000,
  counts: { failures: evidence.length },
  evidence,
  explanation: `${evidence.length} failed logins on ${account}`,
})

describe('alerts API', () => {
  let t: TestEnv
  let app: FastifyInstance
  let store: AlertStore
  let tracker: IncidentTracker
  const key: Record<string, string> = {}
  const ids: Record<string, string> = {}
  const get = (url: string, who: string) =>
    app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key[who]}` } })

  async function raise(f: Finding): Promise<Incident> {
    const { incident } = await tracker.absorb(f, 1_800_000)
    await store.write([incident], Date.now())
    incident.persisted = true
    return incident
  }

  beforeAll(async () => {
    t = await createTestEnv('detectapi')
    store = new AlertStore(t.es, t.config.es.indexPrefix)
    tracker = new IncidentTracker({ find: store.find, indexPrefix: t.config.es.indexPrefix, maxOpen: 100 })
    ids.acme = (await raise(finding('acme', 'ann@acme.example', ['e1', 'e2']))).alertId
    ids.acmeSpray = (await raise(finding('acme', 'bo@acme.example', ['e5'], 'password_spraying'))).alertId
    ids.globex = (await raise(finding('globex', 'gus@globex.example', ['e3', 'e4']))).alertId
    const keys = new KeyStore(t.es, t.config.es.indexPrefix, 0)
    key.acme = (await keys.create({ kind: 'api', scope: 'tenant', tenant: 'acme', name: 'acme admin' })).key
    key.globex = (
      await keys.create({ kind: 'api', scope: 'tenant', tenant: 'globex', name: 'globex admin' })
    ).key
    key.product = (await keys.create({ kind: 'api', scope: 'product', name: 'security team' })).key
    app = await buildQueryApp({ config: t.config, es: t.es, keys, log: t.log, clock: systemClock })
  })
  afterAll(async () => {
    await app?.close()
    await t?.cleanup()
  })

  it('lists only the own tenant for a tenant key, and filters', async () => {
    const acme = (await get('/v1/alerts', 'acme')).json()
    expect(acme.alerts.map((a: { alert_id: string }) => a.alert_id).sort()).toEqual(
      [ids.acme, ids.acmeSpray].sort(),
    )
    expect((await get('/v1/alerts?tenant=globex', 'acme')).statusCode).toBe(404)
    const byRule = (await get('/v1/alerts?rule=password_spraying', 'acme')).json()
    expect(byRule.alerts.map((a: { alert_id: string }) => a.alert_id)).toEqual([ids.acmeSpray])
    const byUser = (await get('/v1/alerts?user=ann', 'acme')).json()
    expect(byUser.alerts.map((a: { alert_id: string }) => a.alert_id)).toEqual([ids.acme])
    expect((await get('/v1/alerts?rule=nope', 'acme')).statusCode).toBe(400)
  })

  it('refuses a product-wide key: alerts hold IPs, usernames and user ids', async () => {
    for (const url of ['/v1/alerts', '/v1/alerts?tenant=acme', `/v1/alerts/${ids.acme}`]) {
      const response = await get(url, 'product')
      expect(response.statusCode).toBe(403)
      expect(response.json().code).toBe('SPOR_ERR_FORBIDDEN')
      expect(response.body).not.toContain('ann@acme')
    }
    const ack = await app.inject({
      method: 'POST',
      url: `/v1/alerts/${ids.acme}/acknowledge`,
      headers: { authorization: `Bearer ${key.product}` },
      payload: { by: 'security-team' },
    })
    expect(ack.statusCode).toBe(403)
    expect((await get(`/v1/alerts/${ids.acme}`, 'acme')).json().status).toBe('open')
  })

  it("answers 404 for another tenant's alert", async () => {
    expect((await get(`/v1/alerts/${ids.globex}`, 'acme')).statusCode).toBe(404)
    expect((await get(`/v1/alerts/${ids.globex}`, 'globex')).json().evidence_event_ids).toEqual(['e3', 'e4'])
  })

  it('acknowledges, and a later detector update keeps the acknowledgement', async () => {
    const ack = await app.inject({
      method: 'POST',
      url: `/v1/alerts/${ids.acme}/acknowledge`,
      headers: { authorization: `Bearer ${key.acme}` },
      payload: { by: 'admin-1' },
    })
    expect(ack.statusCode).toBe(200)
    expect(ack.json()).toMatchObject({ status: 'acknowledged', acknowledged_by: 'admin-1' })
    const crossAck = await app.inject({
      method: 'POST',
      url: `/v1/alerts/${ids.globex}/acknowledge`,
      headers: { authorization: `Bearer ${key.acme}` },
      payload: {},
    })
    expect(crossAck.statusCode).toBe(404)

    // The attack goes on: the detector updates the same alert.
    await raise(finding('acme', 'ann@acme.example', ['e1', 'e2', 'e6']))
    const after = (await get(`/v1/alerts/${ids.acme}`, 'acme')).json()
    expect(after).toMatchObject({ status: 'acknowledged', acknowledged_by: 'admin-1', evidence_total: 3 })
    expect((await get('/v1/alerts?status=open', 'acme')).json().alerts).toHaveLength(1)
  })
})
