import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mixedTraffic, type Scenario } from '../generate/attacks.ts'
import {
  alertsTopicMessages,
  type DetectHandle,
  detectCaughtUp,
  p95,
  produce,
  startDetect,
  storedAlerts,
  summary,
} from './helpers/detect.ts'
import { createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * Detection end to end on the real stack: a day of realistic traffic for two tenants (with the
 * benign look-alikes: plane travel, a shared office IP, a phone switching mobile networks) and
 * every scripted attack, through Kafka, the repartition topic and the rules into Elasticsearch.
 */
describe('detect: attacks in a day of traffic', () => {
  let t: TestEnv
  let detect: DetectHandle
  let scenarios: Scenario[]
  let produced = 0

  beforeAll(async () => {
    t = await createTestEnv('detect')
    detect = await startDetect(t)
    const mixed = mixedTraffic({
      seed: 11,
      tenants: ['acme', 'beta'],
      usersPerTenant: 60,
      end: new Date(),
      attacks: true,
    })
    scenarios = mixed.scenarios
    produced = mixed.events.length
    await produce(t.kafka, t.config.kafka.eventsTopic, mixed.events)
  })

  afterAll(async () => {
    await detect?.stop()
    await t?.cleanup()
  })

  it('raises exactly the expected alerts, once each, with their evidence', async () => {
    const expected = scenarios.flatMap((s) => s.expect)
    await waitFor(
      () => storedAlerts(t),
      (alerts) => alerts.length >= expected.length,
      { what: 'alerts', timeoutMs: 90_000 },
    )
    // The whole stream finished: a late duplicate or false positive would be stored by now.
    await detectCaughtUp(t, [detect])
    const alerts = await storedAlerts(t)
    const falsePositives = alerts.filter(
      (a) => !expected.some((e) => e.rule === a.rule && e.subject.value === a.subject.value),
    )
    console.log(
      `detect: ${produced} events, ${alerts.length} alerts, ${falsePositives.length} false positives, ` +
        `latency p95 ${p95(detect.latencies)} ms over ${detect.latencies.length} alert writes`,
    )
    expect(summary(alerts)).toEqual(expected.map((e) => `${e.rule} ${e.subject.value}`).sort())
    for (const e of expected) {
      const alert = alerts.find((a) => a.rule === e.rule && a.subject.value === e.subject.value)!
      expect(alert.tenant).toBe('acme')
      expect(alert.status).toBe('open')
      expect(alert.subject.kind).toBe(e.subject.kind)
      expect([...alert.evidence_event_ids].sort(), e.rule).toEqual([...e.evidence].sort())
      expect(alert.evidence_total).toBe(e.evidence.length)
      if (e.relatedUsers) expect(alert.related_users).toEqual(e.relatedUsers)
      expect(alert.explanation.length).toBeGreaterThan(20)
      expect(Date.parse(alert.window.start)).toBeLessThanOrEqual(Date.parse(alert.window.end))
    }
  })

  it('puts each alert on the alerts topic as raised exactly once', async () => {
    const messages = await alertsTopicMessages(t, 10)
    const raised = messages.filter((m) => m.change === 'raised')
    expect(summary(raised.map((m) => m.alert))).toEqual(summary(await storedAlerts(t)))
    expect(new Set(raised.map((m) => m.alert.alert_id)).size).toBe(raised.length)
  })
})
