import { describe, expect, it } from 'vitest'
import { nextExpansion, wireBytesOf, wireSizes } from './fetch-sizing.ts'

describe('decoded fetch budgets', () => {
  const budget = { maxBytes: 4 << 20, maxBytesPerPartition: 1 << 20, minBytes: 32 << 10 }

  it('divides the decoded budget by the expansion and between the brokers fetched at once', () => {
    expect(wireSizes(budget, 1)).toEqual({ maxBytes: 4 << 20, maxBytesPerPartition: 1 << 20 })
    expect(wireSizes(budget, 16)).toEqual({ maxBytes: 256 << 10, maxBytesPerPartition: 64 << 10 })
    expect(wireSizes(budget, 16, 4)).toEqual({ maxBytes: 64 << 10, maxBytesPerPartition: 64 << 10 })
    // An expansion below 1 (never observed, but a codec could) does not enlarge fetches.
    expect(wireSizes(budget, 0.5)).toEqual(wireSizes(budget, 1))
  })

  it('never limits a partition below one maximal record or the largest compressed batch seen', () => {
    // Only the first partition with data gets an oversized batch whole (KIP-74): the others
    // would wait behind its backlog.
    expect(wireSizes(budget, 1000).maxBytesPerPartition).toBe(32 << 10)
    expect(wireSizes(budget, 1000, 1, 100_000)).toEqual({ maxBytes: 100_000, maxBytesPerPartition: 100_000 })
  })

  it('holds one floor-sized batch of every partition in a fetch when the floor sets the limit', () => {
    // The broker fills a response in partition order: room for one batch would serve only the
    // first partition with data, fetch after fetch (seen: one partition per fetch at 19.7 KB).
    expect(wireSizes(budget, 1000, 1, 100_000, 3)).toEqual({
      maxBytes: 300_000,
      maxBytesPerPartition: 100_000,
    })
    expect(wireSizes(budget, 1000, 1, 0, 3)).toEqual({ maxBytes: 96 << 10, maxBytesPerPartition: 32 << 10 })
    // Within the share, the decoded budget alone sets the whole fetch, whatever the partitions.
    expect(wireSizes(budget, 16, 1, 10_000, 3)).toEqual(wireSizes(budget, 16))
  })

  it('counts the wire bytes of a fetch: compressed records as the codecs saw them, the kept share only', () => {
    expect(wireBytesOf(10_000, { compressed: 0, decoded: 0 })).toBe(10_000) // uncompressed
    // Keys and values are most of what a codec returns (the rest is record framing).
    expect(wireBytesOf(9_000, { compressed: 1_000, decoded: 10_000 })).toBe(900)
    // A fetch that starts late in a batch: the codec decoded 10 000 bytes, 500 were kept. Read as
    // the whole batch, the fetch would show 0.5 decoded bytes per wire byte (no compression).
    expect(nextExpansion(32, wireBytesOf(500, { compressed: 1_000, decoded: 10_000 }), 500, true)).toBe(10)
    // Half the records compressed 10:1, half not.
    expect(wireBytesOf(20_000, { compressed: 1_000, decoded: 10_000 })).toBe(11_000)
  })

  it('replaces the assumed expansion with what the first fetch showed, even when smaller', () => {
    expect(nextExpansion(32, 1000, 1000, true)).toBe(1)
    expect(nextExpansion(32, 1000, 12_000, true)).toBe(12)
    expect(nextExpansion(32, 1000, 1000)).toBe(32 * 0.75 + 0.25) // later fetches: a quarter of the way
  })

  it('rises at once to a larger expansion and falls back a quarter of the way per fetch', () => {
    expect(nextExpansion(8, 1000, 17_000)).toBe(17)
    expect(nextExpansion(17, 0, 0)).toBe(17 * 0.75 + 0.25)
    expect(nextExpansion(8, 1000, 2000)).toBe(8 * 0.75 + 2 * 0.25)
    let e = 17
    for (let i = 0; i < 20; i++) e = nextExpansion(e, 1000, 1000)
    expect(e).toBeLessThan(1.1)
    expect(e).toBeGreaterThanOrEqual(1)
  })
})
