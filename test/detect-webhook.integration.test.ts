import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../core/config.ts'
import { verifyWebhook } from '../detect/webhook.ts'
import { attackScenarios } from '../generate/attacks.ts'
import { type DetectHandle, detectCaughtUp, produce, startDetect, storedAlerts } from './helpers/detect.ts'
import { createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

const SECRET = 'webhook-test-secret-0123456789'

/** A receiver on 127.0.0.1 that fails the first `failFirst` deliveries with 503. */
async function receiver(failFirst: number) {
  const app: FastifyInstance = Fastify()
  const received: { body: string; signature: string | undefined; at: number }[] = []
  let attempts = 0
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body))
  app.post('/hook', async (request, reply) => {
    attempts++
    if (attempts <= failFirst) return reply.code(503).send('busy')
    received.push({
      body: request.body as string,
      signature: request.headers['x-spor-signature'] as string | undefined,
      at: Date.now(),
    })
    return { ok: true }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  return { app, received, attempts: () => attempts, url: `http://127.0.0.1:${port}/hook` }
}

describe('detect: webhook', () => {
  let t: TestEnv
  let detect: DetectHandle | undefined
  let hook: Awaited<ReturnType<typeof receiver>>

  beforeAll(async () => {
    t = await createTestEnv('detecthook')
    hook = await receiver(3)
  })
  afterAll(async () => {
    await detect?.stop()
    await hook?.app.close()
    await t?.cleanup()
  })

  it('delivers a correctly signed alert after retrying a failing receiver, without holding up detection', async () => {
    const config = loadConfig({
      ...t.env,
      SPOR_DETECT_WEBHOOK_URL: hook.url,
      SPOR_DETECT_WEBHOOK_SECRET: SECRET,
      SPOR_RETRY_BASE_MS: '300',
    })
    detect = await startDetect(t, config)
    const [brute] = attackScenarios({ seed: 3, tenant: 'acme', end: new Date() })
    await produce(t.kafka, t.config.kafka.eventsTopic, brute!.events)

    const stored = await waitFor(
      () => storedAlerts(t),
      (a) => a.length === 1,
      { what: 'alert stored' },
    )
    const storedAt = Date.parse(stored[0]!.raised_at)
    await waitFor(
      async () => hook.received.length,
      (n) => n >= 1,
      { what: 'webhook delivery', timeoutMs: 30_000 },
    )

    expect(hook.attempts()).toBeGreaterThanOrEqual(4)
    const [delivery] = hook.received
    expect(verifyWebhook(SECRET, delivery!.signature, delivery!.body)).toBe(true)
    expect(verifyWebhook('another-secret-0123456789', delivery!.signature, delivery!.body)).toBe(false)
    const payload = JSON.parse(delivery!.body)
    expect(payload).toMatchObject({
      change: 'raised',
      alert: { rule: 'brute_force', alert_id: stored[0]!.alert_id },
    })
    // Stored first; the webhook only succeeded after its retries.
    expect(delivery!.at).toBeGreaterThan(storedAt)
    // Every alert the events raise is stored and queued, and the queue is empty: no second
    // delivery can follow.
    await detectCaughtUp(t, [detect])
    await waitFor(
      async () => detect!.service.webhookPending,
      (n) => n === 0,
      { what: 'the webhook queue to drain', timeoutMs: 30_000, intervalMs: 100 },
    )
    expect(hook.received).toHaveLength(1)
  })

  it('keeps detecting while the webhook is unreachable', async () => {
    await detect?.stop()
    await hook.app.close()
    const config = loadConfig({
      ...t.env,
      SPOR_DETECT_WEBHOOK_URL: hook.url, // nothing listens there any more
      SPOR_DETECT_WEBHOOK_SECRET: SECRET,
    })
    detect = await startDetect(t, config, 'unreachable')
    const scenarios = attackScenarios({ seed: 4, tenant: 'acme', end: new Date() })
    const spray = scenarios.find((s) => s.name === 'password_spraying')!
    const spam = scenarios.find((s) => s.name === 'spam_burst')!
    await produce(t.kafka, t.config.kafka.eventsTopic, spray.events)
    await waitFor(
      () => storedAlerts(t),
      (a) => a.some((x) => x.rule === 'password_spraying'),
      { what: 'spraying' },
    )
    await produce(t.kafka, t.config.kafka.eventsTopic, spam.events)
    await waitFor(
      () => storedAlerts(t),
      (a) => a.some((x) => x.rule === 'spam_burst'),
      { what: 'spam' },
    )
    expect(detect.service.webhookPending).toBeGreaterThanOrEqual(1)
  })
})
