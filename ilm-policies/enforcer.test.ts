import { describe, expect, it } from 'vitest'
import { DEFAULT_RETENTION_DAYS } from '../core/retention.ts'
import { selectExpired } from './enforcer.ts'

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
  ])('%s is %s', (name, expected) => {
    const selection = selectExpired([name], 'p', DEFAULT_RETENTION_DAYS, NOW)
    const found = selection.expired.length > 0 ? 'expired' : selection.kept.length > 0 ? 'kept' : 'ignored'
    expect(found).toBe(expected)
  })

  it('reports the expiry instant and de-duplicates names', () => {
    const selection = selectExpired(
      ['p-short-2026.05.25', 'p-short-2026.05.25'],
      'p',
      DEFAULT_RETENTION_DAYS,
      NOW,
    )
    expect(selection.expired).toEqual([
      {
        index: 'p-short-2026.05.25',
        cls: 'short',
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
