import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SporEvent } from '../core/event-schema.ts'
import { createProducer } from '../core/kafka.ts'
import { ORIGIN_HEADER } from '../core/key-scopes.ts'
import { attackScenarios } from '../generate/attacks.ts'
import { openSubjectExport } from '../privacy/export.ts'
import { subjectResolver } from '../privacy/subject.ts'
import { type DetectHandle, produce, startDetect, storedAlerts } from './helpers/detect.ts'
import { createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * Exports show only their subject (issue 15): alerts found through `related_users` also name the
 * other people involved. Real detection raises a harassment alert (four reporters against one
 * person, sent with a browser key, so also client-reported) and a password-spraying alert (one
 * IP against twenty accounts); each person's export must name nobody else.
 */
describe('privacy export: alerts projected to their subject', () => {
  let t: TestEnv
  let detect: DetectHandle
  const others = (exported: string, self: string, everyone: string[]) =>
    everyone.filter((u) => u !== self).filter((u) => new RegExp(`\\b${u}\\b`).test(exported))

  beforeAll(async () => {
    t = await createTestEnv('exportproj')
    detect = await startDetect(t)
    const scenarios = attackScenarios({ seed: 15, tenant: 'acme', end: new Date() })
    const harassment = scenarios.find((s) => s.name === 'harassment_target')!
    const spraying = scenarios.find((s) => s.name === 'password_spraying')!
    // The reports come through a browser key: the collector stamps them client-reported.
    const producer = createProducer(t.kafka)
    await producer.connect()
    await producer.send({
      topic: t.config.kafka.eventsTopic,
      acks: -1,
      messages: harassment.events.map((e: SporEvent) => ({
        key: `${e.tenant}:${e.user}`,
        value: JSON.stringify(e),
        headers: { [ORIGIN_HEADER]: 'client' },
      })),
    })
    await producer.disconnect()
    await produce(t.kafka, t.config.kafka.eventsTopic, spraying.events)
    // The four reports arrive on the partitions of their reporters, in any order: the alert is
    // raised at the third reporter the rule stage sees and the fourth is merged into it after.
    // Wait for the whole incident, not its first write.
    await waitFor(
      () => storedAlerts(t),
      (alerts) =>
        alerts.some((a) => a.rule === 'harassment_target' && a.counts.client_reported_events === 4) &&
        alerts.some((a) => a.rule === 'password_spraying'),
      { what: 'harassment alert with all four reports, and the spraying alert, stored', timeoutMs: 60_000 },
    )
  })
  afterAll(async () => {
    await detect?.stop()
    await t?.cleanup()
  })

  async function exportedAlerts(user: string) {
    const resolve = subjectResolver(t.config)
    const exp = await openSubjectExport(
      { es: t.es, config: t.config, log: t.log, now: () => new Date() },
      resolve('acme', user),
      { key: 'test' },
    )
    expect(exp).toBeDefined()
    const alerts = []
    for await (const record of exp!.records()) if (record.class === 'alerts') alerts.push(record.document)
    return alerts
  }

  it('the stored harassment alert names the reporters and says it was client-reported', async () => {
    const stored = (await storedAlerts(t)).find((a) => a.rule === 'harassment_target')!
    expect(stored.related_users).toEqual(expect.arrayContaining(['h-victim', 'rep-a', 'rep-b']))
    expect(stored.counts.client_reported_events).toBe(4)
    expect(stored.explanation).toMatch(/client-reported/)
  })

  it("the harassed person's export does not name who reported them", async () => {
    const reporters = ['rep-a', 'rep-b', 'rep-c', 'rep-d']
    const alerts = await exportedAlerts('h-victim')
    expect(alerts).toHaveLength(1)
    const text = JSON.stringify(alerts)
    expect(others(text, 'h-victim', reporters)).toEqual([])
    expect(alerts[0]).toMatchObject({
      rule: 'harassment_target',
      subject: { kind: 'target', value: 'user:h-victim' },
      related_users: ['h-victim'],
      counts: { client_reported_events: 4 },
    })
    expect(alerts[0]).not.toHaveProperty('evidence_event_ids')
  })

  it("a reporter's export names neither the reported person nor the other reporters", async () => {
    const alerts = await exportedAlerts('rep-a')
    expect(alerts).toHaveLength(1)
    const text = JSON.stringify(alerts)
    expect(others(text, 'rep-a', ['h-victim', 'rep-b', 'rep-c', 'rep-d'])).toEqual([])
    expect(alerts[0]).toMatchObject({ subject: { kind: 'target' }, related_users: ['rep-a'] })
    expect(alerts[0]!.subject).not.toHaveProperty('value')
  })

  it("a sprayed account's export lists neither the other accounts nor the attacking address", async () => {
    const sprayed = Array.from({ length: 20 }, (_, i) => `spray-${i}`)
    const stored = (await storedAlerts(t)).find((a) => a.rule === 'password_spraying')!
    expect(stored.related_users.length).toBeGreaterThan(5)
    const alerts = await exportedAlerts('spray-3')
    expect(alerts).toHaveLength(1)
    const text = JSON.stringify(alerts)
    expect(others(text, 'spray-3', sprayed)).toEqual([])
    expect(text).not.toContain(stored.subject.value) // the IP
    expect(alerts[0]).toMatchObject({ rule: 'password_spraying', related_users: ['spray-3'] })
  })
})
