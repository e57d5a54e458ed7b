import { spawn } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fixedClock } from '../core/clock.ts'
import { loadConfig } from '../core/config.ts'
import { createEsClient } from '../core/es.ts'
import { classIndex, dailyIndex, MISSING_INDICES_ARE_EMPTY } from '../core/indices.ts'
import { KeyStore } from '../core/keys.ts'
import { createLogger } from '../core/logger.ts'
import { isoDay } from '../core/retention.ts'
import { seededRandom } from '../generate/random.ts'
import { MODULES } from '../generate/traffic.ts'
import { installIndexSetup } from '../ilm-policies/install.ts'
import { ecsShapeFirstNameAliases } from '../ilm-policies/mappings.ts'
import { buildQueryApp } from '../query/app.ts'
import { countRawPerDay, rollupDays } from '../query/rollups/job.ts'
import { ROLLUP_FORMAT, readRollupMarkers } from '../query/rollups/store.ts'
import { countingRules } from '../query/stats/raw-rows.ts'
import { RowCacheWarmUp } from '../query/stats/warm-up.ts'

/**
 * Statistics latency, raw path against rollup path, over a generated data set written straight
 * into Elasticsearch with the bulk API (documents shaped like enriched `short` events). Meant for
 * a private Elasticsearch with a larger heap, e.g.
 *   SPOR_STACK_DIR=/tmp/spor-bench SPOR_ES_PORT=9251 SPOR_ES_TRANSPORT_PORT=9351 SPOR_ES_HEAP=2g bash stack/stack.sh up es
 *   node --import tsx bench/stats.ts --es http://127.0.0.1:9251 --events 10000000
 */
export interface StatsBenchOptions {
  esUrl: string
  events: number
  days: number
  tenants: number
  usersPerTenant: number
  prefix: string
  rawRuns: number
  rollupRuns: number
  /** Cold samples per question and path: each the first ask of a freshly started query app. */
  coldRuns: number
  /** Keep an already generated data set of the same size instead of regenerating it. */
  reuse: boolean
}

export const DEFAULT_STATS_BENCH: StatsBenchOptions = {
  esUrl: 'http://127.0.0.1:9200',
  events: 10_000_000,
  days: 30,
  tenants: 20,
  usersPerTenant: 500,
  prefix: 'benchstats',
  rawRuns: 5,
  rollupRuns: 20,
  coldRuns: 10,
  reuse: true,
}

export interface Percentiles {
  p50: number
  p95: number
  runs: number
}

/** One question's latency per read path; absent where the path does not apply. */
export interface QueryTimings {
  name: string
  /**
   * Default path: rollups, and raw events for the last SPOR_STATS_RAW_DAYS days; asked again of
   * the same instance (warm: rows come from its row cache after each day's marker is checked).
   */
  auto?: Percentiles
  rollup?: Percentiles
  /** The same, each sample the first ask of a freshly started instance (row cache empty). */
  autoCold?: Percentiles
  rollupCold?: Percentiles
  /** The default path, each sample the first ask of a fresh instance once its warm-up is done. */
  autoWarmedUp?: Percentiles
  raw?: Percentiles
  /** The same question on the baseline checkout (SPOR_BENCH_BASELINE_ROOT), if given. */
  baseline?: { raw?: Percentiles; rollup?: Percentiles; failed?: string }
}

export interface StatsBenchResult {
  events: number
  days: number
  users: number
  indexSeconds: number | null
  eventsPerSecond: number | null
  rollupSeconds: number
  /** Days rolled up in this run; the others were complete and current (marker = raw count). */
  rolledDays: number
  rollupRows: number
  rawStoreBytes: number
  rollupStoreBytes: number
  queries: QueryTimings[]
  baselineRoot?: string
}

/** p95 target of issue 13 item 6 for every statistics question of the bench. */
export const STATS_P95_TARGET_MS = 100

const BROWSERS = [
  ['Chrome', '131', 'Windows', 'desktop', 'Microsoft'],
  ['Chrome', '130', 'Windows', 'desktop', 'Microsoft'],
  ['Edge', '131', 'Windows', 'desktop', 'Microsoft'],
  ['Firefox', '133', 'Windows', 'desktop', 'Microsoft'],
  ['Safari', '18', 'Mac OS', 'desktop', 'Apple'],
  ['Mobile Safari', '18', 'iOS', 'mobile', 'Apple'],
  ['Mobile Safari', '17', 'iOS', 'tablet', 'Apple'],
  ['Chrome Mobile', '131', 'Android', 'mobile', 'Samsung'],
  ['Chrome Mobile', '130', 'Android', 'mobile', 'Google'],
] as const
const PLACES = [
  ['NO', '03'],
  ['NO', '46'],
  ['NO', '50'],
  ['SE', 'AB'],
  ['DE', 'BE'],
  ['GB', 'ENG'],
  ['US', 'CA'],
  ['FI', '18'],
] as const

interface BenchUser {
  fixed: string
  /** spor.* members of the user, joined into the event's spor object. */
  spor: string
}

function users(options: StatsBenchOptions): BenchUser[] {
  const random = seededRandom(11)
  const out: BenchUser[] = []
  for (let t = 0; t < options.tenants; t++) {
    for (let u = 0; u < options.usersPerTenant; u++) {
      const tenant = `tenant${String(t).padStart(2, '0')}`
      const id = `u${u}`
      const pseudo = createHmac('sha256', 'bench-pseudonym-key')
        .update(`${tenant}:${id}`)
        .digest('base64url')
        .slice(0, 22)
      const [name, major, os, type, vendor] = BROWSERS[Math.floor(random() * BROWSERS.length)]!
      const [country, region] = PLACES[Math.floor(random() * PLACES.length)]!
      // The fields every event of this user shares, pre-serialised once (the generator is hot).
      out.push({
        // ECS names (core/ecs-fields.ts), as enrich/enrich-event.ts writes them.
        fixed: `"organization":{"id":"${tenant}"},"user":{"id":"${id}","hash":"${pseudo}"},"user_agent":{"name":"${name}","os":{"name":"${os}"}},"device":{"manufacturer":"${vendor}"},"source":{"geo":{"country_iso_code":"${country}","region_name":"${region}"}}`,
        spor: `"user_agent":{"major":"${major}","bot":false,"source":"ua"},"device":{"type":"${type}"}`,
      })
    }
  }
  return out
}

/** NDJSON bulk bodies for one day, about `perDay` events in sessions of 5–25 events. */
function* dayBodies(
  day: string,
  perDay: number,
  all: BenchUser[],
  index: string,
  seed: number,
): Generator<string> {
  const random = seededRandom(seed)
  const moduleNames = Object.keys(MODULES)
  const dayStart = Date.parse(`${day}T00:00:00Z`)
  const action = `{"index":{"_index":"${index}"}}\n`
  let lines: string[] = []
  let produced = 0
  let session = 0
  while (produced < perDay) {
    const user = all[Math.floor(random() * all.length)]!
    const length = 5 + Math.floor(random() * 21)
    let ts = dayStart + (6 + random() * 12) * 3_600_000
    const sid = `${day}-${seed}-${session++}`
    for (let i = 0; i < length && produced < perDay; i++, produced++) {
      ts += 5_000 + random() * 90_000
      let type: string
      let extra = ''
      if (i === 0) type = random() < 0.08 ? 'session.login_failed' : 'session.login'
      else if (i === length - 1) type = 'session.logout'
      else {
        type = random() < 0.5 ? 'page.view' : 'feature.use'
        const module = moduleNames[Math.floor(random() * moduleNames.length)]!
        const fns = MODULES[module]!
        extra = `,"module":"${module}","function":"${fns[Math.floor(random() * fns.length)]}"`
      }
      lines.push(
        `${action}{"@timestamp":"${new Date(Math.min(ts, dayStart + 86_399_000)).toISOString()}","event":{"action":"${type}","kind":"event"},${user.fixed},"spor":{"event_version":1,"session":{"id":"${sid}"},${user.spor}${extra}}}\n`,
      )
      if (lines.length === 5000) {
        yield lines.join('')
        lines = []
      }
    }
  }
  if (lines.length > 0) yield lines.join('')
}

function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0
  return { p50: Math.round(at(0.5)), p95: Math.round(at(0.95)), runs: samples.length }
}

/**
 * Called by `npm run bench` without arguments: SPOR_BENCH_STATS_ES_URL (a private cluster with a
 * larger heap; default SPOR_ES_URL or the local node) and SPOR_BENCH_STATS_EVENTS (default 10 M).
 */
export async function runStatsBench(partial: Partial<StatsBenchOptions> = {}): Promise<StatsBenchResult> {
  const fromEnv: Partial<StatsBenchOptions> = {}
  const envUrl = process.env.SPOR_BENCH_STATS_ES_URL ?? process.env.SPOR_ES_URL
  if (envUrl) fromEnv.esUrl = envUrl
  if (process.env.SPOR_BENCH_STATS_EVENTS) fromEnv.events = Number(process.env.SPOR_BENCH_STATS_EVENTS)
  // 0 leaves out the raw-events column (minutes per question at 10 M on a small node).
  if (process.env.SPOR_BENCH_STATS_RAW_RUNS) fromEnv.rawRuns = Number(process.env.SPOR_BENCH_STATS_RAW_RUNS)
  if (process.env.SPOR_BENCH_STATS_RUNS) fromEnv.rollupRuns = Number(process.env.SPOR_BENCH_STATS_RUNS)
  if (process.env.SPOR_BENCH_STATS_COLD_RUNS)
    fromEnv.coldRuns = Number(process.env.SPOR_BENCH_STATS_COLD_RUNS)
  const options = { ...DEFAULT_STATS_BENCH, ...fromEnv, ...partial }
  if (!Number.isInteger(options.events) || options.events < options.days)
    throw new Error(`the statistics bench needs a whole number of events >= days, got ${options.events}`)
  const config = loadConfig({
    SPOR_ES_URL: options.esUrl,
    SPOR_INDEX_PREFIX: options.prefix,
    SPOR_PSEUDONYM_KEY: 'bench-only-pseudonym-key-0123456789abcdef',
    SPOR_LOG_LEVEL: 'warn',
    SPOR_ES_TIMEOUT_MS: String(30 * 60_000),
    SPOR_ROLLUP_EVERY_MS: '0',
    SPOR_QUERY_RATE_LIMIT: '1000000',
    // Every run computes its answer: no answer cache, and a budget no bench exhausts.
    SPOR_STATS_CACHE_MS: '0',
    SPOR_STATS_BUDGET_QUESTIONS: '1000000',
    // The warmed view ends today (the clock's day); the bench's 30 days end yesterday.
    SPOR_STATS_WARM_UP_DAYS: String(options.days + 1),
  })
  const log = createLogger('bench-stats', 'warn')
  const es = createEsClient(config)
  // The data set's days end yesterday, or on SPOR_BENCH_STATS_END (YYYY-MM-DD: reuse a data set
  // generated on an earlier day; the clock is then the day after it at this time of day).
  const end = process.env.SPOR_BENCH_STATS_END
  if (end !== undefined && (!/^\d{4}-\d{2}-\d{2}$/.test(end) || Number.isNaN(Date.parse(`${end}T00:00:00Z`))))
    throw new Error(`SPOR_BENCH_STATS_END must be a day (YYYY-MM-DD), got ${end}`)
  const now = end
    ? new Date(Date.parse(`${end}T00:00:00Z`) + 86_400_000 + (Date.now() % 86_400_000))
    : new Date()
  const days = Array.from({ length: options.days }, (_, i) =>
    isoDay(new Date(now.getTime() - (options.days - i) * 86_400_000)),
  )
  const all = users(options)
  const perDay = Math.ceil(options.events / options.days)
  try {
    await installIndexSetup(es, config)
    const indices = days.map((d) => classIndex(options.prefix, 'short', new Date(d)))
    const existing = await es
      .count({ index: indices, ...MISSING_INDICES_ARE_EMPTY })
      .catch(() => ({ count: 0 }))
    let indexSeconds: number | null = null
    if (!options.reuse || existing.count !== perDay * options.days) {
      await es.indices.delete({ index: indices, ignore_unavailable: true })
      const started = Date.now()
      let done = 0
      for (const [i, day] of days.entries()) {
        const index = indices[i]!
        await es.indices.create({ index, settings: { refresh_interval: '-1' } })
        const inFlight = new Set<Promise<void>>()
        for (const body of dayBodies(day, perDay, all, index, i + 1)) {
          const request = es.transport
            .request(
              { method: 'POST', path: '/_bulk', body, querystring: { filter_path: 'errors' } },
              { headers: { 'content-type': 'application/x-ndjson' } },
            )
            .then((response) => {
              if ((response as { errors?: boolean }).errors) throw new Error(`bulk errors in ${index}`)
            })
          const tracked: Promise<void> = request.finally(() => inFlight.delete(tracked))
          inFlight.add(tracked)
          if (inFlight.size >= 2) await Promise.race(inFlight)
        }
        await Promise.all(inFlight)
        await es.indices.putSettings({ index, settings: { refresh_interval: '1s' } })
        done += perDay
        const seconds = (Date.now() - started) / 1000
        process.stderr.write(`indexed ${done} events (${day}), ${Math.round(done / seconds)}/s\n`)
      }
      await es.indices.refresh({ index: indices })
      indexSeconds = (Date.now() - started) / 1000
    }

    // Only days whose rollup is missing, of another row format, or computed from other raw
    // documents than are there now are rolled up (a run after a read-path change takes minutes).
    const rollupStarted = Date.now()
    const [markers, rawCounts] = await Promise.all([
      readRollupMarkers(es, options.prefix, days),
      countRawPerDay(es, options.prefix),
    ])
    const due = days.filter((day) => {
      const marker = markers.get(day)
      return !marker || marker.format !== ROLLUP_FORMAT || marker.sourceEvents !== rawCounts.get(day)
    })
    const rolled = await rollupDays(es, options.prefix, due, now, countingRules(config), (r, n) =>
      process.stderr.write(`rolled up ${r.day}: ${r.rows} rows in ${r.ms} ms (${n}/${due.length})\n`),
    )
    const rollupSeconds = (Date.now() - rollupStarted) / 1000
    const storedRows = await es.count({
      index: `${options.prefix}-stats-*`,
      query: {
        bool: {
          filter: [{ range: { day: { gte: days[0], lte: days.at(-1), format: 'strict_date' } } }],
          must_not: [{ term: { dim: '_complete' } }],
        },
      },
    })

    const stats = (await es.indices.stats({ index: `${options.prefix}-*`, metric: 'store' })).indices ?? {}
    const bytes = (cls: string) =>
      Object.entries(stats)
        .filter(([name]) => name.includes(`-${cls}-`))
        .reduce((sum, [, s]) => sum + (s.total?.store?.size_in_bytes ?? 0), 0)

    const from = days[0]!
    const to = days.at(-1)!
    // 24 months back from today: the rollups' retention (25 months) covers it.
    const longFrom = isoDay(new Date(now.getTime() - 730 * 86_400_000))
    const today = isoDay(now)
    const queries = [
      ['summary, 30 days, all tenants', `/v1/stats/summary?from=${from}&to=${to}`],
      [
        'active users per day, 30 days',
        `/v1/stats/timeseries?metric=users&interval=day&from=${from}&to=${to}`,
      ],
      [
        'breakdown by browser, one tenant',
        `/v1/stats/breakdown?by=browser&tenant=tenant03&from=${from}&to=${to}`,
      ],
      ['breakdown by module, all tenants', `/v1/stats/breakdown?by=module&from=${from}&to=${to}`],
    ] as const
    const longQueries: [string, string][] = [
      ['summary, 24 months, rollups', `/v1/stats/summary?from=${longFrom}&to=${today}&source=rollup`],
      [
        'users per month, 24 months, rollups',
        `/v1/stats/timeseries?metric=users&interval=month&from=${longFrom}&to=${today}&source=rollup`,
      ],
    ]

    // The baseline first, on a cold cache like the current code, reading the same raw indices.
    const baselineRoot = process.env.SPOR_BENCH_BASELINE_ROOT
    const baseline = baselineRoot
      ? await runBaseline(es, baselineRoot, options, days, [...queries], longQueries)
      : undefined

    const keys = new KeyStore(es, options.prefix, 60_000)
    await keys.ensureIndex()
    const { key } = await keys.create({ kind: 'api', scope: 'product', name: 'bench' })
    const startApp = (warmUp?: RowCacheWarmUp) =>
      buildQueryApp({
        config,
        es,
        keys,
        log,
        clock: fixedClock(now.toISOString()),
        ...(warmUp ? { warmUp } : {}),
      })
    const ask = async (app: Awaited<ReturnType<typeof startApp>>, url: string): Promise<number> => {
      const started = performance.now()
      const response = await app.inject({ url, headers: { authorization: `Bearer ${key}` } })
      if (response.statusCode !== 200) throw new Error(`${url}: ${response.statusCode} ${response.body}`)
      return performance.now() - started
    }
    // Warm: asked again of one instance, after one unmeasured ask (a dashboard reloading).
    const warm = async (url: string, runs: number): Promise<Percentiles> => {
      const app = await startApp()
      try {
        await ask(app, url)
        const samples: number[] = []
        for (let i = 0; i < runs; i++) samples.push(await ask(app, url))
        return percentiles(samples)
      } finally {
        await app.close()
      }
    }
    // Cold: every sample is the first ask of a freshly started instance (its caches empty).
    const cold = async (url: string, runs: number): Promise<Percentiles> => {
      const samples: number[] = []
      for (let i = 0; i < runs; i++) {
        const app = await startApp()
        try {
          samples.push(await ask(app, url))
        } finally {
          await app.close()
        }
      }
      return percentiles(samples)
    }
    // After warm-up: the first ask of a fresh instance once it reports ready, as a load balancer
    // routes to it (query/stats/warm-up.ts reads the dashboard's product-wide view first).
    const warmedUp = async (url: string, runs: number): Promise<Percentiles> => {
      const samples: number[] = []
      for (let i = 0; i < runs; i++) {
        const warmUp = new RowCacheWarmUp()
        const app = await startApp(warmUp)
        try {
          await app.ready()
          await warmUp.start(log)
          if (warmUp.state !== 'done') throw new Error(`warm-up ${warmUp.state}`)
          samples.push(await ask(app, url))
        } finally {
          await app.close()
        }
      }
      return percentiles(samples)
    }
    const results: QueryTimings[] = []
    for (const [name, url] of queries) {
      const rollupCold = await cold(`${url}&source=rollup`, options.coldRuns)
      const rollup = await warm(`${url}&source=rollup`, options.rollupRuns)
      const autoCold = await cold(url, options.coldRuns)
      const autoWarmedUp = await warmedUp(url, options.coldRuns)
      const auto = await warm(url, options.rollupRuns)
      const raw = options.rawRuns > 0 ? await warm(`${url}&source=raw`, options.rawRuns) : undefined
      const old = baseline?.queries.find((q) => q.name === name)
      results.push({
        name,
        autoCold,
        autoWarmedUp,
        auto,
        rollupCold,
        rollup,
        ...(raw ? { raw } : {}),
        ...(old ? { baseline: old.baseline } : {}),
      })
    }
    for (const [name, url] of longQueries) {
      const rollupCold = await cold(url, options.coldRuns)
      const rollup = await warm(url, options.rollupRuns)
      const old = baseline?.queries.find((q) => q.name === name)
      results.push({ name, rollupCold, rollup, ...(old ? { baseline: old.baseline } : {}) })
    }
    const result: StatsBenchResult = {
      events: perDay * options.days,
      days: options.days,
      users: all.length,
      indexSeconds,
      eventsPerSecond: indexSeconds ? Math.round((perDay * options.days) / indexSeconds) : null,
      rollupSeconds,
      rolledDays: rolled.length,
      rollupRows: storedRows.count,
      rawStoreBytes: bytes('short'),
      rollupStoreBytes: bytes('stats'),
      queries: results,
      ...(baselineRoot ? { baselineRoot } : {}),
    }
    printStatsBench(result)
    return result
  } finally {
    await es.close()
  }
}

/**
 * The baseline checkout's own statistics bench in a child process, on the same raw events: the
 * old code reads `<prefix>-short-<day>` by name and the first field names, so its prefix gets one
 * index alias per day onto this bench's indices and those get field aliases by the first names; it builds its own rollups under its own prefix.
 */
async function runBaseline(
  es: ReturnType<typeof createEsClient>,
  root: string,
  options: StatsBenchOptions,
  days: string[],
  queries: (readonly [string, string])[],
  longQueries: [string, string][],
): Promise<{ queries: QueryTimings[] }> {
  const prefix = `${options.prefix}base`
  const actions = days.map((day) => ({
    add: {
      index: classIndex(options.prefix, 'short', new Date(day)),
      alias: dailyIndex(prefix, 'short', new Date(day)),
      // Hidden: the old setup puts its first-shape mapping on `<prefix>-short-*`, which would
      // otherwise reach these indices through the aliases and collide with the field aliases.
      is_hidden: true,
    },
  }))
  await es.indices.updateAliases({ actions })
  // The old code queries the first field names (tenant, user.pseudo, …): alias them onto ECS.
  const mappings = await es.indices.getMapping({ index: actions.map((a) => a.add.index) })
  for (const [index, { mappings: mapping }] of Object.entries(mappings)) {
    const aliases = ecsShapeFirstNameAliases(mapping.properties ?? {})
    if (Object.keys(aliases).length > 0) await es.indices.putMapping({ index, properties: aliases })
  }
  const dir = mkdtempSync(join(tmpdir(), 'spor-bench-baseline-'))
  const out = join(dir, 'result.json')
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', new URL('./stats-baseline.ts', import.meta.url).pathname],
        {
          cwd: root,
          stdio: ['ignore', 'inherit', 'inherit'],
          env: {
            ...process.env,
            SPOR_BENCH_BASELINE_ROOT: root,
            SPOR_BENCH_BASELINE_OUT: out,
            SPOR_BENCH_BASELINE_OPTIONS: JSON.stringify({
              esUrl: options.esUrl,
              events: options.events,
              days: options.days,
              prefix,
              rawRuns: options.rawRuns,
              rollupRuns: options.rollupRuns,
              longQueries,
            }),
          },
        },
      )
      child.on('error', reject)
      child.on('exit', resolve)
    })
    if (code !== 0) throw new Error(`the baseline statistics bench in ${root} exited with ${code}`)
    const parsed = JSON.parse(readFileSync(out, 'utf8')) as {
      result: { queries: { name: string; raw: Percentiles; rollup: Percentiles }[] }
      long: { name: string; samples: number[]; status: number; error?: string }[]
    }
    return {
      queries: [
        ...parsed.result.queries
          .filter((q) => queries.some(([name]) => name === q.name))
          .map((q) => ({ name: q.name, baseline: { raw: q.raw, rollup: q.rollup } })),
        ...parsed.long.map((q) => ({
          name: q.name,
          baseline:
            q.status === 200
              ? { rollup: percentiles(q.samples) }
              : { failed: `HTTP ${q.status} ${q.error ?? ''}`.trim() },
        })),
      ],
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
    await es.indices.deleteAlias(
      { index: `${options.prefix}-short-*`, name: `${prefix}-short-*` },
      { ignore: [404] },
    )
  }
}

export function printStatsBench(r: StatsBenchResult): void {
  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`
  console.log(
    `\nstatistics: ${r.events} events, ${r.days} days, ${r.users} users` +
      (r.indexSeconds
        ? `; indexed in ${r.indexSeconds.toFixed(0)} s (${r.eventsPerSecond}/s)`
        : ' (reused data set)'),
  )
  console.log(
    `rollup job: ${r.rollupSeconds.toFixed(1)} s for ${r.rolledDays} of ${r.days} days ` +
      `(the others complete and current), ${r.rollupRows} rows stored; ` +
      `store raw ${mb(r.rawStoreBytes)}, rollups ${mb(r.rollupStoreBytes)}`,
  )
  const cell = (p?: Percentiles) => (p && p.runs > 0 ? `${p.p50} / ${p.p95}` : '-')
  const meets = (p?: Percentiles) => (p ? (p.p95 <= STATS_P95_TARGET_MS ? 'yes' : 'NO') : '-')
  console.log(
    `latency p50 / p95 in ms; cold = first ask of a fresh instance (${r.queries[0]?.rollupCold?.runs ?? 0} ` +
      'samples), after warm-up = its first ask once ready (the same number of ' +
      `samples), warm = asked again of one instance (${r.queries[0]?.rollup?.runs ?? 0} samples)` +
      (r.queries[0]?.raw ? `, raw ${r.queries[0].raw.runs}` : '') +
      (r.baselineRoot
        ? `; "before" = ${r.baselineRoot} in the same run`
        : '; no baseline (SPOR_BENCH_BASELINE_ROOT)'),
  )
  console.table(
    r.queries.map((q) => ({
      query: q.name,
      'default, cold': cell(q.autoCold),
      'default, after warm-up': cell(q.autoWarmedUp),
      'default, warm': cell(q.auto),
      'rollups, cold': cell(q.rollupCold),
      'rollups, warm': cell(q.rollup),
      ...(r.queries.some((x) => x.raw) ? { 'raw events': cell(q.raw) } : {}),
      'before: raw': q.baseline?.failed ?? cell(q.baseline?.raw),
      'before: rollups': q.baseline?.failed ?? cell(q.baseline?.rollup),
      [`cold p95 <= ${STATS_P95_TARGET_MS}`]: meets(q.autoCold ?? q.rollupCold),
      [`after warm-up p95 <= ${STATS_P95_TARGET_MS}`]: meets(q.autoWarmedUp),
      [`warm p95 <= ${STATS_P95_TARGET_MS}`]: meets(q.auto ?? q.rollup),
    })),
  )
}

function arg(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`)
  return at >= 0 ? process.argv[at + 1] : undefined
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const number = (name: string, fallback: number, min = 1) => {
    const raw = arg(name)
    const value = raw === undefined ? fallback : Number(raw)
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}`)
    return value
  }
  await runStatsBench({
    esUrl: arg('es') ?? process.env.SPOR_ES_URL ?? DEFAULT_STATS_BENCH.esUrl,
    events: number('events', DEFAULT_STATS_BENCH.events),
    days: number('days', DEFAULT_STATS_BENCH.days),
    rawRuns: number('raw-runs', DEFAULT_STATS_BENCH.rawRuns, 0),
    rollupRuns: number('rollup-runs', DEFAULT_STATS_BENCH.rollupRuns),
    coldRuns: number('cold-runs', DEFAULT_STATS_BENCH.coldRuns),
    prefix: arg('prefix') ?? DEFAULT_STATS_BENCH.prefix,
    reuse: !process.argv.includes('--fresh'),
  })
}
