import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEVICE_PROFILES } from '../generate/devices.ts'
import { generateTraffic } from '../generate/traffic.ts'
import { runSegmentsJob } from '../segments/job.ts'
import { loadSegmentTable } from '../segments/rules.ts'
import '../ingest/metrics.ts'
import '../ilm-policies/retention-metrics.ts'
// The pipeline dashboard covers every service: their metrics must be registered here too.
import '../core/restart-budget.ts'
import '../detect/metrics.ts'
import '../ingest/collector/app.ts'
import { day, indexEvents, type StatsApp, startStatsApp } from './helpers/stats-data.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * Every panel of every Grafana dashboard in grafana/: Infinity panels' queries (URL + params
 * with Grafana's variables resolved) run against a live `spor query` and must return the shape
 * the panel reads (root selector, column selectors and types) with data in it; Prometheus panels
 * may only use metrics that spor actually exports.
 */
const GRAFANA = join(import.meta.dirname, '..', 'grafana')
const NOW = new Date()
const FROM = day(NOW.getTime() - 30 * 86_400_000)
const TO = day(NOW)

interface Column {
  selector: string
  type: string
}
interface Target {
  refId: string
  datasource: { type: string; uid: string }
  url?: string
  url_options?: { params: { key: string; value: string }[] }
  root_selector?: string
  columns?: Column[]
  expr?: string
}
interface Panel {
  id: number
  title: string
  targets?: Target[]
}
interface Dashboard {
  uid: string
  panels: Panel[]
  templating: { list: { name: string; current?: { value: string } }[] }
}

const dashboards: [string, Dashboard][] = readdirSync(join(GRAFANA, 'dashboards'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(readFileSync(join(GRAFANA, 'dashboards', f), 'utf8')) as Dashboard])

const panels = dashboards.flatMap(([file, d]) =>
  d.panels.map((p) => [`${file} #${p.id} ${p.title}`, p, d] as const),
)

let t: TestEnv
let s: StatsApp

beforeAll(async () => {
  // The panels' shapes are under test, not the anonymity rules: without noise the threshold is
  // exactly k, so the small groups below (six failing users, regions) are shown predictably.
  t = await createTestEnv('grafana', { SPOR_STATS_NOISE_SD: '0' })
  await indexEvents(
    t,
    generateTraffic({ seed: 5, tenants: ['acme', 'globex'], usersPerTenant: 25, days: 14, end: NOW }),
  )
  const IPHONE = DEVICE_PROFILES.map(([profile]) => profile).find((p) => p.name === 'safari-iphone')
  if (!IPHONE) throw new Error('no safari-iphone device profile')
  // A morning when six people of acme mistype their password: day rows below k users are dropped
  // (query/stats/DESIGN.md), and generated traffic alone never has k failing users on one day.
  const morning = Date.parse(`${day(NOW.getTime() - 86_400_000)}T08:00:00Z`)
  await indexEvents(
    t,
    Array.from({ length: 6 }, (_, i) => ({
      v: 1 as const,
      id: `grafana-failed-${i}`,
      type: 'session.login_failed',
      ts: new Date(morning + i * 60_000).toISOString(),
      tenant: 'acme',
      user: `typo${i}`,
      username: `typo${i}@acme.example`,
      ip: '81.0.146.10',
      // On iPhones: a device vendor and a browser version of their own, so those panels do not
      // hang on whether the generated people of some day reached k on one of them.
      device: { ua: IPHONE.ua, deviceId: `typo-phone-${i}` },
    })),
  )
  // Two days of profiles, as the scheduled segments job writes them (the segments panel).
  for (const daysAgo of [1, 2]) {
    const table = loadSegmentTable()
    await runSegmentsJob(
      { es: t.es, config: t.config, log: t.log, table },
      new Date(NOW.getTime() - daysAgo * 86_400_000),
    )
  }
  s = await startStatsApp(t, NOW)
})

afterAll(async () => {
  await s?.app.close()
  await t?.cleanup()
})

function resolve(value: string, dashboard: Dashboard): string {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own placeholder syntax
  let out = value.replaceAll('${__from:date:YYYY-MM-DD}', FROM).replaceAll('${__to:date:YYYY-MM-DD}', TO)
  for (const v of dashboard.templating.list) out = out.replaceAll(`\${${v.name}}`, v.current?.value ?? '')
  expect(out, `unresolved variable in ${value}`).not.toContain('$')
  return out
}

it('the dashboards and provisioning files are there and consistent', () => {
  expect(dashboards.map(([f]) => f).sort()).toEqual(['spor-pipeline.json', 'spor-usage.json'])
  const datasources = readFileSync(join(GRAFANA, 'provisioning', 'datasources', 'spor.yaml'), 'utf8')
  const uids = [...datasources.matchAll(/uid:\s*(\S+)/g)].map((m) => m[1])
  for (const [, panel] of panels)
    for (const target of panel.targets ?? []) expect(uids).toContain(target.datasource.uid)
  expect(readFileSync(join(GRAFANA, 'provisioning', 'dashboards', 'spor.yaml'), 'utf8')).toContain(
    'type: file',
  )
})

describe.each(panels)('%s', (_name, panel, dashboard) => {
  it('its query returns data in the shape the panel reads', async () => {
    expect(panel.targets?.length).toBeGreaterThan(0)
    for (const target of panel.targets ?? []) {
      if (target.datasource.type === 'prometheus') {
        const exported = (await s.app.inject({ url: '/metrics' })).body
        const names = [...(target.expr ?? '').matchAll(/spor_[a-z_]+/g)].map((m) =>
          m[0].replace(/_bucket$/, ''),
        )
        expect(names.length).toBeGreaterThan(0)
        for (const name of names) expect(exported, `metric ${name}`).toContain(`# TYPE ${name} `)
        continue
      }
      expect(target.datasource.type).toBe('yesoreyeram-infinity-datasource')
      const params = new URLSearchParams(
        (target.url_options?.params ?? []).map(
          (p) => [p.key, resolve(p.value, dashboard)] as [string, string],
        ),
      )
      const response = await s.app.inject({
        url: `${target.url}?${params}`,
        headers: { authorization: `Bearer ${s.productKey}` },
      })
      expect(response.statusCode, response.body).toBe(200)
      const body = response.json()
      const rows: Record<string, unknown>[] = target.root_selector ? body[target.root_selector] : [body]
      expect(Array.isArray(rows), `root ${target.root_selector}`).toBe(true)
      expect(rows.length).toBeGreaterThan(0)
      let numbers = 0
      for (const row of rows) {
        for (const column of target.columns ?? []) {
          const value = row[column.selector]
          expect(column.selector in row, `${column.selector} in ${JSON.stringify(row)}`).toBe(true)
          if (column.type === 'timestamp') expect(Number.isNaN(Date.parse(String(value)))).toBe(false)
          if (column.type === 'string') expect(typeof value).toBe('string')
          if (column.type === 'number') {
            expect(value === null || typeof value === 'number').toBe(true)
            if (typeof value === 'number') numbers++
          }
        }
      }
      expect(numbers, 'the panel gets at least one number').toBeGreaterThan(0)
    }
  })
})
