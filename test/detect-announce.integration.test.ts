import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SporEvent } from '../core/event-schema.ts'
import { classIndex } from '../core/indices.ts'
import { ALERT_PROPERTIES } from '../detect/alert-mapping.ts'
import { AlertStore } from '../detect/alert-store.ts'
import type { Finding } from '../detect/findings.ts'
import { IncidentTracker } from '../detect/incidents.ts'
import { templateName } from '../ilm-policies/templates.ts'
import {
  alertsTopicMessages,
  type DetectHandle,
  produce,
  startDetect,
  storedAlerts,
} from './helpers/detect.ts'
import { createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * A process that died between the alert write and the `raised` message left an alert that was
 * never announced. The crash is reproduced exactly, without timing: the alert is written the way
 * the detector writes it, and no message is produced. The next detector that takes the alert over
 * announces it, once; a detector after that does not announce it again.
 */
const MIN = 60_000
const failures = (from: number, first: number, count: number): SporEvent[] =>
  Array.from({ length: count }, (_, i) => ({
    v: 1 as const,
    id: `an-dave-${first + i}`,
    type: 'session.login_failed',
    ts: new Date(from + (first + i) * 10_000).toISOString(),
    tenant: 'acme',
    user: 'dave',
    username: 'dave@acme.example',
    ip: '5.6.7.8',
  }))

describe('detect: an alert stored but never announced', () => {
  let t: TestEnv
  let detect: DetectHandle | undefined
  const start = Date.now() - 10 * MIN
  const before = failures(start, 0, 10)

  beforeAll(async () => {
    t = await createTestEnv('detectannounce')
  })
  afterAll(async () => {
    await detect?.stop()
    await t?.cleanup()
  })

  it('is announced as raised by the next process, exactly once', async () => {
    // What the killed process left behind: the alert document, without announced_at.
    const store = new AlertStore(t.es, t.config.es.indexPrefix)
    const tracker = new IncidentTracker({
      find: store.find,
      indexPrefix: t.config.es.indexPrefix,
      maxOpen: 10,
    })
    const { incident } = await tracker.absorb(
      {
        rule: 'brute_force',
        severity: 'high',
        tenant: 'acme',
        subject: { kind: 'account', value: 'dave@acme.example' },
        relatedUsers: ['dave'],
        windowStart: Date.parse(before[0]!.ts),
        windowEnd: Date.parse(before[9]!.ts),
        counts: { failures: 10 },
        evidence: before.map((e) => e.id),
        explanation: '10 failed logins',
      },
      30 * MIN,
    )
    await store.write([incident], Date.now())
    expect((await storedAlerts(t))[0]).not.toHaveProperty('announced_at')

    // The events it had read are replayed, with two more.
    detect = await startDetect(t, t.config, 'next')
    await produce(t.kafka, t.config.kafka.eventsTopic, [...before, ...failures(start, 10, 2)])
    await waitFor(
      () => storedAlerts(t),
      (a) => a.length === 1 && a[0]!.evidence_total === 12 && a[0]!.announced_at !== undefined,
      { what: 'the alert taken over, updated and marked announced' },
    )
    let raised = (await alertsTopicMessages(t, 1)).filter((m) => m.change === 'raised')
    expect(raised.map((m) => m.alert.alert_id)).toEqual([incident.alertId])
    await detect.stop()
    detect = undefined

    // A later process replays the lookback again and continues the attack: updates only.
    detect = await startDetect(t, t.config, 'later')
    await produce(t.kafka, t.config.kafka.eventsTopic, failures(start, 12, 2))
    await waitFor(
      () => storedAlerts(t),
      (a) => a[0]?.evidence_total === 14,
      { what: 'the alert updated by the later process' },
    )
    const messages = await alertsTopicMessages(t, 2)
    raised = messages.filter((m) => m.change === 'raised')
    expect(raised.map((m) => m.alert.alert_id)).toEqual([incident.alertId])
    expect(messages.filter((m) => m.change === 'updated').length).toBeGreaterThan(0)
    expect(await storedAlerts(t)).toHaveLength(1)
  })
})

describe('detect: alert indices created before announced_at existed', () => {
  let t: TestEnv

  beforeAll(async () => {
    t = await createTestEnv('detectannmap')
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('get the field from ensureMapping (run when detect starts), so the announce mark is not rejected', async () => {
    // Today's alerts index as the previous release created it (strict, without announced_at).
    const prefix = t.config.es.indexPrefix
    await t.es.indices.deleteIndexTemplate({ name: templateName(prefix, 'alerts') })
    const { announced_at: _new, ...oldProperties } = ALERT_PROPERTIES
    const index = classIndex(prefix, 'alerts', new Date())
    await t.es.indices.create({ index, mappings: { dynamic: 'strict', properties: oldProperties } })

    const store = new AlertStore(t.es, prefix)
    const tracker = new IncidentTracker({ find: store.find, indexPrefix: prefix, maxOpen: 10 })
    const finding: Finding = {
      rule: 'brute_force',
      severity: 'high',
      tenant: 'acme',
      subject: { kind: 'account', value: 'olga@acme.example' },
      relatedUsers: ['olga'],
      windowStart: Date.now() - 60_000,
      windowEnd: Date.now(),
      counts: { failures: 10 },
      evidence: ['o1'],
      explanation: '10 failed logins',
    }
    const { incident } = await tracker.absorb(finding, 30 * MIN)
    await store.write([incident], Date.now())
    await expect(store.markAnnounced([incident], Date.now())).rejects.toThrow(/announce mark failed/)

    await store.ensureMapping()
    await store.markAnnounced([incident], Date.now())
    expect((await storedAlerts(t))[0]!.announced_at).toBeDefined()
  })
})
