import { describe, expect, it } from 'vitest'
import { DAY_MS, expiresAt, isoDay, isPastRetention, utcDayStart } from './retention.ts'

/** Retention is decided per UTC day: the exact instants where an event's day expires. */
describe('retention boundaries', () => {
  const event = new Date('2026-03-10T17:45:00Z')

  it('a day expires at its UTC midnight plus the retention', () => {
    expect(expiresAt(event, 21).toISOString()).toBe('2026-03-31T00:00:00.000Z')
    expect(utcDayStart(event).toISOString()).toBe('2026-03-10T00:00:00.000Z')
    expect(isoDay(event)).toBe('2026-03-10')
  })

  it('is past retention from the expiry instant on, not a millisecond before', () => {
    const expiry = expiresAt(event, 21).getTime()
    expect(isPastRetention(event, 21, new Date(expiry - 1))).toBe(false)
    expect(isPastRetention(event, 21, new Date(expiry))).toBe(true)
    expect(isPastRetention(event, 21, new Date(expiry + DAY_MS))).toBe(true)
  })
})
