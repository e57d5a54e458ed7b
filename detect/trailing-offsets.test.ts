import { describe, expect, it } from 'vitest'
import { TrailingOffsets } from './trailing-offsets.ts'

const H = 3_600_000
describe('trailing offsets', () => {
  it('commits only batches wholly older than the lookback', () => {
    const t = new TrailingOffsets(2 * H)
    expect(t.record(0, '10', 0)).toBeUndefined()
    expect(t.record(0, '20', 1 * H)).toBeUndefined()
    expect(t.record(0, '30', 2.5 * H)).toBe('10')
    expect(t.record(0, '40', 4 * H)).toBe('20')
    expect(t.record(1, '5', 4 * H)).toBeUndefined()
  })
  it('a late, old batch does not move the horizon back', () => {
    const t = new TrailingOffsets(H)
    t.record(0, '10', 5 * H)
    expect(t.record(0, '20', 0)).toBeUndefined()
    expect(t.record(0, '30', 6.5 * H)).toBe('20')
  })
})
