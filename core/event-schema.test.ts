import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { eventJsonSchema, validateEvent } from './event-schema.ts'

describe('event contract v1', () => {
  it('the published JSON Schema file is the one the code validates with (`npm run schema` regenerates it)', () => {
    const published = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', 'schema', 'event.v1.json'), 'utf8'),
    )
    expect(published).toEqual(eventJsonSchema())
  })

  it.each([
    [
      'minimal anonymous page view',
      { v: 1, id: 'e1', type: 'page.view', ts: '2026-11-25T10:00:00Z', tenant: 'acme', session: 's' },
      true,
    ],
    [
      'login with device and position',
      {
        v: 1,
        id: 'e2',
        type: 'session.login',
        ts: '2026-11-25T10:00:00.123+01:00',
        tenant: 'acme',
        user: 'u1',
        username: 'ola@acme.example',
        ip: '2a02:2121:1::1',
        device: { ua: 'Mozilla/5.0', ch: { platform: 'Linux', platformVersion: '' }, deviceId: 'd1' },
        position: { lat: 59.9, lon: 10.7, accuracyM: 12 },
      },
      true,
    ],
    ['version 2', { v: 2, id: 'e', type: 'page.view', ts: '2026-11-25T10:00:00Z', tenant: 'acme' }, false],
    [
      'tenant with capitals',
      { v: 1, id: 'e', type: 'page.view', ts: '2026-11-25T10:00:00Z', tenant: 'Acme' },
      false,
    ],
    [
      'type without a dot',
      { v: 1, id: 'e', type: 'login', ts: '2026-11-25T10:00:00Z', tenant: 'acme' },
      false,
    ],
    [
      'latitude out of range',
      {
        v: 1,
        id: 'e',
        type: 'page.view',
        ts: '2026-11-25T10:00:00Z',
        tenant: 'acme',
        position: { lat: 91, lon: 0 },
      },
      false,
    ],
    [
      'props with an object value',
      {
        v: 1,
        id: 'e',
        type: 'page.view',
        ts: '2026-11-25T10:00:00Z',
        tenant: 'acme',
        props: { a: { b: 1 } },
      },
      false,
    ],
    [
      'too many props',
      {
        v: 1,
        id: 'e',
        type: 'page.view',
        ts: '2026-11-25T10:00:00Z',
        tenant: 'acme',
        props: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`p${i}`, i])),
      },
      false,
    ],
  ])('%s → valid: %s', (_name, event, valid) => {
    expect(validateEvent(event).ok).toBe(valid)
  })
})
