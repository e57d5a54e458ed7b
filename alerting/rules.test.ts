import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ensurePromtool, type InputSeries, promtool, testRules } from '../test/helpers/promtool.ts'
import { ALERT_RULES, alertRulesYaml } from './rules.ts'

const ingest = 'job="spor-ingest",instance="ingest-0:9464"'
const I = { job: 'spor-ingest', instance: 'ingest-0:9464' }
const C = { job: 'spor-collector', instance: 'collector-0:8080' }
const collector = 'job="spor-collector",instance="collector-0:8080"'
const s = (series: string, values: string): InputSeries => ({ series, values })

/** A spor where everything works: what each rule must stay quiet on. */
const HEALTHY: InputSeries[] = [
  s(`up{${ingest}}`, '1x40'),
  s('up{job="spor-detect",instance="detect-0:9466"}', '1x40'),
  s(`spor_ready{${ingest}}`, '1x40'),
  s(`spor_ingest_consumer_lag{${ingest},partition="0"}`, '800 50 900 20 700 10x35'),
  s(`spor_ingest_es_available{${ingest}}`, '1x40'),
  s(`spor_ingest_events_total{${ingest},outcome="indexed",reason=""}`, '0+600x40'),
  s(`spor_ingest_events_total{${ingest},outcome="dlq",reason="schema_violation"}`, '0+1x40'),
  s(`spor_consumer_restarts_total{${ingest},consumer="ingest"}`, '0x40'),
  s(`spor_consumer_restart_budget_remaining{${ingest},consumer="ingest"}`, '5x40'),
  s(`spor_retention_violating_documents{${ingest},class="short"}`, '0x40'),
  s(`spor_retention_last_success_timestamp_seconds{${ingest}}`, '0+60x40'),
  s('spor_detect_events_total{job="spor-detect",instance="detect-0:9466",outcome="read"}', '0+600x40'),
  s(`spor_collector_responses_total{${collector},code="202"}`, '0+600x40'),
  s(`spor_collector_responses_total{${collector},code="400"}`, '0+3x40'),
  s(`spor_collector_responses_total{${collector},code="429"}`, '0+2x40'),
]

/** For each rule: the broken series (replacing the healthy ones of the same name) and what fires. */
const BROKEN: Record<string, { series: InputSeries[]; at: number; firing: Record<string, string>[] }> = {
  SporServiceDown: {
    series: [s('up{job="spor-detect",instance="detect-0:9466"}', '1x5 0x35')],
    at: 10,
    firing: [{ job: 'spor-detect', instance: 'detect-0:9466' }],
  },
  SporNotReady: { series: [s(`spor_ready{${ingest}}`, '1x5 0x35')], at: 15, firing: [I] },
  SporIngestLagGrowing: {
    series: [s(`spor_ingest_consumer_lag{${ingest},partition="0"}`, '0+300x40')],
    at: 30,
    firing: [I],
  },
  SporElasticsearchUnavailable: {
    series: [
      s(`spor_ingest_es_available{${ingest}}`, '1x5 0x35'),
      s(`spor_ingest_bulk_retries_total{${ingest},cause="request"}`, '0x5 0+4x35'),
    ],
    at: 15,
    firing: [I],
  },
  SporDeadLettersHigh: {
    series: [s(`spor_ingest_events_total{${ingest},outcome="dlq",reason="schema_violation"}`, '0+120x40')],
    at: 20,
    firing: [{ job: 'spor-ingest' }],
  },
  SporConsumerRestarting: {
    series: [s(`spor_consumer_restarts_total{${ingest},consumer="ingest"}`, '0x10 1x30')],
    at: 12,
    firing: [{ ...I, consumer: 'ingest' }],
  },
  SporRestartBudgetLow: {
    series: [s(`spor_consumer_restart_budget_remaining{${ingest},consumer="ingest"}`, '5x10 1x30')],
    at: 12,
    firing: [{ ...I, consumer: 'ingest' }],
  },
  SporRetentionViolation: {
    series: [s(`spor_retention_violating_documents{${ingest},class="short"}`, '0x10 12x30')],
    at: 12,
    firing: [{ job: 'spor-ingest', class: 'short' }],
  },
  SporRetentionEnforcerNotRun: {
    // Ran once at minute 0, never again: two hours later (plus `for`) it fires.
    series: [s(`spor_retention_last_success_timestamp_seconds{${ingest}}`, '0x160')],
    at: 140,
    firing: [{ job: 'spor-ingest' }],
  },
  SporDetectStalled: {
    series: [
      s(
        'spor_detect_events_total{job="spor-detect",instance="detect-0:9466",outcome="read"}',
        '0+600x5 3000x35',
      ),
    ],
    at: 30,
    firing: [{}],
  },
  SporCollectorErrors: {
    series: [s(`spor_collector_responses_total{${collector},code="502"}`, '0x5 0+120x35')],
    at: 20,
    firing: [C],
  },
  SporCollectorThrottling: {
    series: [s(`spor_collector_responses_total{${collector},code="429"}`, '0x5 0+200x35')],
    at: 25,
    firing: [C],
  },
}

const name = (series: string) => series.slice(0, series.indexOf('{'))

function broken(rule: string): InputSeries[] {
  const replacements = BROKEN[rule]!.series
  const replaced = new Set(replacements.map((r) => r.series))
  const kept = HEALTHY.filter((h) => !replaced.has(h.series))
  // Long scenarios need the healthy series to last as long.
  const minutes = BROKEN[rule]!.at + 5
  return [
    ...kept.map((h) => (minutes > 40 && name(h.series) === 'up' ? { ...h, values: `1x${minutes}` } : h)),
    ...replacements,
  ]
}

describe('alert rules (judged by promtool)', { timeout: 60_000 }, () => {
  beforeAll(async () => {
    await ensurePromtool()
  })

  it('the checked-in rule file is the one the table generates, and promtool accepts it', async () => {
    const file = join(import.meta.dirname, 'spor-alerts.yml')
    expect(readFileSync(file, 'utf8')).toBe(alertRulesYaml())
    const check = await promtool(['check', 'rules', file])
    expect(check.output).toContain(`SUCCESS: ${ALERT_RULES.length} rules found`)
    expect(check.code).toBe(0)
  })

  it('every rule has a broken case here', () => {
    expect(Object.keys(BROKEN).sort()).toEqual(ALERT_RULES.map((r) => r.alert).sort())
  })

  it('the harness can fail: an alert expected on a healthy spor is reported missing', async () => {
    const result = await testRules(HEALTHY, [{ alert: 'SporServiceDown', evalMinute: 35, firing: [I] }])
    expect(result.code).not.toBe(0)
    expect(result.output).toMatch(/SporServiceDown/)
  })

  it('an idle ingest (gauge still 0, never retried) does not page', async () => {
    const idle = HEALTHY.map((h) =>
      h.series.startsWith('spor_ingest_es_available') ? { ...h, values: '0x40' } : h,
    )
    const result = await testRules(idle, [
      { alert: 'SporElasticsearchUnavailable', evalMinute: 35, firing: [] },
    ])
    expect(result.output).toContain('SUCCESS')
  })

  it('nothing fires on a healthy spor', async () => {
    const result = await testRules(
      HEALTHY,
      ALERT_RULES.map((r) => ({ alert: r.alert, evalMinute: 35, firing: [] })),
    )
    expect(result.output).toContain('SUCCESS')
    expect(result.code).toBe(0)
  })

  it.each(ALERT_RULES.map((r) => r.alert))('%s fires on its broken spor, and only it', async (alert) => {
    const { at, firing } = BROKEN[alert]!
    const others = ALERT_RULES.filter(
      (r) => r.alert !== alert && !(alert === 'SporServiceDown' && r.alert === 'SporDetectStalled'),
    )
    const result = await testRules(broken(alert), [
      { alert, evalMinute: at, firing },
      ...others.map((r) => ({ alert: r.alert, evalMinute: at, firing: [] })),
    ])
    expect(result.output).toContain('SUCCESS')
    expect(result.code).toBe(0)
  })
})
