import type { Client } from '@elastic/elasticsearch'
import { SporError } from '../../core/errors.ts'
import { noisyCount, suppressBelowK } from '../anonymity.ts'
import { Hll } from './hll.ts'
import { loadRows, type StatsSource } from './load-rows.ts'
import {
  ALL_MODULES,
  type DayRow,
  type Dimension,
  medianDuration,
  mergeHistograms,
  TOTAL_KEY,
} from './rows.ts'
import { bucketOf, bucketStarts, daysBetween, type Interval, snapRange, weekdayOf } from './time.ts'

/**
 * Statistics over day rows, each figure passed through the anonymity layers of
 * `query/anonymity.ts`: k distinct users per published cell, "other" with complementary
 * suppression, sticky noise seeded by the canonical query and the cell's user-set digest.
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
}

const newCell = (): Cell => ({ users: new Hll(), events: 0, sessions: 0, durations: new Map() })

function addRow(cell: Cell, row: DayRow): void {
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
    out.users.merge(c.users)
    out.events += c.events
    out.sessions += c.sessions
    mergeHistograms(out.durations, c.durations)
  }
  return out
}

/** A cell's published figures, or null when it has fewer than k distinct users. */
function publish(ctx: StatsContext, condition: string, cellKey: string, cell: Cell): CellFigures | null {
  const trueUsers = cell.users.count()
  if (trueUsers < ctx.k) return null
  const seed = `${condition}|${cellKey}|${cell.users.digest()}`
  const noise = (value: number, metric: string, perUser: number) =>
    noisyCount(value, {
      secret: ctx.noiseSecret,
      seed: `${seed}|${metric}`,
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

function condition(kind: string, detail: string, filter: StatsFilter, from: string, to: string): string {
  return JSON.stringify([kind, detail, from, to, filter.tenant ?? '*', filter.module ?? '*'])
}

async function rowsFor(
  ctx: StatsContext,
  filter: StatsFilter,
  from: string,
  to: string,
  dims: Dimension[],
  modules: string,
) {
  return loadRows({
    es: ctx.es,
    prefix: ctx.prefix,
    from,
    to,
    tenant: filter.tenant,
    modules,
    dims,
    source: filter.source,
    rawDays: ctx.rawDays,
    now: ctx.now,
    k: ctx.k,
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
  )
  const total = newCell()
  const logins = newCell()
  const failures = newCell()
  for (const row of loaded.rows) {
    if (row.dim === 'total') addRow(total, row)
    else if (row.key === 'session.login') addRow(logins, row)
    else if (row.key === 'session.login_failed') addRow(failures, row)
  }
  const cond = condition('summary', '', filter, range.from, range.to)
  const figures = publish(ctx, cond, 'total', total)
  return {
    range,
    sources: loaded.sources,
    figures,
    logins: publish(ctx, cond, 'logins', logins)?.events ?? null,
    loginFailures: publish(ctx, cond, 'login_failures', failures)?.events ?? null,
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
  const cond = condition('timeseries', `${metric}/${interval}`, filter, range.from, range.to)
  const points = bucketStarts(range.from, range.to, interval).map((t) => {
    const figures = publish(ctx, cond, t, cells.get(t) ?? newCell())
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
  return { range, sources: loaded.sources, points }
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
  const modules = by === 'module' ? (filter.module ?? 'each') : (filter.module ?? ALL_MODULES)
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
  const result = suppressBelowK(groups, ctx.k, merge)
  const cond = condition('breakdown', by, filter, range.from, range.to)
  const shown = result.groups
    .map((g) => ({ key: g.key, figures: publish(ctx, cond, `g:${g.key}`, g.cell) as CellFigures }))
    .sort((a, b) => b.figures.users - a.figures.users || a.key.localeCompare(b.key))
  const other = result.other ? publish(ctx, cond, 'other', result.other.cell) : null
  return {
    range,
    sources: loaded.sources,
    totalGroups: shown.length,
    suppressedGroups: result.suppressed,
    groups: shown.slice(page.offset, page.offset + page.limit).map((g) => ({ key: g.key, ...g.figures })),
    other,
  }
}
