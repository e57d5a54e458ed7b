import fc from 'fast-check'
import type { KafkaMessage } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { DEFAULT_EVENT_TYPES } from '../core/event-types.ts'
import { DEFAULT_RETENTION_DAYS } from '../core/retention.ts'
import { createEnrichers } from '../enrich/index.ts'
import { parseMessage } from './parse-message.ts'
import { documentId, planBatch } from './plan-batch.ts'
import type { DlqReason, DropReason } from './results.ts'

/**
 * Properties of the pure ingest path (parse → validate → classify → enrich): whatever bytes
 * arrive, every message ends as exactly one of indexed / dead-lettered / dropped, with a
 * documented reason, and nothing throws. Failures print the seed and the shrunk counterexample.
 */

const NOW = new Date('2026-11-25T10:00:00Z')
const limits = {
  maxEventBytes: 2048,
  maxFutureSkewMs: 3_600_000,
  eventTypes: DEFAULT_EVENT_TYPES,
  retentionDays: DEFAULT_RETENTION_DAYS,
}
const context = {
  limits,
  enrichers: createEnrichers({ uaCacheSize: 50, pseudonymKey: Buffer.alloc(32, 7) }),
  indexPrefix: 'spor',
  isErased: (_tenant: string, user: string) => user === 'erased',
}
const DLQ_REASONS: readonly DlqReason[] = [
  'empty_message',
  'oversized',
  'invalid_json',
  'schema_violation',
  'unknown_type',
  'ts_in_future',
  'enrich_failed',
]
const DROP_REASONS: readonly DropReason[] = ['past_retention', 'subject_erased']

const knownTypes = Object.keys(DEFAULT_EVENT_TYPES)
const day = 86_400_000

const identifier = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,20}$/)
const UAS = [
  'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'curl/8.4.0',
]

/** Valid events, in and around the limits (retention, future skew, erased subjects). */
const validEvent = fc.record(
  {
    v: fc.constant(1),
    id: identifier,
    type: fc.constantFrom(...knownTypes),
    ts: fc
      .integer({ min: NOW.getTime() - 3 * 365 * day, max: NOW.getTime() + 2 * day })
      .map((ms) => new Date(ms).toISOString()),
    tenant: fc.constantFrom('acme', 'initech'),
    user: fc.constantFrom('u1', 'u2', 'erased'),
    session: identifier,
    ip: fc.oneof(fc.ipV4(), fc.ipV6()),
    device: fc.record(
      { ua: fc.oneof(fc.constantFrom(...UAS), fc.string({ maxLength: 200 })) },
      { requiredKeys: [] },
    ),
    module: identifier,
  },
  { requiredKeys: ['v', 'id', 'type', 'ts', 'tenant'] },
)

/** Hostile values for a field (wrong types, unknown types, garbage, huge strings). */
const hostileFields = {
  v: fc.anything(),
  id: fc.string(),
  type: fc.oneof(fc.string(), fc.stringMatching(/^[a-z][a-z0-9_]{0,8}\.[a-z][a-z0-9_]{0,10}$/)),
  ts: fc.oneof(
    fc.string(),
    fc.integer(),
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  ),
  tenant: fc.anything(),
  user: fc.oneof(fc.string(), fc.constant(null)),
  ip: fc.string({ maxLength: 40 }),
  device: fc.anything(),
  props: fc.dictionary(
    fc.string({ maxLength: 10 }),
    fc.oneof(fc.string({ minLength: 2100, maxLength: 2400 }), fc.anything()),
  ),
  extra: fc.anything(),
}
/** One field made hostile (most informative), or several at once. */
const hostilePatch = fc.oneof(
  ...Object.entries(hostileFields).map(([key, value]) => value.map((v) => ({ [key]: v }))),
  fc.record(hostileFields, { requiredKeys: [] }),
)

const eventLike = fc
  .tuple(
    validEvent,
    fc.oneof({ weight: 2, arbitrary: fc.constant({}) }, { weight: 3, arbitrary: hostilePatch }),
  )
  .map(([event, patch]) => ({ ...event, ...patch }))

/** Any message value: raw bytes, JSON of anything, event-like JSON, or none at all. */
const messageValue: fc.Arbitrary<Buffer | null> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value))),
  { weight: 4, arbitrary: eventLike.map((event) => Buffer.from(JSON.stringify(event))) },
  fc.string({ unit: 'binary', maxLength: 3000 }).map((s) => Buffer.from(s)),
  fc.constant(null),
)

const json = (value: unknown) => Buffer.from(JSON.stringify(value))
const sample = {
  v: 1,
  id: 'e1',
  type: 'page.view',
  ts: new Date(NOW.getTime() - 60_000).toISOString(),
  tenant: 'acme',
  user: 'u1',
}
/** One message per outcome, run before the random ones: every outcome is exercised on every run. */
const OUTCOME_EXAMPLES: (Buffer | null)[] = [
  json(sample),
  null,
  json({ ...sample, pad: 'x'.repeat(3000) }),
  Buffer.from('{"v":'),
  json({ ...sample, v: 2 }),
  json({ ...sample, type: 'no.such_type' }),
  json({ ...sample, ts: new Date(NOW.getTime() + day).toISOString() }),
  json({ ...sample, ts: '2020-01-01T00:00:00Z' }),
  json({ ...sample, user: 'erased' }),
]
/** Instrumented runs (mutation testing) on a busy machine are slow: a generous per-test limit. */
const PROPERTY_TIMEOUT_MS = 60_000

function messages(values: (Buffer | null)[]): KafkaMessage[] {
  return values.map(
    (value, i) =>
      ({
        offset: String(i),
        timestamp: String(NOW.getTime() - 1000),
        key: null,
        value,
        attributes: 0,
        headers: {},
      }) as KafkaMessage,
  )
}

describe('property: parse, validate and enrich any input', () => {
  it(
    'parseMessage never throws and returns exactly one documented outcome',
    () => {
      const seen = new Set<string>()
      fc.assert(
        fc.property(messageValue, (value) => {
          const result = parseMessage(value, limits, NOW)
          seen.add(result.kind === 'ok' ? 'ok' : result.reason)
          if (result.kind === 'dlq') expect(DLQ_REASONS).toContain(result.reason)
          else if (result.kind === 'drop') expect(DROP_REASONS).toContain(result.reason)
          else expect(result.kind).toBe('ok')
        }),
        { numRuns: 500, examples: OUTCOME_EXAMPLES.map((value) => [value] as [Buffer | null]) },
      )
      // The generators reach every outcome the parser has (else the property proves little).
      expect([...seen].sort()).toEqual(
        ['ok', ...DLQ_REASONS.filter((r) => r !== 'enrich_failed'), 'past_retention'].sort(),
      )
    },
    PROPERTY_TIMEOUT_MS,
  )

  it(
    'planBatch: every message is exactly one of indexed / dead-lettered / dropped',
    () => {
      const seen = new Set<string>()
      fc.assert(
        fc.property(fc.array(messageValue, { maxLength: 20 }), (values) => {
          const plan = planBatch('events', 0, messages(values), context, NOW)
          if (plan.index.length > 0) seen.add('indexed')
          for (const reason of Object.keys(plan.dropped)) seen.add(reason)
          const dropped = Object.values(plan.dropped).reduce((a, b) => a + (b ?? 0), 0)
          expect(plan.index.length + plan.dlq.length + dropped).toBe(values.length)
          // Each dead letter and each document points at its own, distinct message.
          const offsets = [...plan.index.map((r) => r.ref.offset), ...plan.dlq.map((r) => r.origin.offset)]
          expect(new Set(offsets).size).toBe(offsets.length)
          for (const record of plan.dlq) {
            expect(DLQ_REASONS).toContain(record.reason)
            // The original bytes survive, so the record can be replayed.
            const original = values[Number(record.origin.offset)]
            const restored =
              record.payload === null ? null : Buffer.from(record.payload, record.payload_encoding)
            expect(restored?.equals(original ?? Buffer.alloc(0)) ?? original === null).toBe(true)
          }
          for (const reason of Object.keys(plan.dropped)) expect(DROP_REASONS).toContain(reason)
          for (const request of plan.index) {
            const doc = request.document as { organization: { id: string }; event: { id: string } }
            expect(request.id).toBe(documentId(doc.organization.id, doc.event.id))
            // Short by day, long by month, ECS-named (core/indices.ts).
            expect(request.index).toMatch(
              /^spor-(short-ecs-\d{4}\.\d{2}\.\d{2}|long-ecs-month-\d{4}\.\d{2}\.01)$/,
            )
            expect((request.document as { user?: { id?: string } }).user?.id).not.toBe('erased')
          }
        }),
        { numRuns: 200, examples: [[OUTCOME_EXAMPLES]] },
      )
      expect([...seen].sort()).toEqual(['indexed', 'past_retention', 'subject_erased'])
    },
    PROPERTY_TIMEOUT_MS,
  )

  it(
    'planBatch is deterministic: a replayed batch writes byte-identical documents',
    () => {
      fc.assert(
        fc.property(fc.array(messageValue, { maxLength: 10 }), (values) => {
          const first = planBatch('events', 0, messages(values), context, NOW)
          // Processed 5 s later (a replay after a crash): the same documents, byte for byte. An
          // event that crossed a retention or future-skew boundary meanwhile may differ in outcome.
          const again = planBatch('events', 0, messages(values), context, new Date(NOW.getTime() + 5000))
          const before = new Map(
            first.index.map((r) => [r.ref.offset, JSON.stringify([r.index, r.id, r.document])]),
          )
          for (const r of again.index) {
            const earlier = before.get(r.ref.offset)
            if (earlier !== undefined) expect(JSON.stringify([r.index, r.id, r.document])).toBe(earlier)
          }
        }),
        { numRuns: 100, examples: [[OUTCOME_EXAMPLES]] },
      )
    },
    PROPERTY_TIMEOUT_MS,
  )
})
