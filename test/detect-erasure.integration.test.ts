import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SporEvent } from '../core/event-schema.ts'
import { detectMetrics } from '../detect/metrics.ts'
import { eraseSubject } from '../privacy/erase.ts'
import { subjectResolver } from '../privacy/subject.ts'
import { type DetectHandle, produce, startDetect, storedAlerts } from './helpers/detect.ts'
import { createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * Erasure (S9) and detection: once a person is erased, neither their later or replayed events
 * (repartition stage) nor their signals still on the repartition topic (rule stage, when a
 * restart replays the lookback) raise or update alerts about them. The alert raised before the
 * erasure is kept until its retention (S7), untouched.
 */
const MIN = 60_000
const failures = (user: string, ip: string, from: number, tag: string): SporEvent[] =>
  Array.from({ length: 12 }, (_, i) => ({
    v: 1 as const,
    id: `er-${user}-${tag}-${i}`,
    type: 'session.login_failed',
    ts: new Date(from + i * 10_000).toISOString(),
    tenant: 'acme',
    user,
    username: `${user}@acme.example`,
    ip,
  }))

async function erasedSkipped(stage: 'repartition' | 'rules'): Promise<number> {
  const { values } = await detectMetrics.erased.get()
  return values.find((v) => v.labels.stage === stage)?.value ?? 0
}

describe('detect: erased subjects', () => {
  let t: TestEnv
  let detect: DetectHandle | undefined
  const now = Date.now()

  beforeAll(async () => {
    t = await createTestEnv('detecterase', { SPOR_TOMBSTONE_REFRESH_MS: '500', SPOR_ERASE_GRACE_MS: '500' })
  })
  afterAll(async () => {
    await detect?.stop()
    await t?.cleanup()
  })

  it('raise no new alert about them, live or after a restart', async () => {
    detect = await startDetect(t, t.config, 'before')
    await produce(t.kafka, t.config.kafka.eventsTopic, failures('frank', '5.6.7.8', now - 90 * MIN, 'a'))
    await waitFor(
      () => storedAlerts(t),
      (a) => a.some((x) => x.subject.value === 'frank@acme.example'),
      { what: "frank's first attack raised" },
    )

    // Erased while detect runs: eraseSubject returns once consumers have seen the tombstone.
    const subject = subjectResolver(t.config)('acme', 'frank')
    await eraseSubject({ es: t.es, config: t.config, log: t.log, now: () => new Date() }, subject, {
      key: 'cli',
    })

    // A second attack on frank (a separate incident, an hour later) and one on gina.
    const repartitionBefore = await erasedSkipped('repartition')
    await produce(t.kafka, t.config.kafka.eventsTopic, [
      ...failures('frank', '5.6.7.9', now - 20 * MIN, 'b'),
      ...failures('gina', '5.6.7.10', now - 20 * MIN, 'b'),
    ])
    await waitFor(
      async () => ({ alerts: await storedAlerts(t), skipped: await erasedSkipped('repartition') }),
      ({ alerts, skipped }) =>
        alerts.some((x) => x.subject.value === 'gina@acme.example') && skipped >= repartitionBefore + 12,
      { what: "gina raised and frank's new events skipped" },
    )
    await detect.stop()

    // A restart replays the lookback from the repartition topic, frank's first attack included.
    const rulesBefore = await erasedSkipped('rules')
    detect = await startDetect(t, t.config, 'after')
    await produce(t.kafka, t.config.kafka.eventsTopic, failures('frank', '5.6.7.11', now - 5 * MIN, 'c'))
    await waitFor(
      () => erasedSkipped('rules'),
      (skipped) => skipped >= rulesBefore + 12,
      { what: "frank's replayed signals skipped" },
    )

    const alerts = await storedAlerts(t)
    const frank = alerts.filter((a) => a.related_users.includes('frank'))
    expect(frank).toHaveLength(1)
    expect(frank[0]!.evidence_total).toBe(12)
    expect(frank[0]!.evidence_event_ids.every((id) => id.startsWith('er-frank-a-'))).toBe(true)
    expect(detect.notices.filter((n) => n.alert.related_users.includes('frank'))).toEqual([])
    expect(alerts.filter((a) => a.subject.value === 'gina@acme.example')).toHaveLength(1)
  })
})
