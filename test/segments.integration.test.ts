import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { systemClock } from '../core/clock.ts'
import { loadConfig, requirePseudonymKey } from '../core/config.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { classIndex } from '../core/indices.ts'
import { KeyStore } from '../core/keys.ts'
import { DAY_MS, isoDay, utcDayStart } from '../core/retention.ts'
import { createEnrichers, enrichEvent } from '../enrich/index.ts'
import { documentId } from '../ingest/plan-batch.ts'
import { exportText } from '../privacy/export-stream.ts'
import { PrivacyService } from '../privacy/service.ts'
import { tombstoneIndex } from '../privacy/tombstones.ts'
import { buildQueryApp } from '../query/app.ts'
import { runSegmentsJob, type SegmentsReport } from '../segments/job.ts'
import { loadSegmentTable } from '../segments/rules.ts'
import { startSegmentsSchedule } from '../segments/schedule.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

const DESKTOP =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
const PHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1'

/** The profile day: yesterday; the window is the 21 days ending with it. */
const DAY = utcDayStart(new Date(Date.now() - DAY_MS))

interface Behaviour {
  tenant: string
  user: string
  /** Days before DAY on which the user is active (0 = DAY itself). */
  daysAgo: number[]
  perDay: number
  hourUtc: number
  ua: string
  modules: string[]
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** Known behaviour → expected segments (others may match too; these must). */
const behaviours: (Behaviour & { expect: string[]; never: string[] })[] = [
  // six heavy desktop users in acme: a group above k = 5
  ...range(1, 6).map((i) => ({
    tenant: 'acme',
    user: `power${i}`,
    daysAgo: range(0, 14),
    perDay: 12,
    hourUtc: 9,
    ua: DESKTOP,
    modules: ['crm', 'invoicing'],
    expect: ['power_user', 'desktop_only'],
    never: ['dormant', 'mobile_first', 'occasional_user', 'single_module_user'],
  })),
  {
    tenant: 'acme',
    user: 'phone',
    daysAgo: [1, 4, 9],
    perDay: 6,
    hourUtc: 12,
    ua: PHONE,
    modules: ['crm'],
    expect: ['mobile_first', 'occasional_user', 'single_module_user'],
    never: ['power_user', 'desktop_only'],
  },
  {
    tenant: 'acme',
    user: 'sleeper',
    daysAgo: [16, 18, 19],
    perDay: 5,
    hourUtc: 10,
    ua: DESKTOP,
    modules: ['projects'],
    expect: ['dormant'],
    never: ['occasional_user', 'new_user'],
  },
  {
    tenant: 'acme',
    user: 'boss',
    daysAgo: [0, 1, 2],
    perDay: 10,
    hourUtc: 21,
    ua: DESKTOP,
    modules: ['admin'],
    expect: ['new_user', 'administrator_heavy', 'single_module_user', 'after_hours_user'],
    never: ['dormant'],
  },
  // globex: too few users for any statistic
  {
    tenant: 'globex',
    user: 'solo',
    daysAgo: range(0, 12),
    perDay: 12,
    hourUtc: 9,
    ua: DESKTOP,
    modules: ['crm', 'mail'],
    expect: ['power_user'],
    never: [],
  },
]

function* eventsOf(b: Behaviour): Generator<SporEvent> {
  for (const ago of b.daysAgo) {
    const dayStart = DAY.getTime() - ago * DAY_MS
    for (let n = 0; n < b.perDay; n++) {
      yield {
        v: 1,
        id: `${b.user}-${ago}-${n}`,
        type: n === 0 ? 'session.login' : 'feature.use',
        ts: new Date(dayStart + b.hourUtc * 3_600_000 + n * 60_000).toISOString(),
        tenant: b.tenant,
        user: b.user,
        session: `s-${b.user}-${ago}`,
        ip: '81.166.12.34',
        ...(n === 0 ? {} : { module: b.modules[n % b.modules.length], function: 'x.view' }),
        device: { ua: b.ua, deviceId: `d-${b.user}` },
      }
    }
  }
}

describe('segments: automatic categorisation, explainable, idempotent, k-anonymous, exportable', () => {
  let t: TestEnv
  let app: FastifyInstance
  let first: SegmentsReport
  const table = loadSegmentTable()
  const pseudo = (tenant: string, user: string) =>
    createEnrichers({ uaCacheSize: 10, pseudonymKey: requirePseudonymKey(t.config) }).pseudonym(tenant, user)
  const profileOf = async (tenant: string, user: string) =>
    (
      await t.es.get<Record<string, any>>({
        index: classIndex(t.name, 'profiles', DAY),
        id: `${pseudo(tenant, user)}:${isoDay(DAY)}`,
      })
    )._source!

  beforeAll(async () => {
    // Noise off (as in the statistics tests) where exact sizes are checked; one test turns it on.
    t = await createTestEnv('segments', {
      SPOR_TOMBSTONE_REFRESH_MS: '300',
      SPOR_ERASE_GRACE_MS: '200',
      SPOR_STATS_NOISE_SD: '0',
    })
    const enrichers = createEnrichers({ uaCacheSize: 100, pseudonymKey: requirePseudonymKey(t.config) })
    const operations: object[] = []
    for (const b of behaviours) {
      for (const event of eventsOf(b)) {
        operations.push(
          {
            index: {
              _index: classIndex(t.name, 'short', new Date(event.ts)),
              _id: documentId(event.tenant, event.id),
            },
          },
          enrichEvent(event, 'short', enrichers, new Date()),
        )
      }
    }
    const bulk = await t.es.bulk({ operations, refresh: 'wait_for' })
    expect(bulk.errors).toBe(false)
    first = await runSegmentsJob({ es: t.es, config: t.config, log: t.log, table }, DAY)
    const keys = new KeyStore(t.es, t.config.es.indexPrefix, 0)
    app = await buildQueryApp({ config: t.config, es: t.es, keys, log: t.log, clock: systemClock })
    Object.assign(t, {
      keys: {
        acme: (await keys.create({ kind: 'api', scope: 'tenant', tenant: 'acme', name: 'acme' })).key,
        globex: (await keys.create({ kind: 'api', scope: 'tenant', tenant: 'globex', name: 'globex' })).key,
        product: (await keys.create({ kind: 'api', scope: 'product', name: 'product' })).key,
      },
    })
  })

  afterAll(async () => {
    await app?.close()
    await t?.cleanup()
  })

  const key = (name: 'acme' | 'globex' | 'product') =>
    (t as unknown as { keys: Record<string, string> }).keys[name]!

  it('puts users with known behaviour into the expected segments, with the deciding figures', async () => {
    expect(first.users).toBe(behaviours.length)
    expect(first.created).toBe(behaviours.length)
    for (const b of behaviours) {
      const profile = await profileOf(b.tenant, b.user)
      for (const s of b.expect) expect(profile.segments, `${b.user} in ${s}`).toContain(s)
      for (const s of b.never) expect(profile.segments, `${b.user} not in ${s}`).not.toContain(s)
      // keyed by the pseudonym only: no plain user id anywhere in the profile
      expect(JSON.stringify(profile)).not.toContain(`"${b.user}"`)
      expect(profile.user).toEqual({ pseudo: pseudo(b.tenant, b.user) })
      expect(profile.figures.events).toBe(b.daysAgo.length * b.perDay)
      expect(profile.figures.active_days).toBe(b.daysAgo.length)
    }
    const power = await profileOf('acme', 'power1')
    expect(power.figures).toMatchObject({
      active_days: 15,
      events_per_active_day: 12,
      share_desktop: 1,
      share_mobile: 0,
    })
    const rule = power.rules.find((r: { segment: string }) => r.segment === 'power_user')
    expect(rule).toEqual({
      segment: 'power_user',
      matched: true,
      because: ['active_days = 15 (at least 10): yes', 'events_per_active_day = 12 (at least 8): yes'],
    })
    const sleeper = await profileOf('acme', 'sleeper')
    expect(sleeper.figures.days_since_last_active).toBe(16)
    const boss = await profileOf('acme', 'boss')
    expect(boss.figures).toMatchObject({
      share_module_admin: 1,
      share_office_hours: 0,
      days_since_first_active: 2,
    })
  })

  it('re-running the job for the same day changes nothing', async () => {
    const before = await t.es.search({
      index: `${t.name}-profiles-*`,
      size: 100,
      version: true,
      sort: [{ 'user.pseudo': 'asc' }],
    })
    const again = await runSegmentsJob({ es: t.es, config: t.config, log: t.log, table }, DAY)
    expect(again).toMatchObject({
      users: behaviours.length,
      created: 0,
      updated: 0,
      unchanged: behaviours.length,
    })
    const after = await t.es.search({
      index: `${t.name}-profiles-*`,
      size: 100,
      version: true,
      sort: [{ 'user.pseudo': 'asc' }],
    })
    expect(after.hits.hits.map((h) => [h._id, h._version, h._source])).toEqual(
      before.hits.hits.map((h) => [h._id, h._version, h._source]),
    )
  })

  /** Distinct users per segment on `day`, counted from the stored profiles (not by the API). */
  async function trueSegmentSizes(tenant: string | undefined, day: string): Promise<Record<string, number>> {
    await t.es.indices.refresh({ index: `${t.name}-profiles-*` })
    const result = await t.es.search<{ tenant: string; day: string; segments: string[] }>({
      index: `${t.name}-profiles-*`,
      size: 1000,
      query: { bool: { filter: [{ term: { day } }, ...(tenant ? [{ term: { tenant } }] : [])] } },
    })
    const sizes: Record<string, number> = {}
    for (const hit of result.hits.hits)
      for (const segment of new Set(hit._source!.segments)) sizes[segment] = (sizes[segment] ?? 0) + 1
    return sizes
  }

  it('segment statistics show groups of at least k users and suppress the rest', async () => {
    const day = isoDay(DAY)
    const acme = await app.inject({
      method: 'GET',
      url: `/v1/segments/sizes?from=${day}&to=${day}`,
      headers: { authorization: `Bearer ${key('acme')}` },
    })
    expect(acme.statusCode).toBe(200)
    const [d] = acme.json().days
    expect(d.day).toBe(day)
    expect(d.active_users).toBe(9)
    const shown = Object.fromEntries(
      d.segments.map((s: { segment: string; users: number }) => [s.segment, s.users]),
    )
    expect(shown.power_user).toBe(6)
    // Independent truth: distinct users per segment in the stored profiles of the day. The answer
    // shows exactly the segments with at least k = 5 true users, with their true sizes (no noise
    // here), and counts every smaller non-empty segment as suppressed.
    const truth = await trueSegmentSizes('acme', day)
    expect(truth.dormant).toBe(1) // the data does have small groups to hide
    expect(shown).toEqual(Object.fromEntries(Object.entries(truth).filter(([, users]) => users >= 5)))
    expect(d.suppressed).toBe(Object.values(truth).filter((users) => users < 5).length)

    // globex has one active user: nothing of the day is shown, not even the total
    const globex = await app.inject({
      method: 'GET',
      url: `/v1/segments/sizes?from=${day}&to=${day}`,
      headers: { authorization: `Bearer ${key('globex')}` },
    })
    expect(globex.json().days[0]).toMatchObject({ active_users: null, segments: [] })
    // a tenant key cannot look at another tenant
    const cross = await app.inject({
      method: 'GET',
      url: `/v1/segments/sizes?from=${day}&to=${day}&tenant=globex`,
      headers: { authorization: `Bearer ${key('acme')}` },
    })
    expect(cross.statusCode).toBe(404)
    // product-wide: both tenants together (7 power users)
    const product = await app.inject({
      method: 'GET',
      url: `/v1/segments/sizes?from=${day}&to=${day}`,
      headers: { authorization: `Bearer ${key('product')}` },
    })
    const all = product.json().days[0]
    expect(all.active_users).toBe(10)
    expect(all.segments.find((s: { segment: string }) => s.segment === 'power_user').users).toBe(7)
  })

  it('segment sizes carry sticky noise: repeated queries are identical, nothing below k', async () => {
    const config = loadConfig({ ...t.env, SPOR_STATS_NOISE_SD: '1' })
    const keys = new KeyStore(t.es, config.es.indexPrefix, 0)
    const noisy = await buildQueryApp({ config, es: t.es, keys, log: t.log, clock: systemClock })
    const day = isoDay(DAY)
    const sizes = async () =>
      (
        await noisy.inject({
          method: 'GET',
          url: `/v1/segments/sizes?from=${isoDay(new Date(DAY.getTime() - 6 * DAY_MS))}&to=${day}`,
          headers: { authorization: `Bearer ${key('product')}` },
        })
      ).json()
    const firstAnswer = await sizes()
    for (let i = 0; i < 3; i++) expect(await sizes()).toEqual(firstAnswer)
    const shownDay = firstAnswer.days.find((d: { day: string }) => d.day === day)
    expect(shownDay.active_users).not.toBeNull()
    // Which groups are shown is decided by the sticky noisy threshold (k + sd·(2 + g) per cell,
    // never below k): only groups of at least k true users, and one near k may be held back (a
    // 7-user group against sd 1 is shown on about half the days, as the cell's seed holds the day).
    // Every non-empty segment is either shown or counted as suppressed; no shown size is below k.
    const truth = await trueSegmentSizes(undefined, day)
    for (const { segment, users } of shownDay.segments as { segment: string; users: number }[]) {
      expect(truth[segment]).toBeGreaterThanOrEqual(5)
      expect(users).toBeGreaterThanOrEqual(5)
    }
    expect(shownDay.segments.length + shownDay.suppressed).toBe(Object.keys(truth).length)
    await noisy.close()
  })

  it('a failed tombstone load fails the run (nobody would count as erased); the schedule logs it and retries', async () => {
    // A read block makes the tombstone index fail to load, as an unavailable index would.
    const tombstones = tombstoneIndex(t.name)
    if (!(await t.es.indices.exists({ index: tombstones }))) await t.es.indices.create({ index: tombstones })
    await t.es.indices.putSettings({ index: tombstones, settings: { 'index.blocks.read': true } })
    const lines: string[] = []
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) })
    let schedule: { stop: () => Promise<void> } | undefined
    try {
      await expect(runSegmentsJob({ es: t.es, config: t.config, log, table }, DAY)).rejects.toThrow(
        /cluster_block_exception/,
      )
      schedule = startSegmentsSchedule(t.es, t.config, log, { everyMs: 200 })
      await waitFor(
        async () => lines.filter((l) => l.includes('segments job failed')).length,
        (failures) => failures >= 2,
        { timeoutMs: 20_000, what: 'two logged failed runs' },
      )
    } finally {
      await t.es.indices.putSettings({ index: tombstones, settings: { 'index.blocks.read': null } })
    }
    // Still running: once the tombstones load again, the next check completes the day.
    await waitFor(
      async () => lines.some((l) => l.includes('"msg":"segments computed"')),
      (done) => done,
      { timeoutMs: 30_000, what: 'a completed run after the failures' },
    )
    await schedule?.stop()
  })

  it('the profile and its reasons are in the person’s export, and gone after erasure', async () => {
    const privacy = new PrivacyService({ es: t.es, config: t.config, log: t.log })
    const exp = (await privacy.openExport('acme', 'phone', { key: 'cli' }))!
    let text = ''
    for await (const chunk of exportText(exp, 'ndjson')) text += chunk
    const profiles = text
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => JSON.parse(l))
      .filter((r) => r.class === 'profiles')
    expect(profiles).toHaveLength(1)
    expect(profiles[0].document.segments).toContain('mobile_first')
    expect(
      profiles[0].document.rules.find((r: { segment: string }) => r.segment === 'mobile_first').because,
    ).toEqual(['share_mobile = 1 (at least 0.6): yes'])

    const receipt = (await privacy.erase('acme', 'phone', { key: 'cli' }))!
    expect(receipt.deleted.profiles).toBe(1)
    expect(await countDocs(t, 'profiles-*', { term: { 'user.pseudo': pseudo('acme', 'phone') } })).toBe(0)
    // and the next run does not bring the profile back (the person is tombstoned)
    const rerun = await runSegmentsJob({ es: t.es, config: t.config, log: t.log, table }, DAY)
    expect(rerun.skippedErased).toBe(0) // the short-class data is gone, so the person is not active
    expect(await countDocs(t, 'profiles-*', { term: { 'user.pseudo': pseudo('acme', 'phone') } })).toBe(0)
  })
})
