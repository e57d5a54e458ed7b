import type { KafkaMessage } from 'kafkajs'
import { validateEvent } from '../core/event-schema.ts'
import { classOf, DEFAULT_EVENT_TYPES } from '../core/event-types.ts'
import { DEFAULT_RETENTION_DAYS } from '../core/retention.ts'
import { createEnrichers, enrichEvent } from '../enrich/index.ts'
import { truncateIp } from '../enrich/ip.ts'
import { bulkEntry } from '../ingest/bulk-writer.ts'
import { type ParseLimits, parseMessage } from '../ingest/parse-message.ts'
import { planBatch } from '../ingest/plan-batch.ts'
import { ingestBenchEvents } from './ingest-events.ts'

export interface StageFigure {
  stage: string
  microsPerEvent: number
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
 * CPU per event of each step of `spor ingest`'s hot path, in isolation and on one core: what the
 * consumer spends per event before kafkajs's own decoding and the HTTP round trip. The UA cache is
 * on (as in production); pseudonyms and geo run as configured by default.
 */
export function runStageBench(count = 30_000): StageFigure[] {
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
  for (let i = 0; i < messages.length; i += 500) slices.push(messages.slice(i, i + 500))
  const context = { limits, enrichers, indexPrefix: 'bench' }
  const perEvent = (micros: number, share: number) => micros * share

  const plan = (slice: KafkaMessage[]) => planBatch('events', 0, slice, context, now).index.length
  const bodyOnly = (requests: ReturnType<typeof planBatch>['index']) => {
    let bytes = 0
    for (const request of requests) bytes += Buffer.byteLength(bulkEntry(request)) + 1
    return bytes
  }
  const plans = slices.map((slice) => planBatch('events', 0, slice, context, now).index)

  return [
    {
      stage: 'JSON.parse of the record value',
      microsPerEvent: time(values, (v) => JSON.parse(v.toString('utf8'))),
    },
    { stage: 'schema check (compiled TypeBox)', microsPerEvent: time(decoded, (d) => validateEvent(d)) },
    {
      stage: 'parseMessage (all of the above + class, skew)',
      microsPerEvent: time(values, (v) => parseMessage(v, limits, now)),
    },
    {
      stage: 'user agent (cached)',
      microsPerEvent: perEvent(
        time(uas, (ua) => enrichers.parseUserAgent(ua)),
        uas.length / events.length,
      ),
    },
    {
      stage: 'geo lookup',
      microsPerEvent: perEvent(
        time(ips, (ip) => enrichers.lookupGeo(ip)),
        ips.length / events.length,
      ),
    },
    {
      stage: 'IP truncation',
      microsPerEvent: perEvent(
        time(ips, (ip) => truncateIp(ip)),
        ips.length / events.length,
      ),
    },
    {
      stage: 'pseudonym (user)',
      microsPerEvent: perEvent(
        time(users, ([t, u]) => enrichers.pseudonym(t, u)),
        users.length / events.length,
      ),
    },
    {
      stage: 'enrichEvent (whole document)',
      microsPerEvent: time(classed, ({ e, cls }) => enrichEvent(e, cls, enrichers, now)),
    },
    { stage: 'JSON.stringify of the document', microsPerEvent: time(docs, (d) => JSON.stringify(d)) },
    { stage: 'planBatch (parse + enrich + origin)', microsPerEvent: time(slices, plan) / 500 },
    { stage: 'bulk body (action line + document)', microsPerEvent: time(plans, bodyOnly) / 500 },
  ]
}
