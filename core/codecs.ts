import { promisify } from 'node:util'
import * as zlib from 'node:zlib'
import { gunzip, gzip } from 'node:zlib'
import { decompress as fzstdDecompress } from 'fzstd'
import kafkajs from 'kafkajs'
import { compressFrameSync, decompressFrameSync } from 'lz4-napi'
import { compressSync as snappyCompress, uncompressSync as snappyUncompress } from 'snappy'
import { SporError } from './errors.ts'
import { countDecodedBatch } from './fetch-sizing.ts'

// kafkajs is CommonJS and Node's ESM loader does not see these two among its named exports.
const { CompressionCodecs, CompressionTypes } = kafkajs

/**
 * Kafka's compression codecs for kafkajs, which ships only gzip. Producers that follow Kafka's
 * own tuning advice (the Java client, librdkafka, Connect, Logstash, Vector) send snappy, lz4 or
 * zstd batches; without these a consumer cannot read the batch at all.
 *
 *  - snappy: `snappy` (napi-rs, prebuilt per platform as an npm optional dependency). The Java
 *    client writes xerial-framed snappy; librdkafka may write a raw block; both are read.
 *  - lz4: `lz4-napi` (napi-rs prebuilt) frame format, which is what Kafka (magic v2) uses.
 *  - zstd: `fzstd` (pure JS) decodes; Node >= 22.15 has zstd in zlib, used when present (and then
 *    also for compressing). On Node 20 spor's producers refuse zstd (config error).
 *
 * A batch that cannot be decoded (corrupt data, an unknown codec id) becomes stand-in records
 * (`poisonRecords`) that core/poison.ts turns into SPOR_ERR_POISON_BATCH, never retried:
 * re-fetching the same bytes gives the same failure.
 */

export type ProducerCompression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'

const CODEC_NAMES: Record<number, string> = { 1: 'gzip', 2: 'snappy', 3: 'lz4', 4: 'zstd' }

/** Where the batch sits in its partition's log, read from the record batch header. */
export interface BatchPosition {
  baseOffset: string
  lastOffset: string
  records: number
}

/** Header names of the stand-in records an undecodable batch becomes (see `poisonRecords`). */
export const POISON_HEADER = 'spor.poison'
export const POISON_PAYLOAD_HEADER = 'spor.poison.payload'

/** What the stand-in records say about the batch they replace. */
export interface PoisonInfo {
  codec: string
  error: string
  baseOffset: string
  lastOffset: string
}

export class PoisonBatchError extends SporError {
  readonly info: PoisonInfo
  readonly topic: string | undefined
  readonly partition: number | undefined
  /** The undecodable bytes, for the dead letter that records a skip. */
  declare readonly payload: Buffer | undefined

  constructor(info: PoisonInfo, where: { topic?: string; partition?: number; payload?: Buffer } = {}) {
    const at =
      where.topic !== undefined
        ? ` in ${where.topic} partition ${where.partition} at offsets ${info.baseOffset}..${info.lastOffset}`
        : info.baseOffset
          ? ` at offsets ${info.baseOffset}..${info.lastOffset} (partition unknown)`
          : ''
    super('SPOR_ERR_POISON_BATCH', `a ${info.codec} batch${at} cannot be decoded: ${info.error}`)
    this.name = 'PoisonBatchError'
    this.info = info
    this.topic = where.topic
    this.partition = where.partition
    // Not enumerable: loggers serialise errors field by field, and these bytes are for the DLQ.
    Object.defineProperty(this, 'payload', { value: where.payload, enumerable: false })
  }
}

export function findPoisonBatch(error: unknown): PoisonBatchError | undefined {
  for (let e = error as { cause?: unknown; originalError?: unknown } | undefined, i = 0; e && i < 5; i++) {
    if (e instanceof PoisonBatchError) return e
    e = (e.originalError ?? e.cause) as typeof e
  }
  return undefined
}

// kafkajs hands a codec the records section of a v2 record batch as a view into the fetch
// response (Buffer#slice shares memory), right after the 61-byte batch header. The header names
// the batch's base offset; the view is checked against the header's own length and magic byte
// before it is believed, so a copy or another layout yields "unknown position", never a wrong one.
const BATCH_HEADER_BYTES = 61
export function batchPosition(records: Buffer): (BatchPosition & { lastOffsetDelta: number }) | undefined {
  if (records.byteOffset < BATCH_HEADER_BYTES) return undefined
  const header = Buffer.from(records.buffer, records.byteOffset - BATCH_HEADER_BYTES, BATCH_HEADER_BYTES)
  const batchLength = header.readInt32BE(8)
  const magic = header.readInt8(16)
  if (magic !== 2 || batchLength !== 49 + records.length) return undefined
  const base = header.readBigInt64BE(0)
  const lastDelta = header.readInt32BE(23)
  return {
    baseOffset: base.toString(),
    lastOffset: (base + BigInt(lastDelta)).toString(),
    records: header.readInt32BE(57),
    lastOffsetDelta: lastDelta,
  }
}

// --- stand-in records for an undecodable batch --------------------------------------------------

// Throwing from a codec fails the whole fetch response: every partition on that broker stalls,
// and nobody learns which partition the batch is in. Instead the batch decodes into as many
// stand-in records as it holds (same offsets, null key and value) carrying a `spor.poison`
// header; the consumer wrapper (core/poison.ts) stops at the first one with the exact topic,
// partition and offsets, after the records before it have been processed.
const MAX_STAND_INS = 1_000_000

function zigzagVarint(value: number): Buffer {
  let v = (value << 1) ^ (value >> 31)
  const bytes: number[] = []
  v >>>= 0
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80)
    v >>>= 7
  }
  bytes.push(v)
  return Buffer.from(bytes)
}

function varintBytes(value: Buffer | null): Buffer {
  return value === null ? zigzagVarint(-1) : Buffer.concat([zigzagVarint(value.length), value])
}

function standInRecord(offsetDelta: number, headers: [string, Buffer][]): Buffer {
  const body = Buffer.concat([
    Buffer.from([0]), // attributes
    zigzagVarint(0), // timestamp delta
    zigzagVarint(offsetDelta),
    varintBytes(null), // key
    varintBytes(null), // value
    zigzagVarint(headers.length),
    ...headers.flatMap(([key, value]) => [varintBytes(Buffer.from(key)), varintBytes(value)]),
  ])
  return Buffer.concat([zigzagVarint(body.length), body])
}

/** The decoded form of an undecodable batch, or undefined when its header cannot be read. */
export function poisonRecords(codec: string, records: Buffer, error: unknown): Buffer | undefined {
  const position = batchPosition(records)
  if (!position || position.records < 1 || position.records > MAX_STAND_INS) return undefined
  const info: PoisonInfo = {
    codec,
    error: ((error as Error)?.message ?? String(error)).slice(0, 500),
    baseOffset: position.baseOffset,
    lastOffset: position.lastOffset,
  }
  const infoHeader: [string, Buffer] = [POISON_HEADER, Buffer.from(JSON.stringify(info))]
  const out: Buffer[] = []
  for (let i = 0; i < position.records; i++) {
    const last = i === position.records - 1
    const delta = last ? position.lastOffsetDelta : Math.min(i, position.lastOffsetDelta)
    out.push(
      standInRecord(
        delta,
        i === 0 ? [infoHeader, [POISON_PAYLOAD_HEADER, Buffer.from(records)]] : [infoHeader],
      ),
    )
  }
  return Buffer.concat(out)
}

// --- snappy: xerial framing as the Java client writes it ---------------------------------------

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])
const XERIAL_HEADER_BYTES = 16
const XERIAL_BLOCK_BYTES = 32 * 1024

export function snappyDecode(buffer: Buffer): Buffer {
  if (buffer.length < XERIAL_HEADER_BYTES || !buffer.subarray(0, 8).equals(XERIAL_MAGIC)) {
    return snappyUncompress(buffer) as Buffer
  }
  const blocks: Buffer[] = []
  let at = XERIAL_HEADER_BYTES
  while (at < buffer.length) {
    if (at + 4 > buffer.length) throw new Error('truncated xerial snappy chunk header')
    const size = buffer.readInt32BE(at)
    at += 4
    if (size < 0 || at + size > buffer.length) throw new Error('truncated xerial snappy chunk')
    blocks.push(snappyUncompress(buffer.subarray(at, at + size)) as Buffer)
    at += size
  }
  return Buffer.concat(blocks)
}

export function snappyEncode(buffer: Buffer): Buffer {
  const header = Buffer.alloc(XERIAL_HEADER_BYTES)
  XERIAL_MAGIC.copy(header, 0)
  header.writeInt32BE(1, 8) // version
  header.writeInt32BE(1, 12) // minimum compatible version
  const parts: Buffer[] = [header]
  for (let at = 0; at < buffer.length || at === 0; at += XERIAL_BLOCK_BYTES) {
    const block = snappyCompress(buffer.subarray(at, at + XERIAL_BLOCK_BYTES))
    const size = Buffer.alloc(4)
    size.writeInt32BE(block.length, 0)
    parts.push(size, block)
    if (buffer.length === 0) break
  }
  return Buffer.concat(parts)
}

// --- zstd --------------------------------------------------------------------------------------

type ZlibZstd = {
  zstdCompressSync?: (b: Buffer) => Buffer
  zstdDecompressSync?: (b: Buffer) => Buffer
}
const nativeZstd = zlib as unknown as ZlibZstd

/** Whether this runtime can compress zstd (Node's zlib has it from 22.15; Node 20 has not). */
export const canCompressZstd = typeof nativeZstd.zstdCompressSync === 'function'

export function zstdDecode(buffer: Buffer): Buffer {
  if (nativeZstd.zstdDecompressSync) return nativeZstd.zstdDecompressSync(buffer)
  const out = fzstdDecompress(buffer)
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength)
}

// --- registration ------------------------------------------------------------------------------

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>
  decompress(buffer: Buffer): Promise<Buffer>
}

const gzipAsync = promisify(gzip)
const gunzipAsync = promisify(gunzip)

function guarded(
  name: string,
  encode: (b: Buffer) => Buffer | Promise<Buffer>,
  decode: (b: Buffer) => Buffer | Promise<Buffer>,
): Codec {
  return {
    compress: async (encoder) => encode(encoder.buffer),
    decompress: async (buffer) => {
      try {
        const decoded = await decode(buffer)
        countDecodedBatch(buffer.length, decoded.length)
        return decoded
      } catch (error) {
        const standIns = poisonRecords(name, buffer, error)
        if (standIns) return standIns
        throw new PoisonBatchError({
          codec: name,
          error: (error as Error)?.message ?? String(error),
          baseOffset: '',
          lastOffset: '',
        })
      }
    },
  }
}

export const codecs = {
  gzip: guarded(
    'gzip',
    (b) => gzipAsync(b),
    (b) => gunzipAsync(b),
  ),
  snappy: guarded('snappy', snappyEncode, snappyDecode),
  lz4: guarded(
    'lz4',
    (b) => compressFrameSync(b),
    (b) => decompressFrameSync(b),
  ),
  zstd: guarded(
    'zstd',
    (b) => {
      if (!nativeZstd.zstdCompressSync)
        throw new SporError('SPOR_ERR_CONFIG', 'zstd compression needs Node >= 22.15')
      return nativeZstd.zstdCompressSync(b)
    },
    zstdDecode,
  ),
} as const

/** Codec ids 5-7 are not defined by Kafka: a batch carrying one is reported, not misread. */
function unknownCodec(id: number): Codec {
  return guarded(
    `codec-${id}`,
    () => {
      throw new Error(`unknown codec id ${id}`)
    },
    () => {
      throw new Error(`unknown compression codec id ${id} in the record batch attributes`)
    },
  )
}

let registered = false

/** Registers every codec with kafkajs (idempotent; done when core/kafka.ts is loaded). */
export function registerCodecs(): void {
  if (registered) return
  registered = true
  const table = CompressionCodecs as Record<number, () => Codec>
  table[CompressionTypes.GZIP] = () => codecs.gzip
  table[CompressionTypes.Snappy] = () => codecs.snappy
  table[CompressionTypes.LZ4] = () => codecs.lz4
  table[CompressionTypes.ZSTD] = () => codecs.zstd
  for (const id of [5, 6, 7]) {
    const codec = unknownCodec(id)
    table[id] = () => codec
  }
}

/** kafkajs's CompressionTypes value for a producer setting. */
export function compressionType(name: ProducerCompression): number {
  switch (name) {
    case 'none':
      return CompressionTypes.None
    case 'gzip':
      return CompressionTypes.GZIP
    case 'snappy':
      return CompressionTypes.Snappy
    case 'lz4':
      return CompressionTypes.LZ4
    case 'zstd':
      return CompressionTypes.ZSTD
  }
}

export function codecName(id: number): string {
  return CODEC_NAMES[id] ?? (id === 0 ? 'none' : `codec-${id}`)
}
