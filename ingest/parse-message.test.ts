import { describe, expect, it } from 'vitest'
import { DEFAULT_EVENT_TYPES } from '../core/event-types.ts'
import { DEFAULT_RETENTION_DAYS } from '../core/retention.ts'
import { parseMessage } from './parse-message.ts'

const now = new Date('2026-11-25T12:00:00Z')
const limits = {
  maxEventBytes: 2048,
  maxFutureSkewMs: 600_000,
  eventTypes: DEFAULT_EVENT_TYPES,
  retentionDays: DEFAULT_RETENTION_DAYS,
}
const valid = { v: 1, id: 'e1', type: 'page.view', ts: '2026-11-25T11:59:00Z', tenant: 'acme', session: 's' }
const bytes = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))

describe('parseMessage', () => {
  it.each([
    ['no value', null, 'dlq', 'empty_message'],
    ['empty value', Buffer.alloc(0), 'dlq', 'empty_message'],
    ['not JSON', bytes('{"v":1,'), 'dlq', 'invalid_json'],
    ['a JSON array', bytes([valid]), 'dlq', 'schema_violation'],
    ['wrong types', bytes({ ...valid, v: '1', user: 42 }), 'dlq', 'schema_violation'],
    ['missing tenant', bytes({ ...valid, tenant: undefined }), 'dlq', 'schema_violation'],
    ['unknown field', bytes({ ...valid, password: 'hunter2' }), 'dlq', 'schema_violation'],
    ['bad IP', bytes({ ...valid, ip: '999.1.1.1' }), 'dlq', 'schema_violation'],
    ['unknown type', bytes({ ...valid, type: 'made.up' }), 'dlq', 'unknown_type'],
    [
      'oversized',
      bytes({ ...valid, props: { a: 'x'.repeat(250) }, pad: 'y'.repeat(3000) }),
      'dlq',
      'oversized',
    ],
    ['11 minutes in the future', bytes({ ...valid, ts: '2026-11-25T12:11:00Z' }), 'dlq', 'ts_in_future'],
    ['short class, 22 days old', bytes({ ...valid, ts: '2026-11-03T10:00:00Z' }), 'drop', 'past_retention'],
    [
      'long class, 22 days old',
      bytes({ ...valid, type: 'job.start', ts: '2026-11-03T10:00:00Z' }),
      'ok',
      undefined,
    ],
    [
      'long class, 366 days old',
      bytes({ ...valid, type: 'admin.user_invite', ts: '2025-11-24T10:00:00Z' }),
      'drop',
      'past_retention',
    ],
    ['valid', bytes(valid), 'ok', undefined],
  ])('%s → %s %s', (_name, value, kind, reason) => {
    const result = parseMessage(value as Buffer | null, limits, now)
    expect(result.kind).toBe(kind)
    if (result.kind !== 'ok') expect(result.reason).toBe(reason)
  })

  it('classifies by the type table, wildcards included', () => {
    const result = parseMessage(bytes({ ...valid, type: 'admin.role_change' }), limits, now)
    expect(result.kind === 'ok' && result.value.cls).toBe('long')
  })

  it('names the offending fields in the reason detail', () => {
    const result = parseMessage(bytes({ ...valid, v: '1', extra: 1 }), limits, now)
    expect(result.kind === 'dlq' && result.detail).toMatch(/\/v .*|extra/)
  })
})
