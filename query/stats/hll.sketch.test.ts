import { describe, expect, it } from 'vitest'
import { fromHashBits, HLL_PRECISION, Hll } from './hll.ts'

/**
 * The sketch's mechanics one by one (mutation testing, issue 18): register index and rank from
 * hash bits, the larger rank wins, sparse → dense at a third of the registers, merges in both
 * layouts, the serialised form and its checks. Accuracy lives in hll.test.ts.
 */
const M = 2 ** HLL_PRECISION
const SPARSE_LIMIT = Math.floor(M / 3)
const at = (index: number, rank: number) => ({ index, rank })

/** Sparse entries as [index, rank] pairs, read back from the serialised form. */
function entries(hll: Hll): [number, number][] {
  const bytes = hll.serialize()
  expect(bytes[1]).toBe(0)
  const out: [number, number][] = []
  for (let i = 2; i < bytes.length; i += 3) out.push([bytes.readUInt16BE(i), bytes[i + 2]!])
  return out
}

function dense(hll: Hll): Buffer {
  const bytes = hll.serialize()
  expect(bytes[1]).toBe(1)
  expect(bytes.length).toBe(2 + M)
  return bytes.subarray(2)
}

describe('fromHashBits', () => {
  it.each([
    // high: 14 index bits, then the first 18 of the 50 rank bits; low: the other 32
    { name: 'all ones', high: 0xffffffff, low: 0xffffffff, index: M - 1, rank: 1 },
    { name: 'all zeros: the largest rank', high: 0, low: 0, index: 0, rank: 51 },
    { name: 'index 5, two leading zeros', high: (5 << 18) | 0x0c000, low: 0, index: 5, rank: 3 },
    { name: 'first one bit in the low word', high: 0, low: 0x80000001, index: 0, rank: 19 },
    { name: 'first one bit at the end of the high word', high: (9 << 18) | 1, low: 7, index: 9, rank: 18 },
  ])('$name', ({ high, low, index, rank }) => {
    expect(fromHashBits(high >>> 0, low >>> 0)).toEqual({ index, rank })
  })
})

describe('Hll registers', () => {
  it('keeps the larger rank per register, entries sorted by index', () => {
    const hll = new Hll().add(at(9, 2)).add(at(2, 3)).add(at(9, 1)).add(at(2, 5))
    expect(entries(hll)).toEqual([
      [2, 5],
      [9, 2],
    ])
  })

  it(`stays sparse up to ${SPARSE_LIMIT} registers and turns dense after`, () => {
    const hll = new Hll()
    for (let i = 0; i < SPARSE_LIMIT; i++) hll.add(at(i, 1))
    expect(entries(hll)).toHaveLength(SPARSE_LIMIT)
    hll.add(at(SPARSE_LIMIT, 4))
    const registers = dense(hll)
    expect(registers[0]).toBe(1)
    expect(registers[SPARSE_LIMIT]).toBe(4)
    expect(registers[SPARSE_LIMIT + 1]).toBe(0)
    // Dense registers keep the larger rank too.
    hll.add(at(0, 3)).add(at(0, 2))
    expect(dense(hll)[0]).toBe(3)
    expect(hll.count()).toBeGreaterThan(SPARSE_LIMIT)
  })

  it('merges sparse into sparse, dense into sparse and sparse into dense, larger rank winning', () => {
    const big = new Hll()
    for (let i = 0; i <= SPARSE_LIMIT; i++) big.add(at(i, 2))
    const small = new Hll().add(at(1, 7)).add(at(M - 1, 3))

    expect(entries(new Hll().add(at(1, 1)).merge(small))).toEqual([
      [1, 7],
      [M - 1, 3],
    ])
    const denseIntoSparse = dense(new Hll().add(at(0, 9)).merge(big))
    expect([denseIntoSparse[0], denseIntoSparse[1], denseIntoSparse[M - 1]]).toEqual([9, 2, 0])
    const sparseIntoDense = dense(Hll.deserialize(big.serialize()).merge(small))
    expect([sparseIntoDense[0], sparseIntoDense[1], sparseIntoDense[M - 1]]).toEqual([2, 7, 3])
    const denseIntoDense = dense(
      Hll.deserialize(big.serialize()).merge(Hll.deserialize(big.serialize()).add(at(5, 1))),
    )
    expect(denseIntoDense[5]).toBe(2)
  })

  it('counts exactly in the small range and 0 when empty', () => {
    expect(new Hll().count()).toBe(0)
    const hll = new Hll()
    for (let i = 0; i < 5; i++) hll.add(at(i * 100, 1 + i))
    expect(hll.count()).toBe(5)
    expect(Hll.deserialize(hll.serialize()).count()).toBe(5)
  })

  it('a digest is 16 hex characters, the same for the same registers whatever the order', () => {
    const a = new Hll().add(at(3, 1)).add(at(4, 2))
    const b = new Hll().add(at(4, 2)).add(at(3, 1))
    expect(a.digest()).toMatch(/^[0-9a-f]{16}$/)
    expect(a.digest()).toBe(b.digest())
    expect(a.digest()).not.toBe(new Hll().add(at(3, 1)).digest())
  })
})

describe('Hll.deserialize checks', () => {
  const sparse = (index: number, rank: number) => {
    const bytes = Buffer.alloc(5)
    bytes[0] = 1
    bytes.writeUInt16BE(index, 2)
    bytes[4] = rank
    return bytes
  }
  it.each([
    { name: 'unknown version', bytes: Buffer.from([2, 0]), error: /version 2/ },
    {
      name: 'dense, too short',
      bytes: Buffer.concat([Buffer.from([1, 1]), Buffer.alloc(M - 1)]),
      error: /dense.*length/,
    },
    { name: 'sparse, partial entry', bytes: Buffer.from([1, 0, 0, 1]), error: /sparse.*length/ },
    { name: 'index out of range', bytes: sparse(M, 1), error: /corrupt/ },
    { name: 'rank 0', bytes: sparse(3, 0), error: /corrupt/ },
    { name: 'rank above the largest', bytes: sparse(3, 52), error: /corrupt/ },
  ])('$name', ({ bytes, error }) => {
    expect(() => Hll.deserialize(bytes)).toThrow(error)
  })

  it('merging many sparse sketches gives the bytes of adding their registers one by one, in any order', () => {
    // Merges past MERGE_DENSE_AT entries hold the registers in a byte array; the serialised form
    // (and so the digest, the noise seed) must still be the sparse one while few registers are set.
    const parts = Array.from({ length: 40 }, (_, p) => {
      const hll = new Hll()
      for (let i = 0; i < 60; i++) hll.add(at((p * 97 + i * 131) % M, 1 + ((p + i) % 7)))
      return hll
    })
    const direct = new Hll()
    for (let p = 0; p < 40; p++)
      for (let i = 0; i < 60; i++) direct.add(at((p * 97 + i * 131) % M, 1 + ((p + i) % 7)))
    const forward = Hll.union(parts)
    const backward = Hll.union([...parts].reverse())
    expect(forward.serialize()[1]).toBe(0)
    expect(forward.serialize()).toEqual(direct.serialize())
    expect(backward.serialize()).toEqual(direct.serialize())
    expect(forward.count()).toBe(direct.count())
    expect(forward.digest()).toBe(backward.digest())
    // Past SPARSE_LIMIT registers it is dense, as one sketch grown by adds would be.
    const many = Array.from({ length: 10 }, (_, p) => {
      const hll = new Hll()
      for (let i = 0; i < 700; i++) hll.add(at((p * 700 + i) % M, 2))
      return hll
    })
    const grown = new Hll()
    for (let i = 0; i < 7000; i++) grown.add(at(i % M, 2))
    expect(dense(Hll.union(many))).toEqual(dense(grown))
    // A stored dense sketch merged in keeps the result dense whatever its register count.
    const fewDense = Hll.deserialize(Buffer.concat([Buffer.from([1, 1]), Buffer.alloc(M)]))
    expect(dense(Hll.union([parts[0]!, fewDense])).subarray(0, 4)).toEqual(
      dense(Hll.union([fewDense, parts[0]!])).subarray(0, 4),
    )
    expect(Hll.union([parts[0]!, fewDense]).count()).toBe(parts[0]!.count())
  })

  it('a deserialised sparse sketch reads, merges, grows and re-serialises like the original', () => {
    const original = new Hll()
    for (let i = 0; i < 300; i++) original.add(at((i * 53) % M, 1 + (i % 9)))
    const bytes = original.serialize()
    const read = Hll.deserialize(bytes)
    expect(read.serialize()).toEqual(bytes)
    expect(read.count()).toBe(original.count())
    expect(read.digest()).toBe(original.digest())
    expect(new Hll().merge(read).serialize()).toEqual(bytes)
    // Written to after reading: the larger rank wins, the rest is kept.
    read.add(at(0, 30)).add(at(53, 1))
    original.add(at(0, 30)).add(at(53, 1))
    expect(read.serialize()).toEqual(original.serialize())
    // Stored entries out of order or repeated (not what serialize writes) keep the larger rank.
    const odd = Buffer.from([1, 0, 0, 9, 4, 0, 2, 7, 0, 9, 6])
    expect(entries(Hll.deserialize(odd))).toEqual([
      [2, 7],
      [9, 6],
    ])
    expect(Hll.deserialize(odd).count()).toBe(2)
  })

  it('accepts the edges: the last index, rank 1 and the largest rank', () => {
    expect(entries(Hll.deserialize(sparse(M - 1, 51)))).toEqual([[M - 1, 51]])
    expect(entries(Hll.deserialize(sparse(0, 1)))).toEqual([[0, 1]])
    expect(dense(Hll.deserialize(Buffer.concat([Buffer.from([1, 1]), Buffer.alloc(M, 2)])))[M - 1]).toBe(2)
  })
})
