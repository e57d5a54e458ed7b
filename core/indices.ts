import { DAY_MS, RETENTION_CLASSES, type RetentionClass, type RetentionDays } from './retention.ts'

/**
 * Index layout: which index a document of a class and date lives in.
 *
 * Every class has an index *period*: the short class keeps one index per day (its documents are
 * the most personal and the most numerous, and dropping a whole day's index is the cheapest and
 * most final way to delete them: nothing lingers in segments), the long-lived classes one per
 * month or year, with spor's sweep deleting expired documents inside them by id (S10 stays exact
 * to the day). A document always maps to exactly one index, chosen by its event date (UTC), so a
 * replay overwrites by deterministic `_id` instead of duplicating.
 *
 * Names: `<prefix>-<class>-YYYY.MM.DD` for daily indices, `<prefix>-<class>-month-YYYY.MM.01`
 * and `<prefix>-<class>-year-YYYY.01.01` for the coarse ones. Every name ends in the period's
 * first day, so Elasticsearch's `index.lifecycle.parse_origination_date` reads it, and every name
 * matches the class pattern `<prefix>-<class>-*` that readers use (with range queries), which
 * also covers the first layout's daily indices (`legacy`) while `spor migrate` moves them.
 */
export type IndexPeriod = 'day' | 'month' | 'year'

export const INDEX_PERIODS: Readonly<Record<RetentionClass, IndexPeriod>> = Object.freeze({
  short: 'day',
  long: 'month',
  alerts: 'month',
  stats: 'year',
  profiles: 'month',
})

/**
 * Schema generation in the names of the event classes' indices. Event documents moved to ECS
 * field names (core/ecs-fields.ts); one index cannot hold both shapes (`tenant` cannot be a field
 * in one document and `organization.id` an alias of it in the next), and the short class keeps
 * one index per day, so today's first-shape index and today's ECS index need different names:
 * `<prefix>-short-ecs-YYYY.MM.DD`, `<prefix>-long-ecs-month-YYYY.MM.01`. Both still match the
 * class pattern `<prefix>-<class>-*` that readers use, and still end in the period's first day.
 */
export const SCHEMA_GENERATION: Readonly<Partial<Record<RetentionClass, 'ecs'>>> = Object.freeze({
  short: 'ecs',
  long: 'ecs',
})

/**
 * Request options for reading or refreshing by pattern: an index that is missing or closed, or
 * a pattern that matches none (a class before its first document), is an empty answer, not an
 * error.
 */
export const MISSING_INDICES_ARE_EMPTY = { ignore_unavailable: true, allow_no_indices: true } as const

/** The steady-state budget of primary shards for one installation with the default table. */
export const SHARD_BUDGET = 100

/** Primaries per index; the templates read it (one place, so the capacity audit agrees). */
export const PRIMARY_SHARDS = 1

function pad(n: number): string {
  return String(n).padStart(2, '0')
}

function dotted(date: Date): string {
  return `${date.getUTCFullYear()}.${pad(date.getUTCMonth() + 1)}.${pad(date.getUTCDate())}`
}

/** First instant of the period holding `date` (UTC). */
export function periodStart(period: IndexPeriod, date: Date): Date {
  const y = date.getUTCFullYear()
  if (period === 'year') return new Date(Date.UTC(y, 0, 1))
  if (period === 'month') return new Date(Date.UTC(y, date.getUTCMonth(), 1))
  return new Date(Date.UTC(y, date.getUTCMonth(), date.getUTCDate()))
}

/** First instant after the period holding `date` (exclusive end). */
export function periodEnd(period: IndexPeriod, date: Date): Date {
  const start = periodStart(period, date)
  if (period === 'year') return new Date(Date.UTC(start.getUTCFullYear() + 1, 0, 1))
  if (period === 'month') return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1))
  return new Date(start.getTime() + DAY_MS)
}

/** The first layout's daily index name (first-shape documents; `spor migrate` moves them). */
export function dailyIndex(prefix: string, cls: RetentionClass, date: Date): string {
  return `${prefix}-${cls}-${dotted(date)}`
}

/** The one index a document of class `cls` whose event date is `date` is written to. */
export function classIndex(prefix: string, cls: RetentionClass, date: Date): string {
  // Per prefix, by UTC day and class: the ingest consumer asks once per document, for a handful
  // of names (building one per document was four short-lived strings each time).
  const key = Math.floor(date.getTime() / DAY_MS) * RETENTION_CLASSES.length + RETENTION_CLASSES.indexOf(cls)
  if (Number.isNaN(key)) return buildClassIndex(prefix, cls, date) // an invalid date: not one key
  let names = indexNames.get(prefix)
  if (!names) {
    if (indexNames.size >= 100) indexNames.clear()
    names = new Map()
    indexNames.set(prefix, names)
  }
  let name = names.get(key)
  if (name === undefined) {
    if (names.size >= 10_000) names.clear()
    name = buildClassIndex(prefix, cls, date)
    names.set(key, name)
  }
  return name
}

const indexNames = new Map<string, Map<number, string>>()

function buildClassIndex(prefix: string, cls: RetentionClass, date: Date): string {
  const period = INDEX_PERIODS[cls]
  const generation = SCHEMA_GENERATION[cls]
  const base = generation ? `${prefix}-${cls}-${generation}` : `${prefix}-${cls}`
  if (period === 'day') return `${base}-${dotted(date)}`
  return `${base}-${period}-${dotted(periodStart(period, date))}`
}

/** The pattern of the indices spor writes today for a class (what its template applies to). */
export function currentPattern(prefix: string, cls: RetentionClass): string {
  const generation = SCHEMA_GENERATION[cls]
  return generation ? `${prefix}-${cls}-${generation}-*` : `${prefix}-${cls}-*`
}

/** The read pattern of a class: both layouts, always combined with a range query by readers. */
export function classPattern(prefix: string, cls: RetentionClass): string {
  return `${prefix}-${cls}-*`
}

export interface ParsedIndex {
  prefix: string
  cls: RetentionClass
  period: IndexPeriod
  /** First instant of the index's period, and the first instant after it. */
  start: Date
  end: Date
  /**
   * `legacy`: an index `spor migrate` still has to move: a daily index of a class that is no
   * longer daily, or an event index of the first shape (field names before ECS).
   */
  layout: 'current' | 'legacy'
  /** `first`: event documents with spor's first field names (short and long classes only). */
  generation: 'ecs' | 'first'
}

const CLASS_INDEX =
  /^(.+)-(short|long|alerts|stats|profiles)-(?:(ecs)-)?(?:(month|year)-)?(\d{4})\.(\d{2})\.(\d{2})$/

/** Parses an index name of either layout; undefined for anything that is not exactly spor's. */
export function parseClassIndex(name: string): ParsedIndex | undefined {
  const match = CLASS_INDEX.exec(name)
  if (!match) return undefined
  const [, prefix, clsText, generationText, periodText, y, m, d] = match
  const cls = clsText as RetentionClass
  const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)))
  // Reject impossible dates such as 2026.02.31 rather than letting Date roll them over.
  if (date.getUTCMonth() !== Number(m) - 1 || date.getUTCDate() !== Number(d)) return undefined
  const period = (periodText as IndexPeriod | undefined) ?? 'day'
  // A coarse index is named by its period's first day and nothing else.
  if (periodStart(period, date).getTime() !== date.getTime()) return undefined
  const expected = INDEX_PERIODS[cls]
  const generation = SCHEMA_GENERATION[cls]
  if (generationText && generationText !== generation) return undefined // not a name spor makes
  // A first-layout name carries no generation; ECS-named indices only ever had today's periods.
  if (generationText && period !== expected) return undefined
  let layout: ParsedIndex['layout']
  if (period === expected && generationText === generation) layout = 'current'
  else if (period === 'day' || period === expected) layout = 'legacy'
  else return undefined // a coarse name for a class that does not use that period: not ours
  return {
    prefix: prefix!,
    cls,
    period,
    start: date,
    end: periodEnd(period, date),
    layout,
    generation: generationText ? 'ecs' : generation ? 'first' : 'ecs',
  }
}

/** Parses a daily index name (either layout's daily indices); undefined otherwise. */
export function parseDailyIndex(
  name: string,
): { prefix: string; cls: RetentionClass; date: Date } | undefined {
  const parsed = parseClassIndex(name)
  if (parsed?.period !== 'day') return undefined
  return { prefix: parsed.prefix, cls: parsed.cls, date: parsed.start }
}

/**
 * The most indices of a class that can exist at once at steady state: the enforcer drops an
 * index once its whole period is past retention, so the live indices are those whose period
 * touches the window from `now - retention - 1 day` (the enforcer runs at least daily) to
 * `now + 1 day` (events may be a little ahead of the clock). Exact for the calendar: the
 * largest count of distinct periods among that many consecutive days, over a 4-year cycle.
 */
export function maxLiveIndices(period: IndexPeriod, retentionDays: number): number {
  // Days touched by a window of retention + 2 days starting at any time of day.
  const touched = retentionDays + 3
  if (period === 'day') return touched
  let max = 0
  const origin = Date.UTC(2024, 0, 1)
  for (let startDay = 0; startDay < 1461; startDay++) {
    const first = new Date(origin + startDay * DAY_MS)
    const last = new Date(origin + (startDay + touched - 1) * DAY_MS)
    const periods =
      period === 'year'
        ? last.getUTCFullYear() - first.getUTCFullYear() + 1
        : (last.getUTCFullYear() - first.getUTCFullYear()) * 12 + last.getUTCMonth() - first.getUTCMonth() + 1
    if (periods > max) max = periods
  }
  return max
}

/** Projected steady-state primaries per class for a retention table. */
export function projectedPrimaries(retention: RetentionDays): Record<RetentionClass, number> {
  const out = {} as Record<RetentionClass, number>
  for (const cls of RETENTION_CLASSES) {
    out[cls] = maxLiveIndices(INDEX_PERIODS[cls], retention[cls]) * PRIMARY_SHARDS
  }
  return out
}
