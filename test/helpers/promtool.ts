import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ALERT_RULES, type AlertRule, alertRulesYaml } from '../../alerting/rules.ts'

/**
 * Prometheus's own `promtool` (Debian package `prometheus`, 2.42 on bookworm) judges spor's alert
 * rules: `check rules` for syntax and `test rules` to evaluate them over time series with
 * Prometheus's PromQL engine and `for:` semantics. Installed on demand like Chromium (CI starts
 * from a fresh machine); the apt lock directory is shared with test/helpers/chromium.ts.
 */
export const PROMTOOL = '/usr/bin/promtool'
const LOCK = '/tmp/spor-chromium-install.lock'

export async function ensurePromtool(): Promise<string> {
  if (existsSync(PROMTOOL)) return PROMTOOL
  if (process.getuid?.() !== 0)
    throw new Error(
      `${PROMTOOL} is missing and installing it needs root: run "apt-get install -y prometheus"`,
    )
  const deadline = Date.now() + 20 * 60_000
  for (;;) {
    try {
      mkdirSync(LOCK)
      break
    } catch {
      if (existsSync(PROMTOOL)) return PROMTOOL
      if (Date.now() > deadline) throw new Error(`waited too long for another apt-get (${LOCK})`)
      await new Promise((r) => setTimeout(r, 2000))
    }
  }
  try {
    const apt = (args: string[]) =>
      spawnSync('apt-get', args, {
        encoding: 'utf8',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      })
    let result = apt(['install', '-y', '--no-install-recommends', 'prometheus'])
    if (result.status !== 0) {
      apt(['update'])
      result = apt(['install', '-y', '--no-install-recommends', 'prometheus'])
    }
    if (!existsSync(PROMTOOL))
      throw new Error(`apt-get install prometheus failed:\n${result.stderr?.slice(-2000)}`)
    return PROMTOOL
  } finally {
    rmSync(LOCK, { recursive: true, force: true })
  }
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
