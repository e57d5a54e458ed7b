import type { KafkaMessage } from 'kafkajs'
import { validateEvent } from '../core/event-schema.ts'
import { classOf, DEFAULT_EVENT_TYPES } from '../core/event-types.ts'
import { DEFAULT_RETENTION_DAYS } from '../core/retention.ts'
import { createEnrichers, enrichEvent } from '../enrich/index.ts'
import { truncateIp } from '../enrich/ip.ts'
import { actionLine, BulkBody, lineBytes } from '../ingest/bulk-body.ts'
import { type ParseLimits, parseMessage } from '../ingest/parse-message.ts'
import { planBatch } from '../ingest/plan-batch.ts'
import { ingestBenchEvents } from './ingest-events.ts'

export interface StageFigure {
  stage: string
  microsPerEvent: number
}

/** One step of the hot path over its inputs; `share` scales a per-item figure to per event. */
interface Stage<T = unknown> {
  stage: string
  items: readonly T[]
  step: (item: T) => unknown
  /** Events per item (a slice of 500 messages is 500 events) or items per event (0.9 IPs). */
  perEvent: number
}

/** Runs `step` over every item `rounds` times after one warm-up round; µs per item, best round. */
function time<T>(items: readonly T[], step: (item: T) => unknown, rounds = 3): number {
  let sink: unknown
  for (const item of items) sink = step(item)
  let best = Number.POSITIVE_INFINITY
  for (let r = 0; r < rounds; r++) {
    const started = process.hrtime.bigint()
    for (const item of items) sink = step(item)
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1000 / items.length)
  }
  if (sink === Symbol.for('never')) console.log(sink)
  return best
}

/**
 * The steps of `spor ingest`'s hot path over `count` of the ingest bench's events: what the
 * consumer spends per event before kafkajs's own decoding and the HTTP round trip. The UA cache is
 * on (as in production); pseudonyms and geo run as configured by default.
 */
function stages(count: number): Stage[] {
  const now = new Date()
  const events = ingestBenchEvents(count, now)
  const limits: ParseLimits = {
    maxEventBytes: 32 * 1024,
    maxFutureSkewMs: 300_000,
    eventTypes: DEFAULT_EVENT_TYPES,
    retentionDays: DEFAULT_RETENTION_DAYS,
  }
  const enrichers = createEnrichers({ uaCacheSize: 5000, pseudonymKey: Buffer.alloc(32, 1) })
  const values = events.map((e) => Buffer.from(JSON.stringify(e)))
  const decoded = values.map((v) => JSON.parse(v.toString('utf8')) as unknown)
  const classed = events.map((e) => ({ e, cls: classOf(DEFAULT_EVENT_TYPES, e.type)! }))
  const messages: KafkaMessage[] = values.map((value, i) => ({
    key: Buffer.from(events[i]!.tenant),
    value,
    timestamp: String(now.getTime()),
    attributes: 0,
    offset: String(i),
    size: value.length,
    headers: { 'spor-origin': Buffer.from('server') } as never,
  }))
  const ips = events.flatMap((e) => (e.ip ? [e.ip] : []))
  const users = events.flatMap((e) => (e.user ? [[e.tenant, e.user] as const] : []))
  const uas = events.flatMap((e) => (e.device?.ua ? [e.device.ua] : []))
  const docs = classed.map(({ e, cls }) => enrichEvent(e, cls, enrichers, now))
  const slices: KafkaMessage[][] = []
  for (let i = 0; i < messages.length; i += SLICE) slices.push(messages.slice(i, i + SLICE))
  const context = { limits, enrichers, indexPrefix: 'bench' }
  const plans = slices.map((slice) => planBatch('events', 0, slice, context, now).index)
  const stage = <T>(name: string, items: readonly T[], step: (item: T) => unknown, perEvent = 1): Stage =>
    ({ stage: name, items, step, perEvent }) as Stage

  return [
    stage('JSON.parse of the record value', values, (v) => JSON.parse(v.toString('utf8'))),
    stage('schema check (compiled TypeBox)', decoded, (d) => validateEvent(d)),
    stage('parseMessage (all of the above + class, skew)', values, (v) => parseMessage(v, limits, now)),
    stage('user agent (cached)', uas, (ua) => enrichers.parseUserAgent(ua), uas.length / events.length),
    stage('geo lookup', ips, (ip) => enrichers.lookupGeo(ip), ips.length / events.length),
    stage('IP truncation', ips, (ip) => truncateIp(ip), ips.length / events.length),
    stage('pseudonym (user)', users, ([t, u]) => enrichers.pseudonym(t, u), users.length / events.length),
    stage('enrichEvent (whole document)', classed, ({ e, cls }) => enrichEvent(e, cls, enrichers, now)),
    stage('JSON.stringify of the document', docs, (d) => JSON.stringify(d)),
    stage(
      'planBatch (parse + enrich + request)',
      slices,
      (slice) => planBatch('events', 0, slice, context, now).index.length,
      1 / SLICE,
    ),
    stage(
      'bulk body (serialise, action lines, into the Buffer)',
      plans,
      (requests) => {
        const body = new BulkBody()
        for (const r of requests) {
          const json = JSON.stringify(r.document)
          const action = actionLine(r.index, r.id)
          body.append(action, json, lineBytes(action, json))
        }
        return body.length
      },
      1 / SLICE,
    ),
  ]
}

/** Messages per planBatch call, as the consumer plans a batch in slices. */
const SLICE = 500

/** CPU per event of each step of `spor ingest`'s hot path, in isolation and on one core. */
export function runStageBench(count = 30_000): StageFigure[] {
  return stages(count).map((s) => ({ stage: s.stage, microsPerEvent: time(s.items, s.step) * s.perEvent }))
}

export interface StageAllocation {
  stage: string
  bytesPerEvent: number
}

/**
 * Bytes of JS heap each step allocates per event: the garbage collector's work grows with it (and
 * with what stays alive). Needs `--expose-gc` and a young generation that holds a whole round
 * without a collection (`--min-semi-space-size` = `--max-semi-space-size` = 256), so the heap
 * grows by exactly what the round allocated.
 */
export function runStageAllocation(count = 20_000): StageAllocation[] {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('runStageAllocation needs node --expose-gc')
  let sink: unknown
  const figures = stages(count).map((s) => {
    for (const item of s.items) sink = s.step(item) // optimised code, as in a running pipeline
    gc()
    const before = process.memoryUsage().heapUsed
    for (const item of s.items) sink = s.step(item)
    const bytes = process.memoryUsage().heapUsed - before
    return { stage: s.stage, bytesPerEvent: (bytes / s.items.length) * s.perEvent }
  })
  if (sink === Symbol.for('never')) console.log(sink)
  return figures
}

/** `node --expose-gc --min-semi-space-size=256 --max-semi-space-size=256 --import tsx bench/stages.ts alloc` */
if (process.argv[2] === 'alloc' && process.argv[1]?.endsWith('stages.ts')) {
  console.log(JSON.stringify(runStageAllocation()))
}
