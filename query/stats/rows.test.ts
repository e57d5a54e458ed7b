import { describe, expect, it } from 'vitest'
import { decodeHistogram, durationBucket, encodeHistogram, medianDuration } from './rows.ts'

describe('session-duration histogram', () => {
  it.each([
    [0, 0],
    [29.9, 0],
    [30, 1],
    [3_600, 120],
    [14_399, 479],
    [14_400, 480],
    [90_000, 480],
    [-5, 0],
  ])('%d s falls in bucket %d', (seconds, bucket) => {
    expect(durationBucket(seconds)).toBe(bucket)
  })

  it.each([
    [[], undefined],
    [[[0, 1]], 15],
    [
      [
        [0, 1],
        [2, 1],
        [10, 1],
      ],
      75,
    ],
    [
      [
        [1, 2],
        [4, 2],
      ],
      45,
    ],
    [[[480, 3]], 14_400],
  ] as [number[][], number | undefined][])('median of %j is %s s', (entries, median) => {
    expect(medianDuration(new Map(entries as [number, number][]))).toBe(median)
  })

  it('survives encoding and rejects a truncated buffer', () => {
    const histogram = new Map([
      [0, 3],
      [17, 70_000],
      [480, 1],
    ])
    expect(decodeHistogram(encodeHistogram(histogram))).toEqual(histogram)
    expect(() => decodeHistogram(Buffer.alloc(5))).toThrow(/length/)
  })
})
