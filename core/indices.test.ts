import { describe, expect, it } from 'vitest'
import {
  classIndex,
  dailyIndex,
  maxLiveIndices,
  parseClassIndex,
  parseDailyIndex,
  periodEnd,
  periodStart,
  projectedPrimaries,
  SHARD_BUDGET,
} from './indices.ts'
import { DEFAULT_RETENTION_DAYS } from './retention.ts'

describe('daily index names', () => {
  it('names an index by class and UTC event date', () => {
    expect(dailyIndex('spor', 'short', new Date('2026-03-01T23:59:59.999Z'))).toBe('spor-short-2026.03.01')
    expect(dailyIndex('spor', 'long', new Date('2026-03-01T23:30:00-01:00'))).toBe('spor-long-2026.03.02')
  })
  it.each([
    ['spor-short-2026.11.25', { prefix: 'spor', cls: 'short', date: '2026-11-25' }],
    ['t1-spor-alerts-2025.01.31', { prefix: 't1-spor', cls: 'alerts', date: '2025-01-31' }],
    ['spor-short-2026.02.31', undefined],
    ['spor-short-2026.11.25-restored', undefined],
    ['spor-keys', undefined],
    ['spor-medium-2026.11.25', undefined],
  ])('%s', (name, expected) => {
    const parsed = parseDailyIndex(name)
    expect(
      parsed && { prefix: parsed.prefix, cls: parsed.cls, date: parsed.date.toISOString().slice(0, 10) },
    ).toEqual(expected)
  })
})

describe('index layout by class', () => {
  const at = new Date('2026-03-17T12:00:00Z')
  it.each([
    ['short', 'spor-short-ecs-2026.03.17'],
    ['long', 'spor-long-ecs-month-2026.03.01'],
    ['alerts', 'spor-alerts-month-2026.03.01'],
    ['profiles', 'spor-profiles-month-2026.03.01'],
    ['stats', 'spor-stats-year-2026.01.01'],
  ] as const)('%s goes to %s, which parses back as the current layout', (cls, name) => {
    expect(classIndex('spor', cls, at)).toBe(name)
    const parsed = parseClassIndex(name)
    expect(parsed?.cls).toBe(cls)
    expect(parsed?.layout).toBe('current')
    expect(parsed!.start.getTime()).toBeLessThanOrEqual(at.getTime())
    expect(parsed!.end.getTime()).toBeGreaterThan(at.getTime())
  })

  it.each([
    ['spor-long-2026.03.17', { layout: 'legacy', period: 'day' }],
    // first-shape event indices (field names before ECS) await the move too
    ['spor-short-2026.03.17', { layout: 'legacy', period: 'day' }],
    ['spor-long-month-2026.03.01', { layout: 'legacy', period: 'month' }],
    ['spor-alerts-month-2026.03.01', { layout: 'current', period: 'month' }],
    ['spor-alerts-ecs-month-2026.03.01', undefined], // alerts keep their names: no generation
    ['spor-long-ecs-2026.03.17', undefined], // ECS names were never daily for long
    ['spor-short-ecs-month-2026.03.01', undefined],
    ['spor-stats-2026.03.17', { layout: 'legacy', period: 'day' }],
    ['spor-long-month-2026.03.02', undefined], // a month index is named by the 1st only
    ['spor-stats-year-2026.02.01', undefined],
    ['spor-short-month-2026.03.01', undefined], // short is daily: not a name spor makes
    ['spor-long-year-2026.01.01', undefined],
    ['spor-long-week-2026.03.02', undefined],
  ] as const)('%s parses as %o', (name, expected) => {
    const parsed = parseClassIndex(name)
    expect(parsed && { layout: parsed.layout, period: parsed.period }).toEqual(expected)
  })

  it('names stay right when prefixes, classes and days interleave (names are remembered)', () => {
    const days = ['2026-03-17T23:59:59.999Z', '2026-03-18T00:00:00Z', '1969-12-31T12:00:00Z']
    const asked = ['a', 'b'].flatMap((prefix) =>
      (['short', 'long', 'stats'] as const).flatMap((cls) =>
        days.map((d) => [prefix, cls, new Date(d)] as const),
      ),
    )
    const first = asked.map(([prefix, cls, d]) => classIndex(prefix, cls, d))
    expect(first.slice(0, 3)).toEqual([
      'a-short-ecs-2026.03.17',
      'a-short-ecs-2026.03.18',
      'a-short-ecs-1969.12.31',
    ])
    expect(first[3]).toBe('a-long-ecs-month-2026.03.01')
    expect(first[9]).toBe('b-short-ecs-2026.03.17')
    expect([...asked].reverse().map(([prefix, cls, d]) => classIndex(prefix, cls, d))).toEqual(
      [...first].reverse(),
    )
    expect(classIndex('a', 'short', new Date(Number.NaN))).toBe('a-short-ecs-NaN.NaN.NaN')
    expect(classIndex('a', 'long', new Date(Number.NaN))).toBe('a-long-ecs-month-NaN.NaN.NaN')
  })

  it('month and year periods end at the next calendar boundary', () => {
    expect(periodEnd('month', new Date('2024-02-10T00:00:00Z')).toISOString()).toBe(
      '2024-03-01T00:00:00.000Z',
    )
    expect(periodEnd('month', new Date('2026-12-31T23:59:59Z')).toISOString()).toBe(
      '2027-01-01T00:00:00.000Z',
    )
    expect(periodEnd('year', new Date('2026-06-01T00:00:00Z')).toISOString()).toBe('2027-01-01T00:00:00.000Z')
    expect(periodStart('day', new Date('2026-06-01T23:00:00-02:00')).toISOString()).toBe(
      '2026-06-02T00:00:00.000Z',
    )
  })
})

describe('shard budget', () => {
  it('the default retention table fits the budget of 100 primaries', () => {
    const projected = projectedPrimaries(DEFAULT_RETENTION_DAYS)
    expect(projected).toEqual({ short: 24, long: 14, alerts: 14, stats: 4, profiles: 2 })
    expect(Object.values(projected).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(SHARD_BUDGET)
  })

  it('counts calendar periods touched by the live window', () => {
    expect(maxLiveIndices('day', 21)).toBe(24)
    // 368 consecutive days touch at most 14 months (and 13 at the least).
    expect(maxLiveIndices('month', 365)).toBe(14)
    expect(maxLiveIndices('month', 25)).toBe(2)
    expect(maxLiveIndices('month', 26)).toBe(2)
    expect(maxLiveIndices('month', 27)).toBe(3) // 30 days span a 28-day February and a day either side
    expect(maxLiveIndices('year', 760)).toBe(4)
  })
})
