import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fixedClock } from '../core/clock.ts'
import {
  classIndex,
  classPattern,
  MISSING_INDICES_ARE_EMPTY,
  parseClassIndex,
  projectedPrimaries,
  SHARD_BUDGET,
} from '../core/indices.ts'
import {
  DAY_MS,
  DEFAULT_RETENTION_DAYS,
  expiresAt,
  isoDay,
  RETENTION_CLASSES,
  RETENTION_TIME_FIELD,
  type RetentionClass,
} from '../core/retention.ts'
import { seededRandom } from '../generate/random.ts'
import { enforceRetention } from '../ilm-policies/enforcer.ts'
import { generatedFiles } from '../ilm-policies/generated.ts'
import { templateName } from '../ilm-policies/templates.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * The index layout over years, on the real cluster with an injectable clock: documents of every
 * class written across 800 simulated days, the enforcer (index drops + sweep) run once per
 * simulated day, and after every run the stored documents are exactly those whose day has not
 * expired, the shard count stays inside the budget, and the oldest document just before each run
 * is at most 24 h past its retention.
 */

const RETENTION = DEFAULT_RETENTION_DAYS
const PROJECTED = projectedPrimaries(RETENTION)

/** A minimal document of each class that its strict mapping accepts, placed at `time`. */
function documentOf(cls: RetentionClass, id: string, time: Date): Record<string, unknown> {
  switch (cls) {
    case 'short':
      return {
        '@timestamp': time.toISOString(),
        event: { id, action: 'page.view' },
        organization: { id: 'acme' },
      }
    case 'long':
      return {
        '@timestamp': time.toISOString(),
        event: { id, action: 'job.start' },
        organization: { id: 'acme' },
      }
    case 'alerts':
      return { '@timestamp': time.toISOString(), alert_id: id, rule: 'sim', tenant: 'acme' }
    case 'stats':
      return { day: isoDay(time), tenant: 'acme', module: id, dim: 'total', key: '_', events: 1, v: 1 }
    case 'profiles':
      return { '@timestamp': time.toISOString(), day: isoDay(time), tenant: 'acme' }
  }
}

interface Written {
  cls: RetentionClass
  id: string
  time: Date
}

let t: TestEnv

beforeAll(async () => {
  t = await createTestEnv('layout')
})
afterAll(async () => {
  await t?.cleanup()
})

async function write(docs: Written[]): Promise<void> {
  if (docs.length === 0) return
  const result = await t.es.bulk({
    refresh: true,
    operations: docs.flatMap((d) => [
      { index: { _index: classIndex(t.name, d.cls, d.time), _id: d.id } },
      documentOf(d.cls, d.id, d.time),
    ]),
  })
  expect(result.errors, JSON.stringify(result.items.find((i) => i.index?.error))).toBe(false)
}

/** Indices of the installation per class (both layouts). */
async function indicesPerClass(): Promise<Record<RetentionClass, string[]>> {
  const rows = (await t.es.cat.indices({
    index: RETENTION_CLASSES.map((cls) => classPattern(t.name, cls)),
    format: 'json',
    h: 'index',
  })) as { index: string }[]
  const out = Object.fromEntries(RETENTION_CLASSES.map((cls) => [cls, [] as string[]])) as Record<
    RetentionClass,
    string[]
  >
  for (const { index } of rows) out[parseClassIndex(index)!.cls].push(index)
  return out
}

/** Per class: stored documents and the oldest document time, in one request. */
async function storedPerClass(): Promise<Record<RetentionClass, { count: number; oldest: number | null }>> {
  // Writes refresh (bulk) and so does the sweep: no refresh of everything each simulated day.
  const result = await t.es.msearch({
    searches: RETENTION_CLASSES.flatMap((cls) => [
      { index: classPattern(t.name, cls), ...MISSING_INDICES_ARE_EMPTY },
      {
        size: 0,
        track_total_hits: true,
        aggs: { oldest: { min: { field: RETENTION_TIME_FIELD[cls] } } },
      },
    ]),
  })
  const out = {} as Record<RetentionClass, { count: number; oldest: number | null }>
  RETENTION_CLASSES.forEach((cls, i) => {
    const response = result.responses[i] as unknown as {
      hits: { total: { value: number } }
      aggregations: { oldest: { value: number | null } }
      error?: unknown
    }
    expect(response.error).toBeUndefined()
    out[cls] = { count: response.hits.total.value, oldest: response.aggregations.oldest.value }
  })
  return out
}

describe('index layout over years', () => {
  it('800 simulated days: within the shard budget, nothing older than retention + 24 h, nothing lost early', async () => {
    const started = Date.now()
    const next = seededRandom(14)
    // The enforcer runs daily at 23:00 UTC: the latest point of the day, so the worst overshoot.
    const first = Date.UTC(2024, 0, 1, 23)
    const ledger: Written[] = []
    let maxOvershootMs = 0
    let maxTotal = 0
    const maxPerClass = Object.fromEntries(RETENTION_CLASSES.map((c) => [c, 0])) as Record<
      RetentionClass,
      number
    >
    let seq = 0
    const oldestAfterLastRun = Object.fromEntries(RETENTION_CLASSES.map((c) => [c, null])) as Record<
      RetentionClass,
      number | null
    >
    for (let day = 0; day < 800; day++) {
      const now = new Date(first + day * DAY_MS)
      // A few documents per class every few days: one from today, one late (back-dated inside
      // retention), so sweeps hit documents that are not at an index edge. Short documents every
      // 8th day only: each new daily index costs the shared node an index creation (the run
      // time is dominated by those), and 100 daily indices born and dropped is evidence enough.
      const batch: Written[] = []
      for (const cls of RETENTION_CLASSES) {
        if (day % (cls === 'short' ? 8 : 4) !== 0) continue
        const today = new Date(now.getTime() - Math.floor(next() * 23 * 3_600_000))
        const lateDays = Math.floor(next() * (RETENTION[cls] - 1))
        const late = new Date(now.getTime() - lateDays * DAY_MS - Math.floor(next() * 20 * 3_600_000))
        for (const time of [today, late]) batch.push({ cls, id: `${cls}-${seq++}`, time })
      }
      await write(batch)
      ledger.push(...batch)

      // Just before the run: how far past its retention is the oldest document of each class?
      // (The previous run's survivors, a day older; today's writes are inside retention.)
      for (const cls of RETENTION_CLASSES) {
        const oldest = oldestAfterLastRun[cls]
        if (oldest === null) continue
        maxOvershootMs = Math.max(maxOvershootMs, now.getTime() - oldest - RETENTION[cls] * DAY_MS)
      }

      const report = await enforceRetention(t.es, {
        prefix: t.name,
        retentionDays: RETENTION,
        clock: fixedClock(now.toISOString()),
        log: t.log,
      })
      expect(report.failed).toEqual([])

      // After the run: exactly the documents whose day has not expired, per class.
      const after = await storedPerClass()
      for (const cls of RETENTION_CLASSES) {
        oldestAfterLastRun[cls] = after[cls].oldest
        const alive = ledger.filter((d) => d.cls === cls && expiresAt(d.time, RETENTION[cls]) > now)
        expect({ day: isoDay(now), cls, count: after[cls].count }).toEqual({
          day: isoDay(now),
          cls,
          count: alive.length,
        })
      }
      const indices = await indicesPerClass()
      let total = 0
      for (const cls of RETENTION_CLASSES) {
        expect(indices[cls].length, `${cls} on ${isoDay(now)}: ${indices[cls]}`).toBeLessThanOrEqual(
          PROJECTED[cls],
        )
        maxPerClass[cls] = Math.max(maxPerClass[cls], indices[cls].length)
        total += indices[cls].length
      }
      expect(total).toBeLessThanOrEqual(SHARD_BUDGET)
      maxTotal = Math.max(maxTotal, total)
      if (day % 100 === 99)
        t.log.warn({ day: day + 1, total, ms: Date.now() - started }, 'simulation progress')
    }
    // The documents of the last days are all there, by id.
    const recent = ledger.filter((d) => expiresAt(d.time, RETENTION[d.cls]) > new Date(first + 799 * DAY_MS))
    const found = await t.es.search({
      index: `${t.name}-*`,
      size: 0,
      track_total_hits: true,
      query: { ids: { values: recent.map((d) => d.id) } },
    })
    expect((found.hits.total as { value: number }).value).toBe(recent.length)
    expect(maxOvershootMs).toBeLessThan(DAY_MS)
    t.log.warn(
      {
        maxOvershootHours: +(maxOvershootMs / 3_600_000).toFixed(2),
        maxPerClass,
        maxTotal,
        docs: ledger.length,
      },
      'simulation figures',
    )
    // Index creations on a shared, loaded node take ~1 s each: generous, the run waits for evidence.
  }, 1_800_000)

  it('documents of every class spread over the past year create no more than the budgeted indices', async () => {
    const prefix = `${t.name}y`
    const now = new Date()
    const docs: Written[] = []
    for (const cls of RETENTION_CLASSES) {
      // One document per day still inside the class's retention, for up to a year.
      for (let age = 0; age < Math.min(365, RETENTION[cls]); age++) {
        docs.push({ cls, id: `${cls}-${age}`, time: new Date(now.getTime() - age * DAY_MS) })
      }
    }
    // Creating ~50 indices in one bulk takes a while on a loaded node.
    const result = await t.es.bulk(
      {
        refresh: true,
        operations: docs.flatMap((d) => [
          { index: { _index: classIndex(prefix, d.cls, d.time), _id: d.id } },
          documentOf(d.cls, d.id, d.time),
        ]),
      },
      { requestTimeout: 300_000 },
    )
    try {
      expect(result.errors).toBe(false)
      const names = [...new Set(result.items.map((i) => i.index!._index))]
      const perClass = Object.fromEntries(RETENTION_CLASSES.map((c) => [c, 0])) as Record<
        RetentionClass,
        number
      >
      for (const name of names) perClass[parseClassIndex(name)!.cls]++
      for (const cls of RETENTION_CLASSES) expect(perClass[cls]).toBeLessThanOrEqual(PROJECTED[cls])
      expect(names.length).toBeLessThanOrEqual(SHARD_BUDGET)
      // The first layout made one index per class and day: 21 + 365 + 365 + 365 + 21.
      expect(names.length).toBeLessThan(60)
    } finally {
      const created = [...new Set(result.items.map((i) => i.index!._index))]
      if (created.length > 0) await t.es.indices.delete({ index: created, ignore_unavailable: true })
    }
  }, 600_000)

  it('the generated template JSON equals what setup installed (less the ILM settings this node refuses)', async () => {
    const files = generatedFiles(t.name, t.config.retentionDays)
    /** Settings as Elasticsearch reports them: flat `index.*` keys with string values. */
    const flatSettings = (settings: Record<string, unknown>, path = ''): Record<string, string> =>
      Object.fromEntries(
        Object.entries(settings).flatMap(([key, value]) => {
          const full = path ? `${path}.${key}` : key
          if (value && typeof value === 'object')
            return Object.entries(flatSettings(value as Record<string, unknown>, full))
          return [[full.startsWith('index.') ? full : `index.${full}`, String(value)]]
        }),
      )
    for (const cls of RETENTION_CLASSES) {
      const name = templateName(t.name, cls)
      const generated = files.get(`templates/${name}.json`) as {
        index_patterns: string[]
        priority: number
        _meta: unknown
        template: { settings: Record<string, unknown>; mappings: unknown }
      }
      const installed = (await t.es.indices.getIndexTemplate({ name })).index_templates[0]!.index_template
      const {
        'index.lifecycle.name': _n,
        'index.lifecycle.parse_origination_date': _p,
        ...settings
      } = flatSettings(generated.template.settings)
      expect(flatSettings((installed.template?.settings ?? {}) as Record<string, unknown>)).toEqual(settings)
      expect(installed.template?.mappings).toEqual(generated.template.mappings)
      expect(installed.index_patterns).toEqual(generated.index_patterns)
      expect(installed.priority).toBe(generated.priority)
      expect(installed._meta).toEqual(generated._meta)
    }
  })
})
