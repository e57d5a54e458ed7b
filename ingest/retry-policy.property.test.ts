import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { backoffDelay } from '../core/backoff.ts'
import { classifyItemStatus } from './retry-policy.ts'

describe('property: retry classification and backoff', () => {
  it('every status gets exactly the decision of its class', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 2000 }), (status) => {
        const decision = classifyItemStatus(status)
        if (status >= 200 && status < 300) expect(decision).toBe('done')
        else if (status === 429 || status >= 500) expect(decision).toBe('retry')
        else if ([401, 403, 404].includes(status)) expect(decision).toBe('pause')
        else expect(decision).toBe('dlq')
      }),
    )
  })

  it('backoff is full jitter within [0, min(cap, base * 2^attempt)) and never negative or NaN', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.nat(10_000),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (baseMs, maxMs, attempt, r) => {
          const delay = backoffDelay({ baseMs, maxMs }, attempt, () => r)
          const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30))
          expect(Number.isInteger(delay)).toBe(true)
          expect(delay).toBeGreaterThanOrEqual(0)
          expect(delay).toBeLessThan(ceiling)
          expect(delay).toBe(Math.floor(r * ceiling))
        },
      ),
    )
  })
})
