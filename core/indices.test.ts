import { describe, expect, it } from 'vitest'
import { dailyIndex, parseDailyIndex } from './indices.ts'

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
