import { describe, expect, it } from 'vitest'
import { SporError } from '../core/errors.ts'
import { evaluateSegments, loadSegmentTable, parseSegmentTable } from './rules.ts'

const table = parseSegmentTable({
  version: 't',
  window_days: 21,
  segments: [
    { name: 'busy', description: 'busy', all: [{ figure: 'active_days', at_least: 10 }] },
    {
      name: 'band',
      description: 'between',
      all: [{ figure: 'events', at_least: 5, at_most: 9 }],
    },
    { name: 'admin', description: 'admin', all: [{ figure: 'share_module_admin', at_least: 0.3 }] },
  ],
})

describe('evaluateSegments', () => {
  it.each([
    ['busy user', { active_days: 12, events: 100 }, ['busy']],
    ['in the band', { active_days: 2, events: 7 }, ['band']],
    ['band edges are inclusive', { events: 9 }, ['band']],
    ['missing figures count as 0', {}, []],
    ['module shares', { share_module_admin: 0.5, events: 50 }, ['admin']],
  ])('%s', (_name, figures, expected) => {
    const results = evaluateSegments(table, figures)
    expect(results.filter((r) => r.matched).map((r) => r.segment)).toEqual(expected)
  })

  it('explains each condition with the figure filled in', () => {
    const [, band] = evaluateSegments(table, { events: 12 })
    expect(band!.because).toEqual(['events = 12 (at least 5, at most 9): no'])
  })
})

describe('parseSegmentTable', () => {
  it.each([
    ['unknown figure', { figure: 'logins_per_moon', at_least: 1 }, /unknown figure "logins_per_moon"/],
    ['no bound', { figure: 'events' }, /needs at_least or at_most/],
  ])('rejects %s with a clear message', (_name, condition, message) => {
    const bad = {
      version: 'x',
      window_days: 21,
      segments: [{ name: 'x', description: 'x', all: [condition] }],
    }
    expect(() => parseSegmentTable(bad)).toThrow(SporError)
    expect(() => parseSegmentTable(bad)).toThrow(message)
  })

  it('the shipped table is valid', () => {
    expect(loadSegmentTable().segments.map((s) => s.name)).toEqual([
      'power_user',
      'occasional_user',
      'dormant',
      'new_user',
      'mobile_first',
      'desktop_only',
      'administrator_heavy',
      'single_module_user',
      'after_hours_user',
    ])
  })
})
