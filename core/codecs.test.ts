import { createRequire } from 'node:module'
import { gzipSync } from 'node:zlib'
import { CompressionTypes } from 'kafkajs'
import { compressSync as rawSnappy } from 'snappy'
import { describe, expect, it } from 'vitest'
import { batchPosition, codecs, POISON_HEADER, registerCodecs, snappyDecode, snappyEncode } from './codecs.ts'
import { poisonInfo } from './poison.ts'

const require = createRequire(import.meta.url)
// kafkajs's own record batch decoder: the stand-in records must decode exactly as a fetch would.
const RecordBatchDecoder = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: unknown) => Promise<{
  records: { offset: string; key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer> }[]
}>
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown

const text = Buffer.from('{"v":1,"type":"page.view"}\n'.repeat(5000))

/** A v2 record batch around already-compressed records (the layout a broker sends). */
function recordBatch(
  baseOffset: bigint,
  records: number,
  lastOffsetDelta: number,
  codec: number,
  body: Buffer,
) {
  const header = Buffer.alloc(61)
  header.writeBigInt64BE(baseOffset, 0)
  header.writeInt32BE(49 + body.length, 8)
  header.writeInt8(2, 16)
  header.writeInt16BE(codec, 21)
  header.writeInt32BE(lastOffsetDelta, 23)
  header.writeBigInt64BE(-1n, 43)
  header.writeInt16BE(-1, 51)
  header.writeInt32BE(-1, 53)
  header.writeInt32BE(records, 57)
  return Buffer.concat([header, body])
}

describe('codecs', () => {
  it.each(['gzip', 'snappy', 'lz4'] as const)('%s round-trips', async (name) => {
    const compressed = await codecs[name].compress({ buffer: text })
    expect(compressed.length).toBeLessThan(text.length / 10)
    expect((await codecs[name].decompress(compressed)).equals(text)).toBe(true)
  })

  it('reads xerial-framed snappy in several chunks (Java client) and a raw block (librdkafka)', () => {
    const framed = snappyEncode(text)
    expect(framed.subarray(0, 8).toString('latin1')).toBe('\x82SNAPPY\x00')
    expect(framed.length).toBeGreaterThan(16)
    expect(snappyDecode(framed).equals(text)).toBe(true)
    expect(snappyDecode(rawSnappy(text)).equals(text)).toBe(true)
    expect(snappyDecode(snappyEncode(Buffer.alloc(0))).length).toBe(0)
  })

  it('registers every Kafka codec id with kafkajs', async () => {
    registerCodecs()
    const { CompressionCodecs } = await import('kafkajs')
    for (const id of [
      CompressionTypes.GZIP,
      CompressionTypes.Snappy,
      CompressionTypes.LZ4,
      CompressionTypes.ZSTD,
    ]) {
      expect(() => (CompressionCodecs as Record<number, () => unknown>)[id]!()).not.toThrow()
    }
  })

  it('reads the batch position from the header kafkajs sliced the records out of', () => {
    const batch = recordBatch(1234n, 3, 2, 2, Buffer.from('xyz'))
    expect(batchPosition(batch.subarray(61))).toMatchObject({
      baseOffset: '1234',
      lastOffset: '1236',
      records: 3,
    })
    // A copy has no header in front of it: unknown, never a guess.
    expect(batchPosition(Buffer.from(batch.subarray(61)))).toBeUndefined()
  })
})

describe('an undecodable batch', () => {
  it.each([
    ['snappy', CompressionTypes.Snappy, Buffer.from('this is not snappy at all, not even close')],
    ['gzip', CompressionTypes.GZIP, gzipSync(text).subarray(0, 40)],
    ['lz4', CompressionTypes.LZ4, Buffer.from([0x04, 0x22, 0x4d, 0x18, 0xff, 0xff, 0xff])],
    ['zstd', CompressionTypes.ZSTD, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0x13])],
    ['codec-6', 6, Buffer.from('bytes of a codec Kafka does not define')],
  ])('%s decodes into stand-ins at the same offsets, carrying the bytes', async (codec, id, body) => {
    registerCodecs()
    const batch = Buffer.concat([Buffer.alloc(7), recordBatch(500n, 4, 3, id, body)])
    const decoded = await RecordBatchDecoder(new Decoder(batch.subarray(7)))
    expect(decoded.records.map((r) => r.offset)).toEqual(['500', '501', '502', '503'])
    for (const record of decoded.records) {
      expect(record.value).toBeNull()
      expect(poisonInfo(record as never)).toMatchObject({ codec, baseOffset: '500', lastOffset: '503' })
    }
    expect(decoded.records[0]!.headers[`${POISON_HEADER}.payload`]!.equals(body)).toBe(true)
    expect(decoded.records[1]!.headers[`${POISON_HEADER}.payload`]).toBeUndefined()
  })

  it('a real record with the header name is not a stand-in', () => {
    const message = { key: null, value: Buffer.from('{}'), headers: { [POISON_HEADER]: Buffer.from('{}') } }
    expect(poisonInfo(message as never)).toBeUndefined()
  })
})
