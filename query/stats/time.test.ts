import { describe, expect, it } from 'vitest'
import { bucketStarts, snapRange, weekdayOf } from './time.ts'

describe('snapRange', () => {
  it.each([
    ['2026-11-04', '2026-11-05', 'day', '2026-11-04', '2026-11-05'],
    ['2026-11-04', '2026-11-05', 'week', '2026-11-02', '2026-11-08'],
    ['2026-11-04', '2026-12-02', 'month', '2026-11-01', '2026-12-31'],
    ['2026-02-10', '2026-02-10', 'month', '2026-02-01', '2026-02-28'],
  ] as const)('%s..%s by %s → %s..%s', (from, to, interval, a, b) => {
    expect(snapRange(from, to, interval)).toEqual({ from: a, to: b })
  })
  it.each([
    ['2026-11-05', '2026-11-04', /after/],
    ['2026-13-01', '2026-11-04', /dates/],
  ])('rejects %s..%s', (from, to, message) => {
    expect(() => snapRange(from, to, 'day')).toThrow(message)
  })
})

it('lists buckets and weekdays', () => {
  expect(bucketStarts('2026-11-01', '2026-11-10', 'week')).toEqual([
    '2026-10-26T00:00:00.000Z',
    '2026-11-02T00:00:00.000Z',
    '2026-11-09T00:00:00.000Z',
  ])
  expect(bucketStarts('2026-11-01', '2026-11-01', 'hour')).toHaveLength(24)
  expect(weekdayOf('2026-11-25')).toBe('wednesday')
})
