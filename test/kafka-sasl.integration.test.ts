import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { systemClock } from '../core/clock.ts'
import { createProducer } from '../core/kafka.ts'
import { KeyStore } from '../core/keys.ts'
import { attackScenarios } from '../generate/attacks.ts'
import { buildCollector } from '../ingest/collector/app.ts'
import type { IngestConsumer } from '../ingest/consumer.ts'
import { type DetectHandle, startDetect, storedAlerts } from './helpers/detect.ts'
import { startIngest } from './helpers/ingest.ts'
import { runSpor } from './helpers/run-process.ts'
import { saslStackEnv } from './helpers/sasl.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

const spor = runSpor

/**
 * Every Kafka client spor creates, through TLS + SCRAM-SHA-512 on the local broker's SASL_SSL
 * listener: setup (CLI), the collector's producer (snappy, spor's own compression setting),
 * ingest with its transactional dead-letter producers, and both detect stages.
 */
describe('secured Kafka: SASL_SSL with SCRAM-SHA-512', () => {
  let t: TestEnv
  let app: FastifyInstance
  let producer: Producer
  let ingest: IngestConsumer
  let detect: DetectHandle

  beforeAll(async () => {
    t = await createTestEnv('sasl', { ...saslStackEnv(), SPOR_KAFKA_COMPRESSION: 'snappy' })
    expect(t.config.kafkaConnection).toMatchObject({
      securityProtocol: 'SASL_SSL',
      saslMechanism: 'SCRAM-SHA-512',
    })
  })

  afterAll(async () => {
    await app?.close()
    await producer?.disconnect()
    await detect?.stop()
    await ingest?.stop()
    await t?.cleanup()
  })

  it('`spor setup` works over SASL_SSL', async () => {
    const result = await spor(['setup'], t.env)
    expect(result.stderr).not.toMatch(/SPOR_ERR/)
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('topics created: -')
  })

  it('collector → ingest → detect over SASL_SSL: indexed exactly once, the alert raised', async () => {
    ingest = await startIngest(t)
    detect = await startDetect(t)
    const keys = new KeyStore(t.es, t.config.es.indexPrefix, 0)
    const key = (
      await keys.create({
        kind: 'ingest',
        scope: 'tenant',
        tenant: 'acme',
        name: 'sasl',
        // The product's backend: the brute-force scenario sends failed logins, a server-only type.
        scopes: { profile: 'server' },
      })
    ).key
    producer = createProducer(t.kafka)
    await producer.connect()
    app = await buildCollector({ config: t.config, keys, producer, log: t.log, clock: systemClock })
    const [brute] = attackScenarios({ seed: 3, tenant: 'acme', end: new Date() })
    const events = brute!.events.map(({ tenant: _tenant, ...rest }) => rest)
    const response = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      payload: JSON.stringify({ events }),
      remoteAddress: '203.0.113.77',
    })
    expect(response.statusCode).toBe(202)
    const ids = events.map((e) => e.id)
    await waitFor(
      () => countDocs(t, undefined, { terms: { 'event.id': ids } }),
      (n) => n >= ids.length,
      { what: 'events indexed over SASL_SSL' },
    )
    const alerts = await waitFor(
      () => storedAlerts(t),
      (all) => all.some((a) => a.rule === 'brute_force'),
      { what: 'brute-force alert', timeoutMs: 90_000 },
    )
    expect(alerts.filter((a) => a.rule === 'brute_force')).toHaveLength(1)
    expect(await countDocs(t)).toBe(ids.length)
  })

  it('a wrong password ends the command at once with one clear line and a non-zero exit', async () => {
    const result = await spor(['setup'], { ...t.env, SPOR_KAFKA_SASL_PASSWORD: 'not-the-password' })
    expect(result.code).toBe(1)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/^spor: SPOR_ERR_KAFKA_AUTH: .*SASL SCRAM SHA512 authentication failed/)
  })

  it('an untrusted CA ends the command at once with one clear line and a non-zero exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spor-untrusted-'))
    const made = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=some other CA',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'ca.pem'),
    ])
    expect(made.status).toBe(0)
    const result = await spor(['setup'], { ...t.env, SPOR_KAFKA_SSL_CA_FILE: join(dir, 'ca.pem') })
    expect(result.code).toBe(1)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/^spor: SPOR_ERR_KAFKA_AUTH: .*not trusted \(SELF_SIGNED_CERT_IN_CHAIN/)
  })
})
