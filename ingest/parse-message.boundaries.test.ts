import { describe, expect, it } from 'vitest'
import { DEFAULT_EVENT_TYPES } from '../core/event-types.ts'
import { DEFAULT_RETENTION_DAYS } from '../core/retention.ts'
import { parseMessage } from './parse-message.ts'

/** The exact limits and the exact dead-letter records of parseMessage (steps, details). */

const now = new Date('2026-11-25T12:00:00Z')
const limits = {
  maxEventBytes: 200,
  maxFutureSkewMs: 600_000,
  eventTypes: DEFAULT_EVENT_TYPES,
  retentionDays: DEFAULT_RETENTION_DAYS,
}
const valid = { v: 1, id: 'e1', type: 'page.view', ts: '2026-11-25T11:59:00Z', tenant: 'acme', session: 's' }

/** A valid event serialised to exactly `size` bytes (padding in the session id). */
function ofSize(size: number): Buffer {
  const bare = Buffer.byteLength(JSON.stringify({ ...valid, session: '' }))
  return Buffer.from(JSON.stringify({ ...valid, session: 's'.repeat(size - bare) }))
}

describe('parseMessage limits and records', () => {
  it('takes an event of exactly maxEventBytes and dead-letters one byte more', () => {
    expect(ofSize(200).length).toBe(200)
    expect(parseMessage(ofSize(200), limits, now).kind).toBe('ok')
    expect(parseMessage(ofSize(201), limits, now)).toEqual({
      kind: 'dlq',
      reason: 'oversized',
      detail: '201 bytes exceeds the limit of 200',
      step: 'parse_message',
    })
  })

  it('names the parse step and says why for empty and undecodable messages', () => {
    expect(parseMessage(null, limits, now)).toEqual({
      kind: 'dlq',
      reason: 'empty_message',
      detail: 'message has no value',
      step: 'parse_message',
    })
    expect(parseMessage(Buffer.from('{'), limits, now)).toMatchObject({
      kind: 'dlq',
      reason: 'invalid_json',
      step: 'parse_message',
      detail: expect.stringMatching(/JSON/),
    })
  })

  it('lists every schema issue with its path, joined by "; ", from the check step', () => {
    const result = parseMessage(Buffer.from(JSON.stringify({ ...valid, v: 2, user: 42 })), limits, now)
    expect(result).toMatchObject({ kind: 'dlq', reason: 'schema_violation', step: 'check_event' })
    const detail = (result as { detail: string }).detail
    expect(detail.split('; ').length).toBeGreaterThanOrEqual(2)
    expect(detail).toMatch(/\/v /)
    expect(detail).toMatch(/\/user /)
  })

  it('says which type is unknown', () => {
    expect(parseMessage(Buffer.from(JSON.stringify({ ...valid, type: 'made.up' })), limits, now)).toEqual({
      kind: 'dlq',
      reason: 'unknown_type',
      detail: 'event type "made.up" is not in the event type table',
      step: 'check_event',
    })
  })

  it('accepts ts exactly maxFutureSkewMs ahead and dead-letters one millisecond more', () => {
    const at = (ms: number) =>
      Buffer.from(JSON.stringify({ ...valid, ts: new Date(now.getTime() + ms).toISOString() }))
    expect(parseMessage(at(600_000), limits, now).kind).toBe('ok')
    expect(parseMessage(at(600_001), limits, now)).toEqual({
      kind: 'dlq',
      reason: 'ts_in_future',
      detail: 'ts 2026-11-25T12:10:00.001Z is more than 600000 ms ahead of 2026-11-25T12:00:00.000Z',
      step: 'check_event',
    })
  })
})
