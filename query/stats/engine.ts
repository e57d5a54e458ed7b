import { createHash } from 'node:crypto'
import type { Client } from '@elastic/elasticsearch'
import { SporError } from '../../core/errors.ts'
import { isoDay } from '../../core/retention.ts'
import { noisyCount, noisyThreshold, suppressBelowK } from '../anonymity.ts'
import { Hll } from './hll.ts'
import { loadRows, type StatsSource } from './load-rows.ts'
import type { RollupRowCache } from './row-cache.ts'
import {
  ALL_MODULES,
  type DayRow,
  type Dimension,
  EACH_MODULE,
  medianDuration,
  mergeHistograms,
  rowId,
  TOTAL_KEY,
} from './rows.ts'
import { bucketOf, bucketStarts, daysBetween, type Interval, snapRange, weekdayOf } from './time.ts'

/**
 * Statistics over day rows, each figure passed through the anonymity layers of
 * `query/anonymity.ts`: k distinct users and a noisy threshold per published cell, "other" with
 * complementary suppression, sticky noise seeded by the cell's content (its rows and values),
 * never by the phrasing of the question.
 */
export interface StatsContext {
  es: Client
  prefix: string
  k: number
  noiseSd: number
  noiseSecret: Buffer
  rawDays: number
  maxRangeDays: number
  now: Date
  /** Days rollups are kept (stats class): older days cannot hold data. */
  statsRetentionDays: number
  /** Tenants whose browser-key-only users count (raw-rows.ts `attested users`). */
  clientUserTenants: readonly string[]
  /** Decoded rollup rows of earlier requests of this instance (row-cache.ts); none: no cache. */
  rowCache?: RollupRowCache
}

export interface StatsFilter {
  from: string
  to: string
  tenant?: string
  module?: string
  source: StatsSource
}

export interface CellFigures {
  users: number
  events: number
  sessions: number | null
  medianSessionSeconds: number | null
}

interface Cell {
  users: Hll
  events: number
  sessions: number
  durations: Map<number, number>
  /** Ids of the day rows the cell unites: with the values, the cell's content (noise seed). */
  rows: string[]
}

const newCell = (): Cell => ({ users: new Hll(), events: 0, sessions: 0, durations: new Map(), rows: [] })

function addRow(cell: Cell, row: DayRow): void {
  cell.rows.push(rowId(row))
  cell.users.merge(row.users)
  cell.events += row.events
  cell.sessions += row.sessions ?? 0
  mergeHistograms(cell.durations, row.durations)
}

function cellFor(cells: Map<string, Cell>, key: string): Cell {
  let cell = cells.get(key)
  if (!cell) {
    cell = newCell()
    cells.set(key, cell)
  }
  return cell
}

function mergeCells(cells: Cell[]): Cell {
  const out = newCell()
  for (const c of cells) {
    for (const id of c.rows) out.rows.push(id)
    out.users.merge(c.users)
    out.events += c.events
    out.sessions += c.sessions
    mergeHistograms(out.durations, c.durations)
  }
  return out
}

/**
 * The cell's content as a seed: the set of day rows it unites and the set of people in it (its
 * user sketch and their count). Whatever question reaches the same rows — a range padded with
 * empty days, another endpoint or interval, another key or instance — gets the same seed and so
 * the same noise; a cell with one person more or less gets an independent draw. The events and
 * sessions are deliberately not in it: a user of the tenant who adds activity of their own (a
 * page view, another session) would otherwise redraw the noise of every cell they are in at
 * will and average it away; the people, not their activity, decide the noise.
 */
function contentSeed(cell: Cell, trueUsers: number): string {
  const rows = createHash('sha256')
  for (const id of [...new Set(cell.rows)].sort()) rows.update(id).update('\n')
  return [rows.digest('hex').slice(0, 32), cell.users.digest(), trueUsers].join('|')
}

/** Whether a cell may be shown: at least k users and at least its sticky noisy threshold. */
function passesThreshold(ctx: StatsContext, cell: Cell, trueUsers = cell.users.count()): boolean {
  if (trueUsers < ctx.k) return false
  const threshold = noisyThreshold(ctx.k, {
    secret: ctx.noiseSecret,
    seed: contentSeed(cell, trueUsers),
    sd: ctx.noiseSd,
  })
  return trueUsers >= threshold
}

/** A cell's published figures, or null when it is below k or its noisy threshold. */
function publish(ctx: StatsContext, cell: Cell): CellFigures | null {
  const trueUsers = cell.users.count()
  if (!passesThreshold(ctx, cell, trueUsers)) return null
  const seed = contentSeed(cell, trueUsers)
  const noise = (value: number, metric: string, perUser: number) =>
    noisyCount(value, {
      secret: ctx.noiseSecret,
      seed: `${metric}|${seed}`,
      sd: ctx.noiseSd,
      scale: Math.max(1, perUser),
    })
  const median = medianDuration(cell.durations)
  return {
    users: Math.max(ctx.k, noise(trueUsers, 'users', 1)),
    events: noise(cell.events, 'events', cell.events / trueUsers),
    sessions: cell.sessions > 0 ? noise(cell.sessions, 'sessions', cell.sessions / trueUsers) : null,
    medianSessionSeconds: median ?? null,
  }
}

function checkRange(ctx: StatsContext, from: string, to: string, interval: Interval): void {
  const days = daysBetween(from, to).length
  if (days > ctx.maxRangeDays)
    throw new SporError(
      'SPOR_ERR_BAD_REQUEST',
      `the range covers ${days} days; at most ${ctx.maxRangeDays} are allowed`,
    )
  if (interval === 'hour' && days > 14)
    throw new SporError('SPOR_ERR_BAD_REQUEST', 'interval hour allows at most 14 days')
}

/**
 * The question a request asks, for the budget (query/stats/budget.ts): what is asked about which
 * scope, over the days that actually hold rows, and the tenants whose rows the answer is made of
 * (a product-wide question spends from each of their budgets too). Two phrasings that differ
 * only in days without data, in paging or in the source are the same question.
 */
export interface Question {
  text: string
  tenants: string[]
}

function questionOf(kind: string, detail: string, filter: StatsFilter, rows: DayRow[]): Question {
  let first: string | undefined
  let last: string | undefined
  const tenants = new Set<string>()
  for (const row of rows) {
    if (first === undefined || row.day < first) first = row.day
    if (last === undefined || row.day > last) last = row.day
    tenants.add(row.tenant)
  }
  return {
    text: JSON.stringify([kind, detail, filter.tenant ?? '*', filter.module ?? '*', first ?? '', last ?? '']),
    tenants: [...tenants].sort(),
  }
}

/**
 * The days of a snapped range that can hold data: not after today, not before the oldest day a
 * rollup is kept. Nothing outside them is read.
 */
function dataDays(ctx: StatsContext, from: string, to: string): { from: string; to: string } | undefined {
  const today = isoDay(ctx.now)
  const oldest = isoDay(new Date(ctx.now.getTime() - (ctx.statsRetentionDays - 1) * 86_400_000))
  const start = from < oldest ? oldest : from
  const end = to > today ? today : to
  return start <= end ? { from: start, to: end } : undefined
}

async function rowsFor(
  ctx: StatsContext,
  filter: StatsFilter,
  from: string,
  to: string,
  dims: Dimension[],
  modules: string,
  keys?: Partial<Record<Dimension, string[]>>,
) {
  const days = dataDays(ctx, from, to)
  if (!days) return { rows: [] as DayRow[], sources: { raw: 0, rollup: 0 } }
  return loadRows({
    es: ctx.es,
    prefix: ctx.prefix,
    from: days.from,
    to: days.to,
    tenant: filter.tenant,
    modules,
    dims,
    source: filter.source,
    rawDays: ctx.rawDays,
    now: ctx.now,
    k: ctx.k,
    clientUserTenants: ctx.clientUserTenants,
    ...(ctx.rowCache ? { rowCache: ctx.rowCache } : {}),
    ...(keys ? { keys } : {}),
  })
}

export interface Snapped {
  from: string
  to: string
}

export async function summaryStats(ctx: StatsContext, filter: StatsFilter) {
  const range = snapRange(filter.from, filter.to, 'day')
  checkRange(ctx, range.from, range.to, 'day')
  const loaded = await rowsFor(
    ctx,
    filter,
    range.from,
    range.to,
    ['total', 'event_type'],
    filter.module ?? ALL_MODULES,
    // Of the event types only the two it counts: a third of the rows. The total rows cover every
    // tenant-day the event-type rows could add, so the question's days and tenants are the same.
    { event_type: ['session.login', 'session.login_failed'] },
  )
  const total = newCell()
  const logins = newCell()
  const failures = newCell()
  for (const row of loaded.rows) {
    if (row.dim === 'total') addRow(total, row)
    else if (row.key === 'session.login') addRow(logins, row)
    else if (row.key === 'session.login_failed') addRow(failures, row)
  }
  return {
    range,
    sources: loaded.sources,
    question: questionOf('summary', '', filter, loaded.rows),
    figures: publish(ctx, total),
    logins: publish(ctx, logins)?.events ?? null,
    loginFailures: publish(ctx, failures)?.events ?? null,
  }
}

export const METRICS = [
  'users',
  'events',
  'sessions',
  'median_session_seconds',
  'logins',
  'login_failures',
] as const
export type Metric = (typeof METRICS)[number]

export async function timeseriesStats(
  ctx: StatsContext,
  filter: StatsFilter,
  metric: Metric,
  interval: Interval,
) {
  const range = snapRange(filter.from, filter.to, interval)
  checkRange(ctx, range.from, range.to, interval)
  const loginMetric = metric === 'logins' || metric === 'login_failures'
  if (interval === 'hour' && metric !== 'users' && metric !== 'events')
    throw new SporError('SPOR_ERR_BAD_REQUEST', 'interval hour supports the metrics users and events')
  const dim: Dimension = interval === 'hour' ? 'hour' : loginMetric ? 'event_type' : 'total'
  const loaded = await rowsFor(ctx, filter, range.from, range.to, [dim], filter.module ?? ALL_MODULES)
  const wantedKey =
    metric === 'logins' ? 'session.login' : metric === 'login_failures' ? 'session.login_failed' : undefined
  const cells = new Map<string, Cell>()
  for (const row of loaded.rows) {
    if (wantedKey && row.key !== wantedKey) continue
    const bucket = interval === 'hour' ? `${row.day}T${row.key}:00:00.000Z` : bucketOf(row.day, interval)
    addRow(cellFor(cells, bucket), row)
  }
  const points = bucketStarts(range.from, range.to, interval).map((t) => {
    const figures = publish(ctx, cells.get(t) ?? newCell())
    const value =
      figures === null
        ? null
        : metric === 'users'
          ? figures.users
          : metric === 'sessions'
            ? figures.sessions
            : metric === 'median_session_seconds'
              ? figures.medianSessionSeconds
              : figures.events
    return { t, value, suppressed: figures === null }
  })
  const question = questionOf('timeseries', `${metric}/${interval}`, filter, loaded.rows)
  return { range, sources: loaded.sources, question, points }
}

export const BREAKDOWNS = [
  'module',
  'function',
  'event_type',
  'browser',
  'browser_major',
  'os',
  'device_type',
  'device_vendor',
  'country',
  'region',
  'hour',
  'weekday',
  'tenant',
] as const
export type Breakdown = (typeof BREAKDOWNS)[number]

export async function breakdownStats(
  ctx: StatsContext,
  filter: StatsFilter,
  by: Breakdown,
  page: { limit: number; offset: number },
) {
  const range = snapRange(filter.from, filter.to, 'day')
  checkRange(ctx, range.from, range.to, 'day')
  const dim: Dimension = by === 'module' || by === 'weekday' || by === 'tenant' ? 'total' : by
  const modules = by === 'module' ? (filter.module ?? EACH_MODULE) : (filter.module ?? ALL_MODULES)
  const loaded = await rowsFor(ctx, filter, range.from, range.to, [dim], modules)
  const cells = new Map<string, Cell>()
  for (const row of loaded.rows) {
    if (dim === 'total' && row.key !== TOTAL_KEY) continue
    const key =
      by === 'module'
        ? row.module
        : by === 'weekday'
          ? weekdayOf(row.day)
          : by === 'tenant'
            ? row.tenant
            : row.key
    addRow(cellFor(cells, key), row)
  }
  type Group = { key: string; users: number; cell: Cell }
  const groups: Group[] = [...cells].map(([key, cell]) => ({ key, users: cell.users.count(), cell }))
  const merge = (parts: Group[]): Group => {
    const cell = mergeCells(parts.map((p) => p.cell))
    return { key: 'other', users: cell.users.count(), cell }
  }
  const result = suppressBelowK(groups, ctx.k, merge, (g) => passesThreshold(ctx, g.cell, g.users))
  const shown = result.groups
    .map((g) => ({ key: g.key, figures: publish(ctx, g.cell) as CellFigures }))
    .sort((a, b) => b.figures.users - a.figures.users || a.key.localeCompare(b.key))
  const other = result.other ? publish(ctx, result.other.cell) : null
  return {
    range,
    sources: loaded.sources,
    question: questionOf('breakdown', by, filter, loaded.rows),
    totalGroups: shown.length,
    suppressedGroups: result.suppressed,
    groups: shown.slice(page.offset, page.offset + page.limit).map((g) => ({ key: g.key, ...g.figures })),
    other,
  }
}
