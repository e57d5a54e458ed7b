import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mixedTraffic, type Scenario } from '../generate/attacks.ts'
import {
  alertsTopicMessages,
  type DetectHandle,
  detectCaughtUp,
  detectGroupsStable,
  produce,
  startDetect,
  storedAlerts,
  summary,
} from './helpers/detect.ts'
import { createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * Two detect instances in one consumer group split the partitions of both stages. Because the
 * repartition stage re-keys signals by rule key, each instance still sees every event of the keys
 * it owns (an IP's failures come from many users, i.e. many input partitions).
 */
describe('detect: two instances side by side', () => {
  let t: TestEnv
  const instances: DetectHandle[] = []
  let scenarios: Scenario[]

  beforeAll(async () => {
    t = await createTestEnv('detectscale')
    instances.push(await startDetect(t, t.config, 'one'))
    instances.push(await startDetect(t, t.config, 'two'))
    // The traffic arrives once both stages have settled on their two members.
    await detectGroupsStable(t, 2)
    const mixed = mixedTraffic({
      seed: 23,
      tenants: ['acme', 'beta'],
      usersPerTenant: 40,
      end: new Date(),
      attacks: true,
    })
    scenarios = mixed.scenarios
    await produce(t.kafka, t.config.kafka.eventsTopic, mixed.events)
  })
  afterAll(async () => {
    for (const i of instances) await i.stop()
    await t?.cleanup()
  })

  it('raise the same alerts as one instance, once each', async () => {
    const expected = scenarios.flatMap((s) => s.expect)
    await waitFor(
      () => storedAlerts(t),
      (a) => a.length >= expected.length,
      { what: 'alerts', timeoutMs: 90_000 },
    )
    // Every event and signal finished: a late duplicate would be stored by now.
    await detectCaughtUp(t, instances)
    const alerts = await storedAlerts(t)
    expect(summary(alerts)).toEqual(expected.map((e) => `${e.rule} ${e.subject.value}`).sort())
    for (const e of expected) {
      const alert = alerts.find((a) => a.rule === e.rule && a.subject.value === e.subject.value)!
      expect([...alert.evidence_event_ids].sort(), e.rule).toEqual([...e.evidence].sort())
    }
    const raised = (await alertsTopicMessages(t, expected.length)).filter((m) => m.change === 'raised')
    expect(summary(raised.map((m) => m.alert))).toEqual(summary(alerts))
    // Both instances did part of the work.
    const keys = instances.map((i) => Object.values(i.service.stateSizes()).reduce((a, b) => a + b, 0))
    expect(keys.every((k) => k > 0)).toBe(true)
  })
})
