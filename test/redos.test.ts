import { performance } from 'node:perf_hooks'
import { afterAll, describe, expect, it } from 'vitest'
import { validateEvent } from '../core/event-schema.ts'
import { classOf, DEFAULT_EVENT_TYPES } from '../core/event-types.ts'
import { parseKeyText } from '../core/keys.ts'
import { redactUrl } from '../core/redact.ts'
import { verifyWebhook } from '../detect/webhook.ts'
import { canonicalIp } from '../enrich/ip.ts'
import { createUserAgentParser } from '../enrich/user-agent.ts'
import {
  clientHintsFromHeaders,
  normaliseAddress,
  parseBrandList,
} from '../ingest/collector/request-context.ts'
import { csvSafeText, parseCsv } from '../privacy/export-format.ts'

/**
 * The ReDoS table: every parser that reads an attacker-controlled string, fed the inputs known to
 * make backtracking or re-scanning parsers blow up, at two sizes 16× apart. A linear parser (or
 * one that caps its input first) grows at most ~16×; a quadratic one ~256×. The bound is 64× the
 * smaller run plus a small constant for timer noise, and the best of several runs is taken, so
 * the test fails on the shape of the cost, not on a slow moment of a shared machine.
 */
const parseUa = createUserAgentParser({ cacheSize: 0 })
const SMALL = 2_000
const GROWTH = 16
const NOISE_MS = 5

interface Row {
  parser: string
  input: string
  run: (n: number) => unknown
}

const repeat = (s: string, n: number) => s.repeat(Math.ceil(n / s.length)).slice(0, n)

const ROWS: Row[] = [
  // The finding: thousands of escaped quotes made the old regex re-scan from every quote.
  { parser: 'sec-ch-ua brand list', input: '"\\" × n', run: (n) => parseBrandList(`"${repeat('\\"', n)}`) },
  {
    parser: 'sec-ch-ua brand list',
    input: '"a";v="1" × n, no commas',
    run: (n) => parseBrandList(repeat('"a";v="1"', n)),
  },
  {
    parser: 'sec-ch-ua brand list',
    input: '";;;" × n',
    run: (n) => parseBrandList(`"x"${repeat(';v=', n)}`),
  },
  {
    parser: 'client hints headers',
    input: 'every header "\\"…',
    run: (n) => {
      const v = `"${repeat('\\"', n)}`
      return clientHintsFromHeaders({
        'sec-ch-ua': v,
        'sec-ch-ua-full-version-list': v,
        'sec-ch-ua-platform': v,
        'sec-ch-ua-platform-version': v,
        'sec-ch-ua-model': v,
        'sec-ch-ua-mobile': v,
      })
    },
  },
  {
    parser: 'X-Forwarded-For address',
    input: '[:::: × n',
    run: (n) => normaliseAddress(`[${repeat(':', n)}]:1`),
  },
  { parser: 'IP canonicaliser', input: '1.1.1.1.… × n', run: (n) => canonicalIp(repeat('1.', n)) },
  {
    parser: 'User-Agent',
    input: 'Mozilla/5.0 (… × n',
    run: (n) => parseUa(`Mozilla/5.0 ${repeat('(Windows; ', n)}`),
  },
  { parser: 'User-Agent', input: 'spaces × n', run: (n) => parseUa(`Mozilla/5.0 ${' '.repeat(n)}x`) },
  {
    parser: 'event type',
    input: 'a.a.a… × n!',
    run: (n) => classOf(DEFAULT_EVENT_TYPES, `${repeat('a.', n)}!`),
  },
  {
    parser: 'event schema (ids, ts)',
    input: 'id "a-a-…!", ts "2026…"',
    run: (n) =>
      validateEvent({
        v: 1,
        id: `${repeat('a-', n)}!`,
        type: 'page.view',
        ts: repeat('2026-', n),
        tenant: 'acme',
      }),
  },
  {
    parser: 'API / ingest key',
    input: 'spor_ik_ + n chars',
    run: (n) => parseKeyText(`spor_ik_${repeat('a', n)}`),
  },
  {
    parser: 'webhook signature',
    input: 't=111… × n',
    run: (n) => verifyWebhook('0123456789abcdef', `t=${repeat('1', n)},v1=x`, '{}'),
  },
  {
    parser: 'URL redaction',
    input: 'http://a:a:a:…@ × n',
    run: (n) => redactUrl(`http://${repeat('a:', n)}@h/${repeat('?t=', n)}`),
  },
  { parser: 'CSV cell guard', input: '-1111…e × n', run: (n) => csvSafeText(`-${repeat('1', n)}e`) },
  { parser: 'CSV reader', input: '""" × n', run: (n) => parseCsv(repeat('"""",', n)) },
]

function bestOf(runs: number, fn: () => unknown): number {
  let best = Number.POSITIVE_INFINITY
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    fn()
    best = Math.min(best, performance.now() - start)
  }
  return best
}

describe('ReDoS table: attacker-controlled strings cost linear time', () => {
  const table: string[] = []
  afterAll(() =>
    console.info(`ReDoS table (best run, n=${SMALL} → n=${SMALL * GROWTH}):\n${table.join('\n')}`),
  )
  it.each(ROWS)('$parser: $input', ({ parser, input, run }) => {
    run(SMALL) // warm up (JIT, caches of compiled regexes)
    const small = bestOf(5, () => run(SMALL))
    const large = bestOf(5, () => run(SMALL * GROWTH))
    table.push(`| ${parser} | ${input} | ${small.toFixed(3)} ms | ${large.toFixed(3)} ms |`)
    expect(large).toBeLessThan(small * 4 * GROWTH + NOISE_MS)
  })
})
