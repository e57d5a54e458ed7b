import { createHash } from 'node:crypto'

/**
 * HyperLogLog (64-bit hash, precision 14) so distinct users stay mergeable across days without
 * keeping identifiers: rollups store the registers, never the pseudonyms. Elasticsearch's
 * `cardinality` aggregation is the same sketch but has no stored sketch type, hence this version.
 *
 * The estimate is Ertl's improved estimator (O. Ertl, "New cardinality estimation algorithms for
 * HyperLogLog sketches", 2017, algorithm 6): one formula over the register histogram, unbiased
 * from 0 to far beyond 10^9 without HLL++'s empirical bias tables or a switch between linear
 * counting and the raw estimate. The classic switch at ~11,500 (raw estimate without bias
 * correction) over-counted by up to ~60 % just above the switch.
 *
 * Registers are sparse (a Map) until they would cost more than a dense array; serialised as
 * `[version=1][mode][…]` with mode 0 = sparse (u16 index, u8 rank)*, 1 = dense (one byte each).
 */
export const HLL_PRECISION = 14
const M = 1 << HLL_PRECISION
/** Hash bits left for the rank after the index: ranks are 1..Q+1 (Q+1 = all zero). */
const Q = 50
const ALPHA_INF = 1 / (2 * Math.LN2)
const SPARSE_LIMIT = Math.floor(M / 3)
/** Merging into a sparse sketch switches to dense storage past this many entries together. */
const MERGE_DENSE_AT = 1024

/** Register index and rank of a value; hash once, add to many sketches. */
export interface HashedValue {
  index: number
  rank: number
}

export function hashValue(value: string): HashedValue {
  const digest = createHash('sha256').update(value).digest()
  return fromHashBits(digest.readUInt32BE(0), digest.readUInt32BE(4))
}

/** Register index and rank from the first 64 bits of a hash (two unsigned 32-bit halves). */
export function fromHashBits(high: number, low: number): HashedValue {
  const index = high >>> (32 - HLL_PRECISION)
  // The remaining 18 + 32 = 50 bits give the rank (position of the first 1 bit, from 1).
  const rest = ((high & ((1 << (32 - HLL_PRECISION)) - 1)) * 2 ** 32 + low) / 2 ** Q
  const rank = rest === 0 ? Q + 1 : Math.min(Q + 1, Math.floor(-Math.log2(rest)) + 1)
  return { index, rank: Math.max(1, rank) }
}

export class Hll {
  /** Registers of a small sketch: index → rank. */
  #sparse: Map<number, number> | undefined = new Map()
  /**
   * A deserialised sparse sketch, read-only until written to: entries `index << 8 | rank`,
   * strictly increasing by index. A tenth of a Map's memory and merged by a plain loop; caches of
   * decoded rows (row-cache.ts) hold thousands of these.
   */
  #packed: Uint32Array | undefined
  /** All registers, one byte each: once there are many, or many entries are merged in. */
  #dense: Uint8Array | undefined
  /** Registers of `#dense` that are not 0. */
  #nonzero = 0
  /** Serialised dense whatever its count: a dense sketch was merged in or deserialised. */
  #denseForm = false

  add(value: string | HashedValue): this {
    const { index, rank } = typeof value === 'string' ? hashValue(value) : value
    this.#set(index, rank)
    return this
  }

  #set(index: number, rank: number): void {
    if (this.#dense) {
      const current = this.#dense[index] as number
      if (rank > current) {
        if (current === 0) this.#nonzero++
        this.#dense[index] = rank
      }
      return
    }
    const sparse = this.#map()
    if (rank > (sparse.get(index) ?? 0)) {
      sparse.set(index, rank)
      if (sparse.size > SPARSE_LIMIT) this.#toDense()
    }
  }

  /** The sparse entries as a Map (unpacking a packed sketch that is written to). */
  #map(): Map<number, number> {
    if (this.#packed) {
      const map = new Map<number, number>()
      for (const entry of this.#packed) map.set(entry >>> 8, entry & 0xff)
      this.#sparse = map
      this.#packed = undefined
    }
    return this.#sparse as Map<number, number>
  }

  /** Dense storage. Only how registers are held; the serialised form follows `#isDenseForm`. */
  #toDense(): void {
    if (this.#dense) return
    const dense = new Uint8Array(M)
    this.#map().forEach((rank, index) => {
      dense[index] = rank
    })
    this.#nonzero = this.#sparse?.size ?? 0
    this.#dense = dense
    this.#sparse = undefined
  }

  /**
   * Whether the sketch serialises dense: it holds more than SPARSE_LIMIT registers, or a dense
   * sketch went into it. This depends only on the registers and on which sketches were merged,
   * never on merge order or on how the registers are held, so the same people give the same
   * bytes (and digest, the noise seed) however a question merged them.
   */
  #isDenseForm(): boolean {
    return this.#denseForm || (this.#dense !== undefined && this.#nonzero > SPARSE_LIMIT)
  }

  merge(other: Hll): this {
    if (other.#isDenseForm()) this.#denseForm = true
    if (other.#dense) {
      this.#toDense()
      const mine = this.#dense as Uint8Array
      const theirs = other.#dense
      let nonzero = this.#nonzero
      for (let i = 0; i < M; i++) {
        const rank = theirs[i] as number
        const current = mine[i] as number
        if (rank > current) {
          if (current === 0) nonzero++
          mine[i] = rank
        }
      }
      this.#nonzero = nonzero
      return this
    }
    if (other.#packed) {
      const packed = other.#packed
      if (!this.#dense && this.#map().size + packed.length > MERGE_DENSE_AT) this.#toDense()
      if (this.#dense) {
        const mine = this.#dense
        let nonzero = this.#nonzero
        for (let i = 0; i < packed.length; i++) {
          const entry = packed[i] as number
          const index = entry >>> 8
          const rank = entry & 0xff
          const current = mine[index] as number
          if (rank > current) {
            if (current === 0) nonzero++
            mine[index] = rank
          }
        }
        this.#nonzero = nonzero
      } else {
        for (let i = 0; i < packed.length; i++) {
          const entry = packed[i] as number
          this.#set(entry >>> 8, entry & 0xff)
        }
      }
      return this
    }
    const theirs = other.#sparse as Map<number, number>
    // Merging many sketches (a month of day rows) goes faster into one byte array than through
    // a growing Map; this changes the storage only, not the serialised form.
    if (!this.#dense && this.#map().size + theirs.size > MERGE_DENSE_AT) this.#toDense()
    if (this.#dense) {
      // forEach, not for-of: no [index, rank] pair allocated per entry.
      const mine = this.#dense
      let nonzero = this.#nonzero
      theirs.forEach((rank, index) => {
        const current = mine[index] as number
        if (rank > current) {
          if (current === 0) nonzero++
          mine[index] = rank
        }
      })
      this.#nonzero = nonzero
    } else {
      theirs.forEach((rank, index) => {
        this.#set(index, rank)
      })
    }
    return this
  }

  /** Estimated number of distinct values added (Ertl 2017, improved raw estimator). */
  count(): number {
    const histogram = new Int32Array(Q + 2)
    if (this.#dense) {
      for (const r of this.#dense) histogram[r] = (histogram[r] as number) + 1
    } else {
      if (this.#packed) {
        histogram[0] = M - this.#packed.length
        for (const entry of this.#packed) histogram[entry & 0xff] = (histogram[entry & 0xff] as number) + 1
        return Math.round(improvedEstimate(histogram))
      }
      const sparse = this.#sparse as Map<number, number>
      histogram[0] = M - sparse.size
      for (const r of sparse.values()) histogram[r] = (histogram[r] as number) + 1
    }
    return Math.round(improvedEstimate(histogram))
  }

  /**
   * Approximate heap bytes of this sketch (for caches bounded in bytes): the dense registers, or
   * the sparse map's entries (a V8 hash map holds about 40 bytes per small-integer entry).
   */
  heapBytes(): number {
    if (this.#packed) return 96 + this.#packed.byteLength
    return this.#dense ? M + 96 : 96 + (this.#sparse?.size ?? 0) * 40
  }

  /** A short digest of the registers: seeds the data-dependent noise layer. */
  digest(): string {
    return createHash('sha256').update(this.serialize()).digest('hex').slice(0, 16)
  }

  serialize(): Buffer {
    if (this.#isDenseForm()) {
      this.#toDense()
      return Buffer.concat([Buffer.from([1, 1]), Buffer.from(this.#dense as Uint8Array)])
    }
    const out = Buffer.alloc(2 + this.#registerCount() * 3)
    out[0] = 1
    out[1] = 0
    let at = 2
    const write = (index: number, rank: number) => {
      out.writeUInt16BE(index, at)
      out[at + 2] = rank
      at += 3
    }
    if (this.#dense) {
      const dense = this.#dense
      for (let i = 0; i < M; i++) if ((dense[i] as number) > 0) write(i, dense[i] as number)
    } else if (this.#packed) {
      for (const entry of this.#packed) write(entry >>> 8, entry & 0xff)
    } else {
      for (const [index, rank] of [...(this.#sparse as Map<number, number>)].sort((a, b) => a[0] - b[0]))
        write(index, rank)
    }
    return out
  }

  #registerCount(): number {
    if (this.#packed) return this.#packed.length
    return this.#dense ? this.#nonzero : (this.#sparse?.size ?? 0)
  }

  static deserialize(bytes: Buffer): Hll {
    const hll = new Hll()
    if (bytes[0] !== 1) throw new Error(`unknown HLL sketch version ${bytes[0]}`)
    if (bytes[1] === 1) {
      if (bytes.length !== 2 + M) throw new Error('dense HLL sketch has the wrong length')
      hll.#toDense()
      const dense = hll.#dense as Uint8Array
      dense.set(bytes.subarray(2))
      let nonzero = 0
      for (let i = 0; i < M; i++) if ((dense[i] as number) > 0) nonzero++
      hll.#nonzero = nonzero
      hll.#denseForm = true
    } else {
      if ((bytes.length - 2) % 3 !== 0) throw new Error('sparse HLL sketch has the wrong length')
      const count = (bytes.length - 2) / 3
      const packed = new Uint32Array(count)
      // What serialize() writes: indices strictly increasing. Anything else (duplicates, another
      // order) goes through #set, which keeps the larger rank per register.
      let ordered = count <= SPARSE_LIMIT
      for (let i = 0, at = 2; i < count; i++, at += 3) {
        const index = bytes.readUInt16BE(at)
        const rank = bytes[at + 2] as number
        if (index >= M || rank < 1 || rank > Q + 1) throw new Error('corrupt HLL sketch entry')
        if (i > 0 && index <= (packed[i - 1] as number) >>> 8) ordered = false
        packed[i] = (index << 8) | rank
      }
      if (ordered && count > 0) {
        hll.#packed = packed
        hll.#sparse = undefined
      } else {
        for (const entry of packed) hll.#set(entry >>> 8, entry & 0xff)
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

/**
 * Ertl's improved estimator from the register histogram `c` (c[r] = registers holding rank r):
 * m^2 / (2 ln 2) / (m·τ(1 − c[q+1]/m) + Σ c[r]·2^-r + m·σ(c[0]/m)), with the sum evaluated
 * Horner-style from the top rank. σ corrects for empty registers (it is what linear counting
 * captures), τ for saturated ones; both series converge in a few dozen steps.
 */
export function improvedEstimate(c: Int32Array): number {
  let z = M * tau(1 - (c[Q + 1] as number) / M)
  for (let r = Q; r >= 1; r--) z = 0.5 * (z + (c[r] as number))
  z += M * sigma((c[0] as number) / M)
  return (ALPHA_INF * M * M) / z
}

function sigma(x: number): number {
  if (x === 1) return Number.POSITIVE_INFINITY
  let y = 1
  let z = x
  let previous: number
  let power = x
  do {
    power *= power
    previous = z
    z += power * y
    y += y
  } while (z !== previous)
  return z
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0
  let y = 1
  let z = 1 - x
  let previous: number
  let root = x
  do {
    root = Math.sqrt(root)
    previous = z
    y *= 0.5
    z -= (1 - root) ** 2 * y
  } while (z !== previous)
  return z / 3
}
