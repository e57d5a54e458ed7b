import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { generateTraffic } from '../generate/traffic.ts'
import { runSegmentsJob } from '../segments/job.ts'
import { loadSegmentTable } from '../segments/rules.ts'
import { CHROMIUM_ARGS, ensureChromium } from './helpers/chromium.ts'
import { day, indexEvents, type StatsApp, startStatsApp, userDayMaker } from './helpers/stats-data.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

/** The built-in dashboard renders real charts from the statistics API in headless Chromium. */
const NOW = new Date()
const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts')
const FROM = day(NOW.getTime() - 13 * 86_400_000)
const TO = day(NOW)

let t: TestEnv
let s: StatsApp
let browser: Browser
let base: string
let segmentNames: string[]

beforeAll(async () => {
  const executablePath = await ensureChromium()
  t = await createTestEnv('dashboard')
  await indexEvents(
    t,
    generateTraffic({
      seed: 3,
      tenants: ['acme', 'globex', 'initech'],
      usersPerTenant: 25,
      days: 14,
      end: NOW,
    }),
  )
  // Yesterday's 08:00 stand-up: twelve people of initech in one hour. Day rows below k users are
  // dropped (query/stats/DESIGN.md), and 25 generated users a tenant spread over ten working
  // hours rarely put k of them in one hour: whether the hour chart had a bar depended on the date.
  const standUp = userDayMaker('dashboard-standup')
  await indexEvents(
    t,
    Array.from({ length: 12 }, (_, i) =>
      standUp('initech', `standup${i}`, day(NOW.getTime() - 86_400_000), ['crm']),
    ).flat(),
  )
  // Yesterday's profiles, as the scheduled segments job writes them.
  const table = loadSegmentTable()
  await runSegmentsJob(
    { es: t.es, config: t.config, log: t.log, table },
    new Date(NOW.getTime() - 86_400_000),
  )
  segmentNames = table.segments.map((s) => s.name)
  s = await startStatsApp(t, NOW)
  await s.app.listen({ host: '127.0.0.1', port: 0 })
  const address = s.app.server.address()
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS })
})

afterAll(async () => {
  await browser?.close()
  await s?.app.close()
  await t?.cleanup()
})

async function open(key: string) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(error.message))
  await page.goto(`${base}/dashboard#key=${encodeURIComponent(key)}&from=${FROM}&to=${TO}`)
  await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 60_000 })
  return { page, errors }
}

it('a product-wide key sees tiles, time series, breakdowns and the tenant comparison', async () => {
  const { page, errors } = await open(s.productKey)
  expect(await page.getAttribute('body', 'data-state')).toBe('ready')
  expect(errors).toEqual([])
  expect(await page.locator('#chart-users svg.line-chart path.series').count()).toBe(1)
  expect(await page.locator('#chart-events svg.line-chart circle').count()).toBeGreaterThan(5)
  for (const by of ['module', 'browser', 'os', 'device_type', 'country', 'hour', 'weekday', 'tenant'])
    expect(await page.locator(`#chart-${by} svg.bar-chart rect.bar`).count(), by).toBeGreaterThan(0)
  const tenantLabels = await page.locator('#chart-tenant text').allTextContents()
  expect(tenantLabels).toEqual(expect.arrayContaining(['acme', 'globex', 'initech']))
  // Segment sizes of the last profiled day, each a segment of the table.
  expect(await page.locator('#segments-day').textContent()).toBe(day(NOW.getTime() - 86_400_000))
  const segmentLabels = await page.locator('#chart-segments text[text-anchor="end"]').allTextContents()
  expect(segmentLabels.length).toBeGreaterThan(0)
  for (const label of segmentLabels) expect(segmentNames.map((n) => n.slice(0, 18))).toContain(label)
  const users = await page.locator('.tile b').first().textContent()
  expect(Number(users)).toBeGreaterThan(30)
  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true })

  // Picking a tenant narrows every chart to it.
  await page.selectOption('#tenant', 'globex')
  await page.click('button[type="submit"]')
  await page.waitForSelector('body[data-state="ready"]')
  expect(Number(await page.locator('.tile b').first().textContent())).toBeLessThanOrEqual(25 + 3)
  await page.close()
})

it('a tenant key sees its own tenant only, without the tenant comparison', async () => {
  const { key } = await s.tenantKey('acme')
  const { page, errors } = await open(key)
  expect(errors).toEqual([])
  expect(await page.getAttribute('body', 'data-state')).toBe('ready')
  expect(await page.locator('#tenants-figure').isHidden()).toBe(true)
  expect(await page.locator('#chart-module svg.bar-chart rect.bar').count()).toBeGreaterThan(0)
  await page.close()
})

it('a wrong key shows a clear error instead of charts', async () => {
  const { page } = await open('spor_ak_wrong')
  expect(await page.getAttribute('body', 'data-state')).toBe('error')
  expect(await page.locator('#status').textContent()).toMatch(/valid API key/)
  await page.close()
})
