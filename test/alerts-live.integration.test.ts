import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALERT_RULES } from '../alerting/rules.ts'
import { classIndex } from '../core/indices.ts'
import { KeyStore } from '../core/keys.ts'
import { produceRaw, REPO_ROOT } from './helpers/ingest.ts'
import { ensurePromtool, type InputSeries, testRules } from './helpers/promtool.ts'
import { createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * The alert rules against a live spor: `spor ingest`, `spor detect` and `spor collector` run as
 * processes; this test is the Prometheus scraper (one scrape of every /metrics per tick, `up` 0
 * when a target does not answer) and promtool evaluates the rules over what it scraped. Time is
 * dilated: one tick (a second, the scrape interval) counts as one minute, and timestamp-valued metrics are
 * rescaled the same way, so `for:` durations and rate windows play out in a test's time.
 *
 * First a healthy phase (every rule quiet), then the spor is broken on purpose: detect killed,
 * the dead-letter topic flooded by a bad producer, a too-old document planted (retention
 * violated), a client looping into the rate limit. Exactly the matching rules must fire.
 * (Ingest lag, Elasticsearch down, restarts and collector 5xx are in alerting/rules.test.ts.)
 */
// Below Linux's ephemeral range (32768-60999), so no outgoing connection or port-0 listener of
// another test file can hold them.
const PORTS = { ingest: 28201, detect: 28202, collector: 28203 }
const TARGETS = [
  { job: 'spor-ingest', port: PORTS.ingest },
  { job: 'spor-detect', port: PORTS.detect },
  { job: 'spor-collector', port: PORTS.collector },
]
const WANTED = new Set(ALERT_RULES.flatMap((r) => r.expr.match(/spor_[a-z_]+/g) ?? []))
const HEALTHY_TICKS = 14
const BROKEN_TICKS = 24

interface Tick {
  at: number
  samples: Map<string, number>
}

/** The scrape interval: a tick is at least this long, however fast the machine answers. */
const TICK_MS = 1000

/**
 * One scrape of every target, paced like a scraper's interval: the rules' windows and `for:`
 * durations count ticks, and the services' own periodic work (the retention check every second)
 * must get real time between them, or a fast machine plays the whole test in a few seconds.
 */
async function scrape(tickStartedAt: number): Promise<Tick> {
  const wait = tickStartedAt + TICK_MS - Date.now()
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  const at = Date.now() / 1000
  const samples = new Map<string, number>()
  await Promise.all(
    TARGETS.map(async ({ job, port }) => {
      const target = `job="${job}",instance="127.0.0.1:${port}"`
      const text = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(3000) })
        .then((r) => (r.ok ? r.text() : undefined))
        .catch(() => undefined)
      samples.set(`up{${target}}`, text === undefined ? 0 : 1)
      for (const line of text?.split('\n') ?? []) {
        if (line === '' || line.startsWith('#')) continue
        const space = line.lastIndexOf(' ')
        const series = line.slice(0, space)
        const brace = series.indexOf('{')
        const name = brace < 0 ? series : series.slice(0, brace)
        if (!WANTED.has(name)) continue
        const rest = brace < 0 ? '}' : `,${series.slice(brace + 1)}`
        samples.set(`${name}{${target}${rest === ',}' ? '}' : rest}`, Number(line.slice(space + 1)))
      }
    }),
  )
  return { at, samples }
}

/** Ticks → promtool series, one minute per tick; absent samples are `_` (stale, as in Prometheus). */
function toSeries(ticks: Tick[]): InputSeries[] {
  const start = ticks[0]!.at
  const secondsPerTick = (ticks.at(-1)!.at - start) / (ticks.length - 1)
  const names = new Set(ticks.flatMap((t) => [...t.samples.keys()]))
  return [...names].map((series) => ({
    series,
    values: ticks
      .map((t) => {
        const v = t.samples.get(series)
        if (v === undefined) return '_'
        // A unix timestamp lives on the same dilated clock as the ticks.
        return series.includes('_timestamp_seconds')
          ? String(Math.round(((v - start) / secondsPerTick) * 60))
          : String(v)
      })
      .join(' '),
  }))
}

describe('alert rules against a live spor, healthy then broken', () => {
  let t: TestEnv
  const children = new Map<string, ChildProcess>()
  let key: string

  const start = (service: keyof typeof PORTS, env: Record<string, string>) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'spor.js'), service], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...t.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    children.set(service, child)
  }

  beforeAll(async () => {
    await ensurePromtool()
    t = await createTestEnv('alerts')
    key = (
      await new KeyStore(t.es, t.config.es.indexPrefix, 0).create({
        kind: 'ingest',
        scope: 'tenant',
        tenant: 'acme',
        name: 'alerts',
      })
    ).key
    start('ingest', { SPOR_INGEST_HTTP_PORT: String(PORTS.ingest), SPOR_ENFORCE_EVERY_MS: '1000' })
    start('detect', { SPOR_DETECT_HTTP_PORT: String(PORTS.detect) })
    start('collector', { SPOR_COLLECTOR_PORT: String(PORTS.collector), SPOR_COLLECTOR_RATE_LIMIT: '40' })
    for (const { port } of TARGETS)
      await waitFor(
        () =>
          fetch(`http://127.0.0.1:${port}/ready`).then(
            (r) => r.ok,
            () => false,
          ),
        (ok) => ok,
        { what: `service on ${port} ready`, timeoutMs: 120_000 },
      )
  })
  afterAll(async () => {
    for (const child of children.values()) {
      if (child.exitCode !== null || child.signalCode !== null) continue
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    }
    await t?.cleanup()
  })

  let sent = 0
  const post = (n: number) =>
    Promise.all(
      Array.from({ length: n }, () =>
        fetch(`http://127.0.0.1:${PORTS.collector}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({
            events: Array.from({ length: 5 }, () => ({
              v: 1,
              id: `live-${sent++}`,
              type: 'page.view',
              ts: new Date().toISOString(),
              user: `u${sent % 7}`,
              module: 'crm',
              function: 'contacts.view',
            })),
          }),
        }).then((r) => r.status),
      ),
    )

  it('quiet while healthy; the matching rules fire once it is broken', async () => {
    const ticks: Tick[] = []
    // Healthy: steady traffic through the collector, below its rate limit.
    for (let i = 0; i < HEALTHY_TICKS; i++) {
      const tickStartedAt = Date.now()
      await post(1)
      ticks.push(await scrape(tickStartedAt))
    }
    // Broken on purpose.
    children.get('detect')!.kill('SIGKILL')
    const now = Date.now()
    await t.es.index({
      index: classIndex(t.name, 'short', new Date(now)),
      id: 'planted-old',
      refresh: true,
      document: {
        '@timestamp': new Date(now - 40 * 86_400_000).toISOString(),
        event: { id: 'planted-old', action: 'page.view', ingested: new Date(now).toISOString() },
        organization: { id: 'acme' },
      },
    })
    const statuses: number[] = []
    for (let i = 0; i < BROKEN_TICKS; i++) {
      const tickStartedAt = Date.now()
      // A producer that writes garbage, and a client that loops into the rate limit.
      await produceRaw(
        t,
        Array.from({ length: 60 }, (_, j) => `{"broken":${i * 100 + j}`),
      )
      statuses.push(...(await post(5)))
      ticks.push(await scrape(tickStartedAt))
    }
    expect(statuses).toContain(429)

    const healthyEnd = HEALTHY_TICKS - 1
    const brokenEnd = ticks.length - 1
    const firing: Record<string, Record<string, string>[]> = {
      SporServiceDown: [{ job: 'spor-detect', instance: `127.0.0.1:${PORTS.detect}` }],
      SporDetectStalled: [{}],
      SporDeadLettersHigh: [{ job: 'spor-ingest' }],
      SporRetentionViolation: [{ job: 'spor-ingest', class: 'short' }],
      SporCollectorThrottling: [{ job: 'spor-collector', instance: `127.0.0.1:${PORTS.collector}` }],
    }
    const result = await testRules(toSeries(ticks), [
      ...ALERT_RULES.map((r) => ({ alert: r.alert, evalMinute: healthyEnd, firing: [] })),
      ...ALERT_RULES.map((r) => ({ alert: r.alert, evalMinute: brokenEnd, firing: firing[r.alert] ?? [] })),
    ])
    expect(result.output).toContain('SUCCESS')
    expect(result.code).toBe(0)
  })
})
