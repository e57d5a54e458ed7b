import { describe, expect, it } from 'vitest'
import type { SporEvent } from '../core/event-schema.ts'
import { SHORT_ONLY_FIELDS } from '../ilm-policies/mappings.ts'
import { enrichEvent } from './enrich-event.ts'
import { createEnrichers } from './index.ts'

const enrichers = createEnrichers({ uaCacheSize: 10, pseudonymKey: Buffer.alloc(32, 7) })
const received = new Date('2026-11-25T12:00:01Z')
const event: SporEvent = {
  v: 1,
  id: 'e1',
  type: 'session.login',
  ts: '2026-11-25T12:00:00Z',
  tenant: 'acme',
  user: 'u1',
  username: 'ola@acme.example',
  session: 's1',
  ip: '84.208.20.110',
  device: {
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
    deviceId: 'd1',
    screen: { w: 1920, h: 1080 },
  },
  position: { lat: 59.91, lon: 10.75, accuracyM: 20 },
}

function paths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix]
  return Object.entries(value).flatMap(([k, v]) => paths(v, prefix ? `${prefix}.${k}` : k))
}

describe('enrichEvent', () => {
  it('builds a short-class document with device, connection and position', () => {
    const doc = enrichEvent(event, 'short', enrichers, received)
    expect(doc).toMatchObject({
      '@timestamp': '2026-11-25T12:00:00.000Z',
      received_at: '2026-11-25T12:00:01.000Z',
      user: { id: 'u1', name: 'ola@acme.example' },
      ua: {
        browser: { name: 'Firefox', major: '121' },
        os: { name: 'Windows' },
        device: { type: 'desktop' },
      },
      device: { id: 'd1', screen: { w: 1920, h: 1080 } },
      source: { ip: '84.208.20.110', ip_prefix: '84.208.20.0', geo: { country: 'NO' } },
      position: { location: { lat: 59.91, lon: 10.75 }, accuracy_m: 20 },
    })
    expect(doc.user?.pseudo).toHaveLength(22)
    expect(doc.device?.pseudo).not.toBe(doc.user?.pseudo)
  })

  it('keeps only "who did what" in a long-class document: no raw IP, username, device or position', () => {
    const doc = enrichEvent({ ...event, type: 'job.start' }, 'long', enrichers, received)
    const present = paths(doc)
    for (const field of SHORT_ONLY_FIELDS) {
      expect(present.some((p) => p === field || p.startsWith(`${field}.`))).toBe(false)
    }
    expect(doc).toMatchObject({
      user: { id: 'u1' },
      source: { ip_prefix: '84.208.20.0', geo: { country: 'NO' } },
    })
    expect(JSON.stringify(doc)).not.toContain('84.208.20.110')
    expect(JSON.stringify(doc)).not.toContain('ola@acme.example')
  })

  it('leaves out what the event does not have', () => {
    const doc = enrichEvent(
      { v: 1, id: 'a', type: 'page.view', ts: event.ts, tenant: 'acme', session: 's' },
      'short',
      enrichers,
      received,
    )
    expect(Object.keys(doc).sort()).toEqual(['@timestamp', 'event', 'received_at', 'session', 'tenant'])
  })
})
