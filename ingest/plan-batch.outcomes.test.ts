import type { KafkaMessage } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { DEFAULT_EVENT_TYPES } from '../core/event-types.ts'
import { DEFAULT_RETENTION_DAYS } from '../core/retention.ts'
import { createEnrichers } from '../enrich/index.ts'
import { documentId, messageOrigin, type PlanContext, planBatch, recordTime } from './plan-batch.ts'

/** Each outcome of planBatch pinned exactly: drops counted by reason, enrich failures, origins. */

const NOW = new Date('2026-11-25T10:00:01Z')
const real = createEnrichers({ uaCacheSize: 10, pseudonymKey: Buffer.alloc(32, 7) })
const base: PlanContext = {
  limits: {
    maxEventBytes: 64 * 1024,
    maxFutureSkewMs: 3_600_000,
    eventTypes: DEFAULT_EVENT_TYPES,
    retentionDays: DEFAULT_RETENTION_DAYS,
  },
  enrichers: real,
  indexPrefix: 'spor',
}
const event = (id: string, extra: object = {}) => ({
  v: 1,
  id,
  type: 'page.view',
  ts: '2026-11-25T09:59:58Z',
  tenant: 'acme',
  user: 'u1',
  ...extra,
})
function message(offset: string, value: object | string | null, key: string | null = null): KafkaMessage {
  return {
    offset,
    timestamp: '1795600800000',
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    attributes: 0,
    headers: {},
  } as KafkaMessage
}

describe('planBatch outcomes', () => {
  it('drops events of erased subjects, counted, and asks only about valid events', () => {
    const asked: string[] = []
    const context = {
      ...base,
      isErased: (tenant: string, user: string) => {
        asked.push(`${tenant}/${user}`)
        return user === 'gone'
      },
    }
    const plan = planBatch(
      'events',
      0,
      [
        message('1', event('a', { user: 'gone' })),
        message('2', event('b', { user: 'gone' })),
        message('3', event('c')),
        message('4', 'not json'),
        message('5', event('d', { user: undefined, session: 's1' })),
      ],
      context,
      NOW,
    )
    expect(plan.dropped).toEqual({ subject_erased: 2 })
    expect(plan.index.map((r) => r.id)).toEqual(['acme:c', 'acme:d'])
    expect(plan.dlq.map((r) => r.reason)).toEqual(['invalid_json'])
    // Anonymous events and dead letters never reach the tombstone check.
    expect(asked).toEqual(['acme/gone', 'acme/gone', 'acme/u1'])
  })

  it('counts events past their retention as dropped, one per event', () => {
    const old = '2020-01-01T00:00:00Z'
    const plan = planBatch(
      'events',
      0,
      [
        message('1', event('a', { ts: old })),
        message('2', event('b', { ts: old })),
        message('3', event('c')),
      ],
      base,
      NOW,
    )
    expect(plan.dropped).toEqual({ past_retention: 2 })
    expect(plan.index).toHaveLength(1)
    expect(plan.dlq).toEqual([])
  })

  it('dead-letters an event whose enrichment throws, with the original bytes, and keeps the rest', () => {
    const context = {
      ...base,
      enrichers: {
        ...real,
        parseUserAgent: (ua: string | undefined) => {
          if (ua === 'boom') throw new Error('parser exploded')
          return real.parseUserAgent(ua)
        },
      },
    }
    const bad = event('bad', { device: { ua: 'boom' } })
    const plan = planBatch('events', 2, [message('7', bad, 'k1'), message('8', event('good'))], context, NOW)
    expect(plan.index.map((r) => r.id)).toEqual(['acme:good'])
    expect(plan.dlq).toEqual([
      {
        reason: 'enrich_failed',
        detail: 'parser exploded',
        step: 'enrich_event',
        failed_at: NOW.toISOString(),
        origin: {
          topic: 'events',
          partition: 2,
          offset: '7',
          key: 'k1',
          timestamp: '2026-11-25T10:00:00.000Z',
        },
        payload: JSON.stringify(bad),
        payload_encoding: 'utf8',
      },
    ])
  })

  it('carries the message key (or null) and its origin into every outcome', () => {
    const plan = planBatch('events', 1, [message('1', event('a'), 'acme:u1'), message('2', null)], base, NOW)
    // An indexed document keeps its message; the origin is derived if it is dead-lettered later.
    expect(plan.index[0]!.ref.offset).toBe('1')
    expect(messageOrigin('events', 1, plan.index[0]!.ref, NOW)).toEqual({
      topic: 'events',
      partition: 1,
      offset: '1',
      key: 'acme:u1',
      timestamp: '2026-11-25T10:00:00.000Z',
    })
    expect(plan.index[0]!.index).toBe('spor-short-ecs-2026.11.25')
    expect(plan.dlq[0]!.origin.key).toBeNull()
    expect(plan.dlq[0]).toMatchObject({ reason: 'empty_message', payload: null })
  })
})

describe('documentId and recordTime', () => {
  it('document ids are tenant:eventId', () => {
    expect(documentId('acme', 'e-1')).toBe('acme:e-1')
    expect(documentId('a', 'b:c')).toBe('a:b:c')
  })

  it('a zero timestamp is no timestamp; one millisecond after the epoch is', () => {
    expect(recordTime({ timestamp: '0' }, NOW)).toBe(NOW)
    expect(recordTime({ timestamp: '1' }, NOW).getTime()).toBe(1)
  })
})
