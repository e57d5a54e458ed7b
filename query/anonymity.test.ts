import { describe, expect, it } from 'vitest'
import { noisyCount, stickyGaussian, suppressBelowK } from './anonymity.ts'

type G = { key: string; users: number }
const g = (key: string, users: number): G => ({ key, users })
const mergeAsOther = (parts: G[]): G => ({ key: 'other', users: parts.reduce((s, p) => s + p.users, 0) })

describe('suppressBelowK', () => {
  it.each([
    {
      name: 'all above k',
      input: [g('a', 9), g('b', 5)],
      shown: ['a', 'b'],
      other: undefined,
      suppressed: 0,
    },
    {
      name: 'hidden groups reach k together',
      input: [g('a', 9), g('b', 3), g('c', 2)],
      shown: ['a'],
      other: 5,
      suppressed: 2,
    },
    {
      name: 'one hidden group folds the smallest visible one',
      input: [g('a', 9), g('b', 6), g('c', 1)],
      shown: ['a'],
      other: 7,
      suppressed: 2,
    },
    { name: 'nothing reaches k', input: [g('a', 2), g('b', 1)], shown: [], other: undefined, suppressed: 2 },
    {
      name: 'groups without users (anonymous visitors) need no cover',
      input: [g('a', 9), g('b', 6), g('anon', 0)],
      shown: ['a', 'b'],
      other: undefined,
      suppressed: 1,
    },
    {
      name: 'single visible group cannot hide one user',
      input: [g('a', 9), g('x', 1)],
      shown: [],
      other: 10,
      suppressed: 2,
    },
  ])('$name', ({ input, shown, other, suppressed }) => {
    const result = suppressBelowK(input, 5, mergeAsOther)
    expect(result.groups.map((x) => x.key)).toEqual(shown)
    expect(result.other?.users).toEqual(other)
    expect(result.suppressed).toBe(suppressed)
    for (const group of result.groups) expect(group.users).toBeGreaterThanOrEqual(5)
  })
})

describe('sticky noise', () => {
  const secret = Buffer.from('0123456789abcdef0123456789abcdef')
  it('is the same for the same seed and differs between seeds', () => {
    expect(stickyGaussian(secret, 'q1')).toBe(stickyGaussian(secret, 'q1'))
    expect(stickyGaussian(secret, 'q1')).not.toBe(stickyGaussian(secret, 'q2'))
  })
  it('has roughly unit variance and zero mean', () => {
    const samples = Array.from({ length: 4000 }, (_, i) => stickyGaussian(secret, `s${i}`))
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length
    const variance = samples.reduce((a, b) => a + (b - mean) ** 2, 0) / samples.length
    expect(Math.abs(mean)).toBeLessThan(0.1)
    expect(variance).toBeGreaterThan(0.85)
    expect(variance).toBeLessThan(1.15)
  })
  it.each([
    [10, 0, 10],
    [10.4, 0, 10],
  ])('noisyCount(%d, sd %d) is exact without noise', (value, sd, expected) => {
    expect(noisyCount(value, { secret, seed: 'x', sd })).toBe(expected)
  })
  it('never goes negative', () => {
    for (let i = 0; i < 200; i++)
      expect(noisyCount(0, { secret, seed: `n${i}`, sd: 3 })).toBeGreaterThanOrEqual(0)
  })
})
