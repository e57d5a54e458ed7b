import { describe, expect, it } from 'vitest'
import { parseClassIndex } from '../core/indices.ts'
import { DEFAULT_RETENTION_DAYS } from '../core/retention.ts'
import { selectExpired } from './enforcer.ts'
import { needsSweep } from './sweep.ts'

// 2026 is not a leap year: 2025-06-15 + 365 days = 2026-06-15.
const NOW = new Date('2026-06-15T10:00:00Z')

describe('selectExpired', () => {
  it.each([
    ['p-short-2026.05.24', 'expired'],
    ['p-short-2026.05.25', 'expired'], // expires 2026-06-15T00:00Z, before now
    ['p-short-2026.05.26', 'kept'], // expires 2026-06-16T00:00Z
    ['p-short-2026.06.15', 'kept'],
    ['p-long-2025.06.15', 'expired'],
    ['p-long-2025.06.16', 'kept'],
    ['p-long-2026.05.01', 'kept'], // older than 21 days, but long class
    ['p-alerts-2025.06.14', 'expired'],
    ['p-alerts-2025.06.16', 'kept'],
    ['p-profiles-2026.05.25', 'expired'],
    ['p-stats-2024.05.16', 'expired'], // 760 days
    ['p-stats-2024.05.17', 'kept'],
    ['p-short-2020.01.01-restored', 'ignored'],
    ['px-short-2020.01.01', 'ignored'],
    ['other-short-2020.01.01', 'ignored'],
    ['p-x-short-2020.01.01', 'ignored'],
    ['p-short-long-2020.01.01', 'ignored'],
    ['p-short-2020.02.31', 'ignored'],
    ['p-short-20200101', 'ignored'],
    ['p-shorts-2020.01.01', 'ignored'],
    // Monthly and yearly indices go when their last day has expired.
    ['p-long-month-2025.05.01', 'expired'], // last day 2025-05-31 expired 2026-05-31
    ['p-long-month-2025.06.01', 'kept'], // last day 2025-06-30 expires 2026-06-30
    ['p-alerts-month-2025.05.01', 'expired'],
    ['p-profiles-month-2026.04.01', 'expired'], // 2026-04-30 + 21 d = 2026-05-21
    ['p-profiles-month-2026.05.01', 'kept'],
    ['p-stats-year-2023.01.01', 'expired'], // 2023-12-31 + 760 d = 2026-01-30
    ['p-stats-year-2024.01.01', 'kept'],
    // Legacy daily indices of classes that are coarse now still expire by their day.
    ['p-long-2025.06.16', 'kept'],
    ['p-profiles-2026.05.24', 'expired'],
    ['p-long-month-2025.06.02', 'ignored'],
    ['p-short-month-2026.06.01', 'ignored'],
  ])('%s is %s', (name, expected) => {
    const selection = selectExpired([name], 'p', DEFAULT_RETENTION_DAYS, NOW)
    const found = selection.expired.length > 0 ? 'expired' : selection.kept.length > 0 ? 'kept' : 'ignored'
    expect(found).toBe(expected)
  })

  it('reports the expiry instant and de-duplicates names', () => {
    const selection = selectExpired(
      ['p-short-ecs-2026.05.25', 'p-short-ecs-2026.05.25'],
      'p',
      DEFAULT_RETENTION_DAYS,
      NOW,
    )
    expect(selection.expired).toEqual([
      {
        index: 'p-short-ecs-2026.05.25',
        cls: 'short',
        period: 'day',
        layout: 'current',
        date: '2026-05-25',
        expiresAt: '2026-06-15T00:00:00.000Z',
      },
    ])
  })

  it('an index expires at the very instant its date plus retention is reached', () => {
    const at = new Date('2026-06-15T00:00:00Z')
    expect(selectExpired(['p-short-2026.05.25'], 'p', DEFAULT_RETENTION_DAYS, at).expired).toHaveLength(1)
    const before = new Date(at.getTime() - 1)
    expect(selectExpired(['p-short-2026.05.25'], 'p', DEFAULT_RETENTION_DAYS, before).expired).toHaveLength(0)
  })
})

describe('needsSweep', () => {
  it.each([
    ['p-long-month-2025.06.01', true], // 2025-06-15 expired at NOW, inside a kept month
    ['p-long-month-2025.07.01', false],
    ['p-short-2026.06.01', false], // daily: deleted whole, never swept
    ['p-stats-year-2024.01.01', true],
    ['p-stats-year-2025.01.01', false],
  ])('%s: %s', (name, expected) => {
    const parsed = parseClassIndex(name)!
    expect(needsSweep(parsed, DEFAULT_RETENTION_DAYS[parsed.cls], NOW)).toBe(expected)
  })
})
