import { randomBytes } from 'node:crypto'
import type { Kafka } from 'kafkajs'
import type { SporConfig } from '../core/config.ts'
import { SporError } from '../core/errors.ts'
import { createProducer } from '../core/kafka.ts'
import { ORIGIN_HEADER } from '../core/key-scopes.ts'
import type { DlqRecord } from './dlq-record.ts'

/**
 * `spor dlq replay`: after a fix (a new event type in the table, a mapping corrected, a bug in an
 * enrichment step), sends the original bytes of a bounded range of dead letters back through the
 * normal path: produced again to the events topic with their original key, so every consumer
 * (ingest, detect) treats them as it treats any event. Nothing here forks the pipeline.
 *
 * Exactly once in Elasticsearch: documents have deterministic ids (`tenant:id`), so a record
 * replayed twice (the command run twice over overlapping ranges, or a producer retry) overwrites
 * its own document instead of adding one. Records that still fail go back to the dead-letter topic
 * with a new origin; the range is bounded, so a replay never loops. Each replayed message carries
 * the header `spor-replay-of: <dlq topic>/<partition>/<offset>`.
 */
export interface ReplayRange {
  /** Partitions to read; all when omitted. */
  partitions?: number[]
  /** Offsets, inclusive; only with exactly one partition. */
  fromOffset?: bigint
  toOffset?: bigint
  /** Dead letters written at or after `since` and before `until` (Kafka timestamps). */
  since?: Date
  until?: Date
  /** Only these reasons (e.g. unknown_type); all when omitted. */
  reasons?: string[]
  dryRun?: boolean
}

export interface ReplayReport {
  topic: string
  target: string
  dryRun: boolean
  partitions: { partition: number; from: string; to: string; read: number }[]
  read: number
  replayed: number
  skipped: Record<string, number>
  byReason: Record<string, number>
}

interface Bounds {
  partition: number
  start: bigint
  /** Exclusive. */
  end: bigint
}

const NO_PROGRESS_MS = 60_000

export async function replayDeadLetters(
  kafka: Kafka,
  config: SporConfig,
  range: ReplayRange,
): Promise<ReplayReport> {
  validateRange(range)
  const topic = config.kafka.dlqTopic
  const bounds = await rangeBounds(kafka, topic, range)
  const records = await readRange(kafka, topic, bounds)
  const report: ReplayReport = {
    topic,
    target: config.kafka.eventsTopic,
    dryRun: range.dryRun === true,
    partitions: bounds.map((b) => ({
      partition: b.partition,
      from: b.start.toString(),
      to: (b.end - 1n).toString(),
      read: records.filter((r) => r.partition === b.partition).length,
    })),
    read: records.length,
    replayed: 0,
    skipped: {},
    byReason: {},
  }
  const skip = (why: string) => {
    report.skipped[why] = (report.skipped[why] ?? 0) + 1
  }
  const messages: { key: string | null; value: Buffer; headers: Record<string, string> }[] = []
  for (const { partition, offset, record } of records) {
    if (!record) skip('not_a_dead_letter')
    else if (range.reasons && !range.reasons.includes(record.reason)) skip('other_reason')
    // A skipped poison batch is a whole undecodable record batch, not an event: never re-produce it.
    else if (record.reason === 'poison_batch') skip('poison_batch')
    else if (record.payload === null) skip('empty_payload')
    else {
      report.byReason[record.reason] = (report.byReason[record.reason] ?? 0) + 1
      messages.push({
        key: record.origin?.key ?? null,
        value: Buffer.from(record.payload, record.payload_encoding === 'base64' ? 'base64' : 'utf8'),
        headers: {
          'spor-replay-of': `${topic}/${partition}/${offset}`,
          // What a browser key sent stays client-reported when it comes back.
          ...(record.origin?.spor_origin ? { [ORIGIN_HEADER]: record.origin.spor_origin } : {}),
        },
      })
    }
  }
  if (!report.dryRun && messages.length > 0) {
    const producer = createProducer(kafka)
    await producer.connect()
    try {
      for (let i = 0; i < messages.length; i += 500) {
        await producer.send({
          topic: config.kafka.eventsTopic,
          acks: -1,
          messages: messages.slice(i, i + 500),
        })
      }
    } finally {
      await producer.disconnect()
    }
  }
  report.replayed = report.dryRun ? 0 : messages.length
  return report
}

/** Throws SPOR_ERR_BAD_REQUEST for an unbounded or contradictory range (before any connection). */
export function validateRange(range: ReplayRange): void {
  const byOffset = range.fromOffset !== undefined || range.toOffset !== undefined
  const byTime = range.since !== undefined || range.until !== undefined
  if (byOffset && byTime)
    throw new SporError('SPOR_ERR_BAD_REQUEST', 'give either offsets or a time range, not both')
  if (!byOffset && !byTime)
    throw new SporError(
      'SPOR_ERR_BAD_REQUEST',
      'a replay needs a bounded range: --partition P --from-offset A --to-offset B, or --since T [--until T]',
    )
  if (byOffset) {
    if (range.partitions?.length !== 1 || range.fromOffset === undefined || range.toOffset === undefined)
      throw new SporError(
        'SPOR_ERR_BAD_REQUEST',
        'an offset range needs one --partition, --from-offset and --to-offset',
      )
    if (range.fromOffset < 0n || range.toOffset < range.fromOffset)
      throw new SporError('SPOR_ERR_BAD_REQUEST', '--from-offset must be ≥ 0 and ≤ --to-offset')
  }
  if (range.since && range.until && range.until <= range.since)
    throw new SporError('SPOR_ERR_BAD_REQUEST', '--until must be after --since')
}

async function rangeBounds(kafka: Kafka, topic: string, range: ReplayRange): Promise<Bounds[]> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const offsets = await admin.fetchTopicOffsets(topic)
    const known = new Set(offsets.map((o) => o.partition))
    for (const p of range.partitions ?? [])
      if (!known.has(p))
        throw new SporError('SPOR_ERR_BAD_REQUEST', `${topic} has no partition ${p} (0..${known.size - 1})`)
    const wanted = offsets.filter((o) => !range.partitions || range.partitions.includes(o.partition))
    const at = async (date: Date | undefined, fallback: 'low' | 'high') => {
      const found = date ? await admin.fetchTopicOffsetsByTimestamp(topic, date.getTime()) : undefined
      return new Map(
        wanted.map((o) => {
          const hit = found?.find((f) => f.partition === o.partition)
          // No record at or after the time: the range ends (or starts) at the high watermark.
          const value = hit && BigInt(hit.offset) >= 0n ? BigInt(hit.offset) : BigInt(o[fallback])
          return [o.partition, value]
        }),
      )
    }
    if (range.fromOffset !== undefined && range.toOffset !== undefined) {
      const o = wanted[0]!
      const start = range.fromOffset > BigInt(o.low) ? range.fromOffset : BigInt(o.low)
      const wantedEnd = range.toOffset + 1n
      const end = wantedEnd < BigInt(o.high) ? wantedEnd : BigInt(o.high)
      return [{ partition: o.partition, start, end: larger(end, start) }]
    }
    const starts = await at(range.since, 'low')
    const ends = await at(range.until, 'high')
    return wanted.map((o) => {
      const start = starts.get(o.partition)!
      const end = ends.get(o.partition)!
      return { partition: o.partition, start, end: larger(end, start) }
    })
  } finally {
    await admin.disconnect()
  }
}

interface ReadRecord {
  partition: number
  offset: string
  record: DlqRecord | undefined
}

/** Reads exactly [start, end) of each partition (committed transactions only) in a throwaway group. */
async function readRange(kafka: Kafka, topic: string, bounds: Bounds[]): Promise<ReadRecord[]> {
  const pending = new Map(bounds.filter((b) => b.end > b.start).map((b) => [b.partition, b]))
  const records: ReadRecord[] = []
  if (pending.size === 0) return records
  const groupId = `spor-dlq-replay-${randomBytes(6).toString('hex')}`
  const consumer = kafka.consumer({ groupId, readUncommitted: false })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      let lastProgress = Date.now()
      const watchdog = setInterval(() => {
        if (Date.now() - lastProgress > NO_PROGRESS_MS) {
          clearInterval(watchdog)
          reject(
            new SporError('SPOR_ERR_KAFKA', `no progress reading ${topic} for ${NO_PROGRESS_MS / 1000} s`),
          )
        }
      }, 1000)
      const finish = () => {
        clearInterval(watchdog)
        resolve()
      }
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const bound = pending.get(batch.partition)
            if (!bound) return
            lastProgress = Date.now()
            for (const message of batch.messages) {
              const offset = BigInt(message.offset)
              if (offset < bound.start || offset >= bound.end) continue
              records.push({
                partition: batch.partition,
                offset: message.offset,
                record: decode(message.value),
              })
            }
            // lastOffset counts transaction markers too, so a range ending on one completes.
            if (BigInt(batch.lastOffset()) + 1n >= bound.end) {
              pending.delete(batch.partition)
              if (pending.size === 0) finish()
            }
          },
        })
        .then(() => {
          for (const b of pending.values())
            consumer.seek({ topic, partition: b.partition, offset: b.start.toString() })
        }, reject)
    })
  } finally {
    await consumer.disconnect()
    const admin = kafka.admin()
    await admin.connect()
    await admin.deleteGroups([groupId]).catch(() => {})
    await admin.disconnect()
  }
  return records.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))
}

/** Math.max for offsets (bigint). */
function larger(a: bigint, b: bigint): bigint {
  return a > b ? a : b
}

function decode(value: Buffer | null): DlqRecord | undefined {
  if (!value) return undefined
  try {
    const record = JSON.parse(value.toString('utf8')) as DlqRecord
    return typeof record?.reason === 'string' && 'payload' in record ? record : undefined
  } catch {
    return undefined
  }
}
