import { createHash } from 'node:crypto'

/**
 * HyperLogLog (HLL++-style: 64-bit hash, precision 14, linear counting for small sets) so
 * distinct users stay mergeable across days without keeping identifiers: rollups store the
 * registers, never the pseudonyms. Elasticsearch's `cardinality` aggregation is the same
 * algorithm but has no stored sketch type, hence this ~120-line version.
 *
 * Registers are sparse (a Map) until they would cost more than a dense array; serialised as
 * `[version=1][mode][…]` with mode 0 = sparse (u16 index, u8 rank)*, 1 = dense (one byte each).
 */
export const HLL_PRECISION = 14
const M = 1 << HLL_PRECISION
const ALPHA = 0.7213 / (1 + 1.079 / M)
/** HLL++ threshold for p = 14: below it linear counting is the better estimate. */
const LINEAR_COUNTING_THRESHOLD = 11_500
const SPARSE_LIMIT = Math.floor(M / 3)

/** Register index and rank of a value; hash once, add to many sketches. */
export interface HashedValue {
  index: number
  rank: number
}

export function hashValue(value: string): HashedValue {
  const digest = createHash('sha256').update(value).digest()
  const high = digest.readUInt32BE(0)
  const index = high >>> (32 - HLL_PRECISION)
  // The remaining 18 + 32 = 50 bits give the rank (position of the first 1 bit, from 1).
  const rest = ((high & ((1 << (32 - HLL_PRECISION)) - 1)) * 2 ** 32 + digest.readUInt32BE(4)) / 2 ** 50
  const rank = rest === 0 ? 51 : Math.min(51, Math.floor(-Math.log2(rest)) + 1)
  return { index, rank: Math.max(1, rank) }
}

export class Hll {
  #sparse: Map<number, number> | undefined = new Map()
  #dense: Uint8Array | undefined

  add(value: string | HashedValue): this {
    const { index, rank } = typeof value === 'string' ? hashValue(value) : value
    this.#set(index, rank)
    return this
  }

  #set(index: number, rank: number): void {
    if (this.#dense) {
      if (rank > (this.#dense[index] as number)) this.#dense[index] = rank
      return
    }
    const sparse = this.#sparse as Map<number, number>
    if (rank > (sparse.get(index) ?? 0)) {
      sparse.set(index, rank)
      if (sparse.size > SPARSE_LIMIT) this.#densify()
    }
  }

  #densify(): void {
    const dense = new Uint8Array(M)
    for (const [index, rank] of this.#sparse ?? []) dense[index] = rank
    this.#dense = dense
    this.#sparse = undefined
  }

  merge(other: Hll): this {
    if (other.#dense) {
      if (!this.#dense) this.#densify()
      const mine = this.#dense as Uint8Array
      const theirs = other.#dense
      for (let i = 0; i < M; i++)
        if ((theirs[i] as number) > (mine[i] as number)) mine[i] = theirs[i] as number
    } else {
      for (const [index, rank] of other.#sparse ?? []) this.#set(index, rank)
    }
    return this
  }

  /** Estimated number of distinct values added. */
  count(): number {
    let zeros: number
    let sum: number
    if (this.#dense) {
      zeros = 0
      sum = 0
      for (let i = 0; i < M; i++) {
        const r = this.#dense[i] as number
        if (r === 0) zeros++
        sum += 2 ** -r
      }
    } else {
      const sparse = this.#sparse as Map<number, number>
      zeros = M - sparse.size
      sum = zeros
      for (const r of sparse.values()) sum += 2 ** -r
    }
    if (zeros > 0) {
      const linear = M * Math.log(M / zeros)
      if (linear <= LINEAR_COUNTING_THRESHOLD) return Math.round(linear)
    }
    return Math.round((ALPHA * M * M) / sum)
  }

  /** A short digest of the registers: seeds the data-dependent noise layer. */
  digest(): string {
    return createHash('sha256').update(this.serialize()).digest('hex').slice(0, 16)
  }

  serialize(): Buffer {
    if (this.#dense) return Buffer.concat([Buffer.from([1, 1]), Buffer.from(this.#dense)])
    const entries = [...(this.#sparse ?? new Map<number, number>())].sort((a, b) => a[0] - b[0])
    const out = Buffer.alloc(2 + entries.length * 3)
    out[0] = 1
    out[1] = 0
    entries.forEach(([index, rank], i) => {
      out.writeUInt16BE(index, 2 + i * 3)
      out[4 + i * 3] = rank
    })
    return out
  }

  static deserialize(bytes: Buffer): Hll {
    const hll = new Hll()
    if (bytes[0] !== 1) throw new Error(`unknown HLL sketch version ${bytes[0]}`)
    if (bytes[1] === 1) {
      if (bytes.length !== 2 + M) throw new Error('dense HLL sketch has the wrong length')
      hll.#densify()
      ;(hll.#dense as Uint8Array).set(bytes.subarray(2))
    } else {
      if ((bytes.length - 2) % 3 !== 0) throw new Error('sparse HLL sketch has the wrong length')
      for (let at = 2; at < bytes.length; at += 3) {
        const index = bytes.readUInt16BE(at)
        const rank = bytes[at + 2] as number
        if (index >= M || rank < 1 || rank > 51) throw new Error('corrupt HLL sketch entry')
        hll.#set(index, rank)
      }
    }
    return hll
  }

  static union(sketches: Iterable<Hll>): Hll {
    const out = new Hll()
    for (const s of sketches) out.merge(s)
    return out
  }
}
