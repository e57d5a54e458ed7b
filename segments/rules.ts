import { readFileSync } from 'node:fs'
import { type Static, Type } from 'typebox'
import { Compile } from 'typebox/compile'
import { SporError } from '../core/errors.ts'

/**
 * Segments as configuration (S5): `segments.json` beside this file is the table an operator
 * edits. Each segment has a name, a description in plain words and conditions over the figures
 * of one user's last `window_days` days; a user is in the segment when every condition holds.
 */
const Condition = Type.Object(
  {
    figure: Type.String({ pattern: '^[a-z][a-z0-9_.]*$', description: 'a figure name, see FIGURES' }),
    at_least: Type.Optional(Type.Number()),
    at_most: Type.Optional(Type.Number()),
  },
  { additionalProperties: false },
)

const Segment = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z][a-z0-9_]*$', maxLength: 64 }),
    description: Type.String({ minLength: 1, maxLength: 200 }),
    all: Type.Array(Condition, { minItems: 1, maxItems: 10 }),
  },
  { additionalProperties: false },
)

const SegmentTable = Type.Object(
  {
    version: Type.String({ minLength: 1, maxLength: 64 }),
    window_days: Type.Integer({ minimum: 1, maximum: 21 }),
    segments: Type.Array(Segment, { minItems: 1, maxItems: 100 }),
  },
  { additionalProperties: false },
)

export type SegmentRule = Static<typeof Segment>
export type SegmentTable = Static<typeof SegmentTable>
export type Figures = Record<string, number>

/** Figures the job computes per user; `share_module_<module>` exists for every module. */
export const FIGURES: Record<string, string> = {
  events: 'events in the window',
  active_days: 'days with at least one event',
  sessions: 'distinct sessions',
  events_per_active_day: 'events divided by active days',
  days_since_last_active: 'days between the last active day and the profile day',
  days_since_first_active: 'days between the first active day in the window and the profile day',
  share_mobile: 'share of events with a device from phones or tablets',
  share_desktop: 'share of events with a device from desktop browsers',
  share_office_hours: 'share of events between 07:00 and 17:00 UTC',
  modules_used: 'distinct modules used',
  top_module_share: 'share of events in the most used module',
  'share_module_<module>': 'share of events in that module (0 when unused)',
}

const compiled = Compile(SegmentTable)
const FIGURE_NAME = /^(share_module_[a-z0-9_]+|[a-z_]+)$/

/** Validates a table; every problem is listed in one SPOR_ERR_CONFIG. */
export function parseSegmentTable(value: unknown, source = 'segments table'): SegmentTable {
  if (!compiled.Check(value)) {
    const problems = [...compiled.Errors(value)]
      .filter((e) => e.keyword !== 'boolean')
      .map((e) => `${e.instancePath || '/'} ${e.message}`)
    throw new SporError('SPOR_ERR_CONFIG', `${source}: ${problems.join('; ')}`)
  }
  const problems: string[] = []
  const names = new Set<string>()
  for (const segment of value.segments) {
    if (names.has(segment.name)) problems.push(`segment ${segment.name} is listed twice`)
    names.add(segment.name)
    for (const c of segment.all) {
      if (!FIGURE_NAME.test(c.figure) || (!c.figure.startsWith('share_module_') && !(c.figure in FIGURES)))
        problems.push(
          `${segment.name}: unknown figure "${c.figure}" (known: ${Object.keys(FIGURES).join(', ')})`,
        )
      if (c.at_least === undefined && c.at_most === undefined)
        problems.push(`${segment.name}: condition on ${c.figure} needs at_least or at_most`)
    }
  }
  if (problems.length > 0) throw new SporError('SPOR_ERR_CONFIG', `${source}: ${problems.join('; ')}`)
  return value
}

export function loadSegmentTable(file = new URL('./segments.json', import.meta.url)): SegmentTable {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw new SporError('SPOR_ERR_CONFIG', `segments table ${String(file)}: ${(error as Error).message}`)
  }
  return parseSegmentTable(raw, String(file))
}

export interface RuleResult {
  segment: string
  matched: boolean
  /** Each condition with the user's figure filled in, e.g. "active_days = 14 (at least 10): yes". */
  because: string[]
}

/** Evaluates every segment for one user's figures; missing figures count as 0. */
export function evaluateSegments(table: SegmentTable, figures: Figures): RuleResult[] {
  return table.segments.map((segment) => {
    const because: string[] = []
    let matched = true
    for (const c of segment.all) {
      const value = figures[c.figure] ?? 0
      const parts: string[] = []
      let ok = true
      if (c.at_least !== undefined) {
        parts.push(`at least ${c.at_least}`)
        ok &&= value >= c.at_least
      }
      if (c.at_most !== undefined) {
        parts.push(`at most ${c.at_most}`)
        ok &&= value <= c.at_most
      }
      because.push(`${c.figure} = ${round(value)} (${parts.join(', ')}): ${ok ? 'yes' : 'no'}`)
      matched &&= ok
    }
    return { segment: segment.name, matched, because }
  })
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000
}
