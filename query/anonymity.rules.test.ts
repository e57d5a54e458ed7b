import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../core/config.ts'
import {
  noisyCount,
  noisyThreshold,
  statsNoiseSecret,
  stickyGaussian,
  suppressBelowK,
  THRESHOLD_SHIFT_SD,
} from './anonymity.ts'

/**
 * The rules of query/anonymity.ts one by one (mutation testing, issue 18): the hard k rule against
 * a permissive threshold, the summed "other" group, the noise secret, and how sd, scale and sign
 * enter the noisy count and threshold.
 */
type G = { key: string; users: number }
const g = (key: string, users: number): G => ({ key, users })
const SECRET = Buffer.from('a secret of thirty-two bytes!!!!')
const KEY = 'test-only-pseudonym-key-0123456789abcdef'

describe('suppressBelowK: rules', () => {
  it('never shows a group below k, whatever the threshold allows', () => {
    const result = suppressBelowK([g('a', 9), g('b', 2), g('c', 3)], 5, undefined, () => true)
    expect(result.groups.map((x) => x.key)).toEqual(['a'])
    expect(result.suppressed).toBe(2)
  })

  it('hides a group at or above k that the threshold refuses', () => {
    const result = suppressBelowK([g('a', 9), g('b', 6), g('c', 7)], 5, undefined, (x) => x.users >= 7)
    // b alone (6 users) does not pass the threshold as "other" either: c (the smallest shown) is
    // folded in.
    expect(result.groups.map((x) => x.key)).toEqual(['a'])
    expect(result.other).toEqual({ key: 'b', users: 13 })
    expect(result.suppressed).toBe(2)
  })

  it('without merge, sums the hidden users into a copy of the first hidden group', () => {
    const input = [g('a', 9), g('b', 3), g('c', 2)]
    const result = suppressBelowK(input, 5)
    expect(result.other).toEqual({ key: 'b', users: 5 })
    expect(input[1]).toEqual({ key: 'b', users: 3 }) // the input is not changed
  })

  it('does not merge anything when every group is shown', () => {
    const merge = () => {
      throw new Error('merged without hidden groups')
    }
    expect(suppressBelowK([g('a', 9), g('b', 5)], 5, merge)).toEqual({
      groups: [g('a', 9), g('b', 5)],
      suppressed: 0,
    })
  })
})

describe('statsNoiseSecret', () => {
  const config = (sd: string) => loadConfig({ SPOR_PSEUDONYM_KEY: KEY, SPOR_STATS_NOISE_SD: sd })

  it('derives the secret from the pseudonym key under its own label when there is noise', () => {
    const expected = createHmac('sha256', Buffer.from(KEY)).update('spor/stats-noise/v1').digest()
    const secret = statsNoiseSecret(config('1'))
    expect(secret.equals(expected)).toBe(true)
    expect(statsNoiseSecret(config('0.5')).equals(expected)).toBe(true)
  })

  it('needs no key without noise (sd 0): a fixed all-zero secret', () => {
    expect(statsNoiseSecret(config('0')).equals(Buffer.alloc(32))).toBe(true)
    expect(statsNoiseSecret(loadConfig({ SPOR_STATS_NOISE_SD: '0' })).equals(Buffer.alloc(32))).toBe(true)
  })
})

/** Seeds whose sticky normal lies in [lo, hi). */
function seedsWhere(prefix: string, lo: number, hi: number, count: number): string[] {
  const out: string[] = []
  for (let i = 0; out.length < count; i++) {
    const value = stickyGaussian(SECRET, `${prefix}${i}`)
    if (value >= lo && value < hi) out.push(`${prefix}${i}`)
  }
  return out
}

describe('noisyCount', () => {
  it('without noise is the rounded value', () => {
    expect(noisyCount(7.4, { secret: SECRET, seed: 's', sd: 0 })).toBe(7)
    expect(noisyCount(7.6, { secret: SECRET, seed: 's', sd: 0, scale: 9 })).toBe(8)
  })

  it('adds the sticky normal times sd times scale, with its sign', () => {
    for (const seed of [...seedsWhere('up', 1.2, 3, 5), ...seedsWhere('down', -3, -1.2, 5)]) {
      const z = stickyGaussian(SECRET, seed)
      expect(noisyCount(1000, { secret: SECRET, seed, sd: 1 })).toBe(Math.round(1000 + z))
      expect(noisyCount(1000, { secret: SECRET, seed, sd: 2, scale: 3 })).toBe(Math.round(1000 + 6 * z))
      expect(noisyCount(1000, { secret: SECRET, seed, sd: 4 })).toBe(Math.round(1000 + 4 * z))
    }
  })
})

describe('noisyThreshold', () => {
  it('is k without noise', () => {
    expect(noisyThreshold(5, { secret: SECRET, seed: 'cell', sd: 0 })).toBe(5)
  })

  it('is k + sd·(2 + g) with g sticky per cell and independent of the count noise, never below k', () => {
    const thresholds = new Set<number>()
    for (let i = 0; i < 200; i++) {
      const seed = `cell${i}`
      const gThreshold = stickyGaussian(SECRET, `threshold|${seed}`)
      for (const sd of [1, 3]) {
        const t = noisyThreshold(5, { secret: SECRET, seed, sd })
        expect(t).toBe(Math.max(5, 5 + sd * (THRESHOLD_SHIFT_SD + gThreshold)))
        expect(t).toBeGreaterThanOrEqual(5)
      }
      thresholds.add(noisyThreshold(5, { secret: SECRET, seed, sd: 1 }))
    }
    // Different cells, different thresholds (the seed is the cell's, not a constant).
    expect(thresholds.size).toBeGreaterThan(150)
  })

  it('sits about 2 sd above k on average', () => {
    let total = 0
    const n = 4000
    for (let i = 0; i < n; i++) total += noisyThreshold(10, { secret: SECRET, seed: `m${i}`, sd: 2 }) - 10
    expect(total / n).toBeGreaterThan(3.7)
    expect(total / n).toBeLessThan(4.4)
  })
})

describe('stickyGaussian: the shape of a standard normal', () => {
  it('matches the normal quantiles over 20,000 seeds', () => {
    const values = Array.from({ length: 20_000 }, (_, i) => stickyGaussian(SECRET, `q${i}`))
    const share = (f: (v: number) => boolean) => values.filter(f).length / values.length
    expect(share((v) => v < -1.96)).toBeCloseTo(0.025, 2)
    expect(share((v) => v > 1.96)).toBeCloseTo(0.025, 2)
    expect(share((v) => Math.abs(v) < 0.6745)).toBeGreaterThan(0.485)
    expect(share((v) => Math.abs(v) < 0.6745)).toBeLessThan(0.515)
    expect(share((v) => v < 0)).toBeGreaterThan(0.485)
    expect(share((v) => v < 0)).toBeLessThan(0.515)
    expect(values.every(Number.isFinite)).toBe(true)
  })
})
