import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type DetectHandle,
  detectCaughtUp,
  failedLogins,
  produce,
  startDetect,
  storedAlerts,
} from './helpers/detect.ts'
import { PrivateElasticsearch, RESTART_TEST_TIMEOUT_MS } from './helpers/private-es.ts'
import { createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * The detector's Elasticsearch stops while an attack arrives: the alert lookup and write wait the
 * outage out (as ingest does) instead of crashing the consumer, and the alert is raised once when
 * Elasticsearch is back. One restart is tolerated here (SPOR_MAX_RESTARTS=1): a crash on every attempt would
 * be fatal well within the outage.
 */
const failures = (account: string, count: number, from: number) => failedLogins('eo', account, count, from)

describe('detect: Elasticsearch stopped for a while, then started', {
  timeout: RESTART_TEST_TIMEOUT_MS,
}, () => {
  const node = new PrivateElasticsearch('detect-outage', 9217)
  let t: TestEnv
  let detect: DetectHandle | undefined
  let fatal: Error | undefined

  beforeAll(async () => {
    await node.up()
    t = await createTestEnv('detectoutage', {
      SPOR_ES_URL: node.url,
      SPOR_MAX_RESTARTS: '1',
      SPOR_RETRY_MAX_MS: '2000',
    })
    detect = await startDetect(t)
    void detect.service.fatal.then((error) => {
      fatal = error
    })
  })
  afterAll(async () => {
    await detect?.stop().catch(() => {})
    await t?.cleanup().catch(() => {})
    await node.remove()
  })

  it('keeps running through the outage and raises the alert once afterwards', async () => {
    const now = Date.now()
    await produce(t.kafka, t.config.kafka.eventsTopic, failures('carol', 12, now - 30 * 60_000))
    await waitFor(
      () => storedAlerts(t),
      (a) => a.length === 1,
      { what: 'the alert before the outage' },
    )

    await node.down()
    await produce(t.kafka, t.config.kafka.eventsTopic, failures('alice', 12, now - 10 * 60_000))
    // The rule stage now looks up alice's alert (and would write it) against a stopped cluster:
    // the outage lasts until it has failed several times (each a crash, before the fix, and the
    // second one fatal with SPOR_MAX_RESTARTS=1).
    const before = detect!.failedAlertRequests()
    await waitFor(
      async () => detect!.failedAlertRequests() - before,
      (failed) => failed >= 10 || fatal !== undefined,
      { timeoutMs: 90_000, intervalMs: 200, what: 'failed alert lookups during the outage' },
    )
    expect(fatal).toBeUndefined()
    expect(detect!.service.running).toBe(true)

    await node.up()
    await waitFor(
      () => storedAlerts(t),
      (a) => a.some((x) => x.subject.value.startsWith('alice')),
      { timeoutMs: 90_000, what: 'alice raised after the restart' },
    )
    // Everything finished: a duplicate would be stored by now.
    await detectCaughtUp(t, [detect!])
    const alerts = await storedAlerts(t)
    expect(alerts.map((a) => `${a.rule} ${a.subject.value}`).sort()).toEqual([
      expect.stringMatching(/ alice/),
      expect.stringMatching(/ carol/),
    ])
    const raised = detect!.notices.filter((n) => n.change === 'raised').map((n) => n.alert.subject.value)
    expect(raised.filter((v) => v.startsWith('alice'))).toHaveLength(1)
    expect(fatal).toBeUndefined()
    expect(detect!.service.running).toBe(true)
  })
})
