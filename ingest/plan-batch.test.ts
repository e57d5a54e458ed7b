import type { KafkaMessage } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { DEFAULT_EVENT_TYPES } from '../core/event-types.ts'
import { DEFAULT_RETENTION_DAYS } from '../core/retention.ts'
import { createEnrichers } from '../enrich/index.ts'
import { planBatch, recordTime } from './plan-batch.ts'

const context = {
  limits: {
    maxEventBytes: 64 * 1024,
    maxFutureSkewMs: 3_600_000,
    eventTypes: DEFAULT_EVENT_TYPES,
    retentionDays: DEFAULT_RETENTION_DAYS,
  },
  enrichers: createEnrichers({ uaCacheSize: 10, pseudonymKey: Buffer.alloc(32, 7) }),
  indexPrefix: 'spor',
}

function message(offset: string, value: object | string, timestamp = '1795600800000'): KafkaMessage {
  const body = typeof value === 'string' ? value : JSON.stringify(value)
  return {
    offset,
    timestamp,
    key: null,
    value: Buffer.from(body),
    attributes: 0,
    headers: {},
  } as KafkaMessage
}

const login = {
  v: 1,
  id: 'e1',
  type: 'session.login',
  ts: '2026-11-25T09:59:58Z',
  tenant: 'acme',
  user: 'u1',
  ip: '84.208.20.110',
  device: { ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0' },
}

describe('planBatch', () => {
  it("names each document's subject (tenant and user) for the erasure check before a resend", () => {
    const anonymous: Record<string, unknown> = { ...login, id: 'e3' }
    delete anonymous.user
    const batch = [
      message('1', login),
      message('2', anonymous),
      message('3', { ...login, id: 'e4', user: 'u2' }),
    ]
    const plan = planBatch('spor.events.v1', 0, batch, context, new Date('2026-11-25T10:00:01Z'))
    expect(plan.index.map((r) => r.subject)).toEqual([
      { tenant: 'acme', user: 'u1' },
      undefined,
      { tenant: 'acme', user: 'u2' },
    ])
    // The same people as in the documents (user.id, organization.id).
    for (const r of plan.index) {
      const doc = r.document as { organization: { id: string }; user?: { id: string } }
      expect(r.subject?.user).toBe(doc.user?.id)
      if (r.subject) expect(r.subject.tenant).toBe(doc.organization.id)
    }
  })

  it('plans the same documents for a record however late it is reprocessed', () => {
    const batch = [message('10', login), message('11', { ...login, id: 'e2', type: 'job.start' })]
    const first = planBatch('spor.events.v1', 0, batch, context, new Date('2026-11-25T10:00:01Z'))
    const later = planBatch('spor.events.v1', 0, batch, context, new Date('2026-11-26T08:30:00Z'))
    expect(first.index).toHaveLength(2)
    expect(later.index.map((r) => r.document)).toEqual(first.index.map((r) => r.document))
    expect(first.index[0]!.document).toMatchObject({ event: { ingested: '2026-11-25T10:00:00.000Z' } })
  })

  it('turns every message into exactly one of a document, a dead letter or a drop', () => {
    const batch = [message('1', login), message('2', 'not json'), message('3', { ...login, type: 'no.such' })]
    const plan = planBatch('spor.events.v1', 3, batch, context, new Date('2026-11-25T10:00:01Z'))
    expect(plan.index.map((r) => r.ref.offset)).toEqual(['1'])
    expect(plan.dlq.map((r) => r.origin.offset).sort()).toEqual(['2', '3'])
    expect(plan.dlq[0]!.origin).toMatchObject({ topic: 'spor.events.v1', partition: 3 })
  })
})

describe('recordTime', () => {
  it("is the record's timestamp, or the processing time when the record has none", () => {
    const now = new Date('2026-11-25T10:00:00Z')
    expect(recordTime({ timestamp: '1795600800000' }, now).toISOString()).toBe('2026-11-25T10:00:00.000Z')
    expect(recordTime({ timestamp: '-1' }, now)).toBe(now)
    expect(recordTime({ timestamp: 'x' }, now)).toBe(now)
  })
})
