import { describe, expect, it } from 'vitest'
import { DAY_MS, expiresAt, sweepCutoff } from './retention.ts'

describe('sweepCutoff', () => {
  // A document is swept exactly when its day's expiry has been reached: the sweep is the
  // per-document form of deleting a daily index at its date plus the retention.
  const nows = ['2026-06-15T10:00:00Z', '2026-06-15T00:00:00Z', '2024-03-01T23:59:59.999Z'].map(
    (s) => new Date(s),
  )
  const offsetsMs = [-1, 0, 1, 3_600_000, DAY_MS - 1, DAY_MS, DAY_MS + 1, 2 * DAY_MS]
  it.each(nows.flatMap((now) => [21, 365, 760].map((days) => [now, days] as const)))(
    'agrees with expiresAt at %s for %i days',
    (now, days) => {
      const cutoff = sweepCutoff(now, days)
      for (const offset of offsetsMs) {
        for (const t of [new Date(cutoff.getTime() - offset), new Date(cutoff.getTime() + offset)]) {
          expect(t.getTime() < cutoff.getTime()).toBe(expiresAt(t, days).getTime() <= now.getTime())
        }
      }
    },
  )
})
