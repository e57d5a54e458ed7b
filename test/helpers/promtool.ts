import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ALERT_RULES, type AlertRule, alertRulesYaml } from '../../alerting/rules.ts'
import { ensureDebianBinary } from './debian-package.ts'

/**
 * Prometheus's own `promtool` (Debian package `prometheus`, 2.42 on bookworm) judges spor's alert
 * rules: `check rules` for syntax and `test rules` to evaluate them over time series with
 * Prometheus's PromQL engine and `for:` semantics. Installed on demand like Chromium
 * (test/helpers/debian-package.ts).
 */
export const PROMTOOL = '/usr/bin/promtool'
export function ensurePromtool(): Promise<string> {
  return ensureDebianBinary(PROMTOOL, 'prometheus')
}

export function promtool(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(PROMTOOL, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (c) => {
      output += c
    })
    child.stderr.on('data', (c) => {
      output += c
    })
    child.once('close', (code) => resolve({ code, output }))
  })
}

/** One series for promtool: values per minute, `_` where the series had no sample. */
export interface InputSeries {
  series: string
  values: string
}

/** An alert expected at `evalMinute`, by the labels its expression keeps (job, instance, …). */
export interface ExpectedAlerts {
  alert: string
  evalMinute: number
  firing: Record<string, string>[]
}

function rule(name: string): AlertRule {
  const found = ALERT_RULES.find((r) => r.alert === name)
  if (!found) throw new Error(`no alert rule ${name}`)
  return found
}

/**
 * Runs `promtool test rules` over the series and expectations: promtool fails (and prints what
 * fired instead) unless exactly the expected alerts fire, with spor's labels and annotations.
 */
export async function testRules(
  series: InputSeries[],
  expectations: ExpectedAlerts[],
): Promise<{ code: number | null; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'spor-promtool-'))
  const rulesFile = join(dir, 'spor-alerts.yml')
  writeFileSync(rulesFile, alertRulesYaml())
  const test = {
    rule_files: [rulesFile],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: series,
        alert_rule_test: expectations.map((e) => {
          const r = rule(e.alert)
          return {
            eval_time: `${e.evalMinute}m`,
            alertname: e.alert,
            exp_alerts: e.firing.map((labels) => ({
              exp_labels: { ...labels, severity: r.severity, team: r.team },
              exp_annotations: { summary: r.summary, runbook: r.runbook },
            })),
          }
        }),
      },
    ],
  }
  // JSON is YAML: promtool reads it as it is.
  const testFile = join(dir, 'test.yml')
  writeFileSync(testFile, JSON.stringify(test, null, 2))
  try {
    return await promtool(['test', 'rules', testFile])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
