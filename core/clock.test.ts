import { describe, expect, it } from 'vitest'
import { isoString } from './clock.ts'

describe('isoString', () => {
  it('is toISOString for every date, however they alternate', () => {
    const dates = ['2026-12-02T03:00:00.000Z', '2026-12-02T03:00:00.001Z', '1970-01-01T00:00:00.000Z'].map(
      (s) => new Date(s),
    )
    for (const date of [...dates, ...dates.reverse(), dates[0]!, dates[0]!, new Date(dates[1]!)]) {
      expect(isoString(date)).toBe(date.toISOString())
    }
  })

  it('throws on an invalid date, as toISOString does, also right after a valid one', () => {
    isoString(new Date(0))
    expect(() => isoString(new Date(Number.NaN))).toThrow(RangeError)
    expect(() => isoString(new Date(Number.NaN))).toThrow(RangeError)
  })
})
