import { describe, expect, it } from 'vitest'
import { Hll } from './hll.ts'

const values = (n: number, prefix = 'v') => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

describe('Hll', () => {
  it.each([
    [0, 0],
    [1, 0],
    [5, 0],
    [100, 0.01],
    [1_000, 0.02],
    [10_000, 0.03],
    [50_000, 0.03],
    [200_000, 0.03],
  ])('estimates %d distinct values within %d relative error', (n, tolerance) => {
    const hll = new Hll()
    for (const v of values(n)) hll.add(v)
    for (const v of values(Math.min(n, 1000))) hll.add(v) // duplicates change nothing
    expect(Math.abs(hll.count() - n)).toBeLessThanOrEqual(Math.max(0, n * tolerance))
  })

  it.each([[10], [3_000], [60_000]])('survives serialisation (%d values)', (n) => {
    const hll = new Hll()
    for (const v of values(n)) hll.add(v)
    const copy = Hll.deserialize(hll.serialize())
    expect(copy.count()).toBe(hll.count())
    expect(copy.digest()).toBe(hll.digest())
  })

  it('merges overlapping days into the union', () => {
    const a = new Hll()
    const b = new Hll()
    for (const v of values(3000, 'x')) a.add(v)
    for (const v of values(3000, 'x').slice(1000)) b.add(v)
    for (const v of values(1000, 'y')) b.add(v)
    const union = Hll.union([Hll.deserialize(a.serialize()), b])
    expect(Math.abs(union.count() - 4000)).toBeLessThanOrEqual(40)
  })

  it('rejects corrupt sketches with a clear error', () => {
    expect(() => Hll.deserialize(Buffer.from([9, 0]))).toThrow(/version/)
    expect(() => Hll.deserialize(Buffer.from([1, 0, 1]))).toThrow(/length/)
  })
})
