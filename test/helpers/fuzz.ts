import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { deflateSync, gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { IDENTIFIER_PATTERN } from '../../core/event-schema.ts'
import { DEFAULT_EVENT_TYPES } from '../../core/event-types.ts'

/**
 * Arbitraries for fuzzing spor's public surfaces: schema-driven events (valid ones, and ones with
 * one field replaced by anything), hostile JSON, encodings (gzip, deflate, broken, bombs),
 * header values and query strings. Shared by the collector, query and Kafka-side fuzz tests.
 */
const identifier = fc
  .stringMatching(new RegExp(IDENTIFIER_PATTERN), { maxLength: 40 })
  .filter((s) => s.length > 0 && s.length <= 128)
const KNOWN_TYPES = Object.keys(DEFAULT_EVENT_TYPES).map((t) => t.replace('.*', '.anything'))

/** Events as the contract (core/event-schema.ts) allows them: most pass validation. */
export const eventArb = (tenant: string) =>
  fc.record(
    {
      v: fc.constant(1),
      id: identifier,
      type: fc.constantFrom(...KNOWN_TYPES, 'page.view', 'page.view', 'feature.use', 'no.such_type'),
      ts: fc.integer({ min: -5 * 3_600_000, max: 60_000 }).map((d) => new Date(Date.now() + d).toISOString()),
      tenant: fc.constantFrom(tenant, tenant, tenant, 'other-tenant'),
      user: identifier,
      session: identifier,
      username: fc.string({ minLength: 1, maxLength: 80 }),
      module: identifier.map((s) => s.slice(0, 64)),
      function: identifier.map((s) => s.slice(0, 64)),
      object: fc.record({ type: identifier.map((s) => s.slice(0, 64)), id: identifier }),
      props: fc.dictionary(
        fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/),
        fc.oneof(fc.string({ maxLength: 50 }), fc.integer(), fc.boolean()),
        { maxKeys: 5 },
      ),
      device: fc.record(
        {
          ua: fc.string({ maxLength: 300 }),
          deviceId: identifier,
          screen: fc.record({ w: fc.integer({ min: 1, max: 8000 }), h: fc.integer({ min: 1, max: 8000 }) }),
          network: fc.record({ type: fc.constantFrom('wifi', 'cellular', 'ethernet', 'other') }),
        },
        { requiredKeys: [] },
      ),
      position: fc.record({
        lat: fc.double({ min: -90, max: 90, noNaN: true }),
        lon: fc.double({ min: -180, max: 180, noNaN: true }),
      }),
    },
    { requiredKeys: ['v', 'id', 'type', 'ts'] },
  )

/** A valid-looking event with one field replaced by an arbitrary value (or removed). */
export const mutatedEventArb = (tenant: string) =>
  fc
    .tuple(
      eventArb(tenant),
      fc.constantFrom('v', 'id', 'type', 'tenant', 'user', 'props', 'device', 'object', 'position', 'module'),
      fc.oneof(fc.anything(), fc.constant(undefined)),
    )
    .map(([event, field, value]) => ({ ...event, [field]: value }))

const hostileObject = fc.oneof(
  fc.constant(JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}')),
  fc.constant({ toString: 'x', valueOf: 'y', hasOwnProperty: 'z' }),
  fc.integer({ min: 1, max: 2000 }).map((depth) => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`)),
)

export const hostileEventArb = (tenant: string) =>
  fc.oneof(
    { weight: 4, arbitrary: eventArb(tenant) },
    { weight: 3, arbitrary: mutatedEventArb(tenant) },
    { weight: 1, arbitrary: fc.anything() },
    { weight: 1, arbitrary: hostileObject },
  )

/** Bodies as bytes with the headers that describe them (or lie about them). */
export interface FuzzBody {
  payload: Buffer | string
  headers: Record<string, string>
  kind: string
}

const BOMB = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20)) // 8 MiB of spaces, ~8 KiB compressed

export const bodyArb = (tenant: string): fc.Arbitrary<FuzzBody> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(
          fc.oneof(
            // Batches of contract events with some mutated ones, and wholly hostile batches (one
            // prototype-poisoning key fails the whole body's JSON parse, by design).
            fc.array(
              fc.oneof(
                { weight: 5, arbitrary: eventArb(tenant) },
                { weight: 1, arbitrary: mutatedEventArb(tenant) },
              ),
              {
                minLength: 0,
                maxLength: 30,
              },
            ),
            fc.array(hostileEventArb(tenant), { minLength: 0, maxLength: 30 }),
          ),
          fc.constantFrom('identity', 'gzip', 'deflate'),
        )
        .map(([events, encoding]) => {
          const json = Buffer.from(JSON.stringify({ events }))
          const payload =
            encoding === 'gzip' ? gzipSync(json) : encoding === 'deflate' ? deflateSync(json) : json
          return {
            payload,
            headers: {
              'content-type': 'application/json',
              ...(encoding === 'identity' ? {} : { 'content-encoding': encoding }),
            },
            kind: `events/${encoding}`,
          }
        }),
    },
    {
      weight: 1,
      arbitrary: fc
        .json()
        .map((j) => ({ payload: j, headers: { 'content-type': 'application/json' }, kind: 'json' })),
    },
    {
      weight: 1,
      arbitrary: fc
        .string({ maxLength: 500 })
        .map((s) => ({ payload: s, headers: { 'content-type': 'application/json' }, kind: 'garbage' })),
    },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 500 }).map((b) => ({
        payload: Buffer.from(b),
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        kind: 'bad-gzip',
      })),
    },
    {
      weight: 1,
      arbitrary: fc.constant({
        payload: BOMB,
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        kind: 'gzip-bomb',
      }),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom('br', 'gzip, gzip', 'x-unknown', 'identity;q=0').map((enc) => ({
        payload: '{"events":[]}',
        headers: { 'content-type': 'application/json', 'content-encoding': enc },
        kind: 'odd-encoding',
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/json; charset=utf-16',
          '',
        )
        .map((ct) => ({
          payload: '{"events":[{"v":1}]}',
          headers: { 'content-type': ct },
          kind: 'odd-content-type',
        })),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 501, max: 3000 }).map((n) => ({
        payload: JSON.stringify({ events: Array.from({ length: n }, () => ({})) }),
        headers: { 'content-type': 'application/json' },
        kind: 'too-many-events',
      })),
    },
  )

export const headerValueArb = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: fc.constantFrom('"', '\\', ';', ',', '=', 'v', ' ', 'a'), maxLength: 6000 }),
  fc.constantFrom('garbage', 'unknown', '[2001:db8::1]:443', '::ffff:1.2.3.4', '1.2.3.4:80', '999.1.1.1', ''),
)

export const queryStringArb = fc
  .dictionary(
    fc.oneof(
      fc.constantFrom(
        'from',
        'to',
        'tenant',
        'module',
        'source',
        'metric',
        'interval',
        'by',
        'limit',
        'offset',
        'format',
        'requested_by',
        'status',
        'rule',
        'size',
        '__proto__',
      ),
      fc.string({ maxLength: 10 }),
    ),
    fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom(
        'raw',
        'rollup',
        'auto',
        '2026-11-30',
        '9999-99-99',
        '-1',
        '1e308',
        'users',
        'day',
        'tenant',
        'csv',
        'ndjson',
        '%00',
        '../../',
      ),
    ),
    { maxKeys: 5 },
  )
  .map((params) =>
    Object.entries(params)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join('&'),
  )

/** Heap in use after a full collection (v8's gc made callable for this measurement). */
export function heapAfterGc(): number {
  setFlagsFromString('--expose_gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** Control characters (C0 and DEL): header values Node refuses to send, so the fuzzers leave them out. */
export function hasControlChar(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code < 0x20 || code === 0x7f) return true
  }
  return false
}
