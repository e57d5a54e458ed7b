import { describe, expect, it } from 'vitest'
import { toEcsDocument } from '../core/ecs-fields.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { SHORT_ONLY_FIELDS } from '../ilm-policies/mappings.ts'
import { type Enrichers, enrichEvent } from './enrich-event.ts'
import { createEnrichers } from './index.ts'
import type { GeoInfo, UaInfo } from './types.ts'

const real = createEnrichers({ uaCacheSize: 10, pseudonymKey: Buffer.alloc(32, 7) })
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
  module: 'crm',
  function: 'open',
  object: { type: 'invoice', id: 'i9' },
  ip: '84.208.20.110',
  device: {
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
    deviceId: 'd1',
    screen: { w: 1920, h: 1080 },
    network: { type: 'wifi', id: 'n1' },
  },
  position: { lat: 59.91, lon: 10.75, accuracyM: 20 },
  props: { plan: 'pro' },
}

const FULL_UA: UaInfo = {
  browser: { name: 'Firefox', version: '121.0', major: '121' },
  engine: { name: 'Gecko', version: '121.0' },
  os: { name: 'Windows', version: '10' },
  device: { type: 'desktop', vendor: 'Dell', model: 'XPS' },
  bot: false,
  source: 'ua',
}
const FULL_GEO: GeoInfo = {
  country: 'NO',
  region: 'Oslo County',
  regionIsoCode: 'NO-03',
  city: 'Oslo',
  location: { lat: 59.9, lon: 10.7 },
  accuracyKm: 20,
  timezone: 'Europe/Oslo',
}

/** Pure stand-ins, so each expected document is exact. */
function stubs(ua: UaInfo = FULL_UA, geo: GeoInfo | null = FULL_GEO): Enrichers {
  return {
    parseUserAgent: () => ua,
    lookupGeo: () => geo ?? undefined,
    pseudonym: (tenant, value) => `h(${tenant}|${value})`,
  }
}

function paths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix]
  return Object.entries(value).flatMap(([k, v]) => paths(v, prefix ? `${prefix}.${k}` : k))
}

function hasUndefined(value: unknown): boolean {
  if (value === undefined) return true
  if (value === null || typeof value !== 'object') return false
  return Object.values(value).some(hasUndefined)
}

const META = {
  id: 'e1',
  action: 'session.login',
  kind: 'event',
  category: ['authentication', 'session'],
  ingested: '2026-11-25T12:00:01.000Z',
}

describe('enrichEvent builds the ECS document', () => {
  it('short class: every field, by its ECS or spor.* name', () => {
    const doc = enrichEvent(event, 'short', stubs(), received, 'client')
    expect(doc).toStrictEqual({
      '@timestamp': '2026-11-25T12:00:00.000Z',
      event: META,
      organization: { id: 'acme' },
      user: { id: 'u1', hash: 'h(acme|u1)', name: 'ola@acme.example' },
      source: {
        ip: '84.208.20.110',
        geo: {
          country_iso_code: 'NO',
          region_name: 'Oslo County',
          region_iso_code: 'NO-03',
          city_name: 'Oslo',
          location: { lat: 59.9, lon: 10.7 },
          timezone: 'Europe/Oslo',
        },
      },
      user_agent: {
        original: event.device!.ua,
        name: 'Firefox',
        version: '121.0',
        os: { name: 'Windows', version: '10' },
        device: { name: 'XPS' },
      },
      device: { id: 'd1', manufacturer: 'Dell' },
      spor: {
        event_version: 1,
        origin: 'client',
        session: { id: 's1' },
        module: 'crm',
        function: 'open',
        object: { type: 'invoice', id: 'i9' },
        source: { ip_prefix: '84.208.20.0' },
        geo: { accuracy_km: 20 },
        user_agent: { major: '121', engine: { name: 'Gecko', version: '121.0' }, bot: false, source: 'ua' },
        device: { type: 'desktop', hash: 'h(acme|device:d1)', screen: { w: 1920, h: 1080 } },
        network: { type: 'wifi', id: 'n1' },
        position: { location: { lat: 59.91, lon: 10.75 }, accuracy_m: 20 },
      },
      props: { plan: 'pro' },
    })
  })

  it('long class: only "who did what", a truncated IP and the country', () => {
    const doc = enrichEvent({ ...event, type: 'job.start' }, 'long', stubs(), received, 'server')
    expect(doc).toStrictEqual({
      '@timestamp': '2026-11-25T12:00:00.000Z',
      event: { ...META, action: 'job.start', category: ['process'] },
      organization: { id: 'acme' },
      user: { id: 'u1', hash: 'h(acme|u1)' },
      source: { geo: { country_iso_code: 'NO' } },
      spor: {
        event_version: 1,
        origin: 'server',
        session: { id: 's1' },
        module: 'crm',
        function: 'open',
        object: { type: 'invoice', id: 'i9' },
        source: { ip_prefix: '84.208.20.0' },
      },
      props: { plan: 'pro' },
    })
    const present = paths(doc)
    for (const field of SHORT_ONLY_FIELDS) {
      expect(present.some((p) => p === field || p.startsWith(`${field}.`))).toBe(false)
    }
  })

  it('long class without a country leaves out source; short class without geo keeps the IP', () => {
    const noCountry = stubs(FULL_UA, { city: 'Oslo' })
    const long = enrichEvent({ ...event, type: 'job.start' }, 'long', noCountry, received)
    expect(long.source).toBeUndefined()
    expect(long.spor.source).toEqual({ ip_prefix: '84.208.20.0' })
    const short = enrichEvent(event, 'short', stubs(FULL_UA, null), received)
    expect(short.source).toStrictEqual({ ip: '84.208.20.110' })
    expect(short.spor.geo).toBeUndefined()
    const cityOnly = enrichEvent(event, 'short', noCountry, received)
    expect(cityOnly.source).toStrictEqual({ ip: '84.208.20.110', geo: { city_name: 'Oslo' } })
    expect(cityOnly.spor.geo).toBeUndefined()
    const empty = enrichEvent(event, 'short', stubs(FULL_UA, {}), received)
    expect(empty.source).toStrictEqual({ ip: '84.208.20.110' })
  })

  it('leaves out what the event does not have, and never sets a member to undefined', () => {
    const doc = enrichEvent(
      { v: 1, id: 'a', type: 'abuse.report', ts: event.ts, tenant: 'acme', session: 's', props: {} },
      'short',
      stubs(),
      received,
    )
    expect(doc).toStrictEqual({
      '@timestamp': '2026-11-25T12:00:00.000Z',
      event: { id: 'a', action: 'abuse.report', kind: 'event', ingested: '2026-11-25T12:00:01.000Z' },
      organization: { id: 'acme' },
      spor: { event_version: 1, session: { id: 's' } },
    })
    expect(hasUndefined(doc)).toBe(false)
  })

  it('a login attempt without a user id keeps the username (short only)', () => {
    const attempt = { v: 1 as const, id: 'a', type: 'session.login_failed', ts: event.ts, tenant: 't' }
    const short = enrichEvent({ ...attempt, username: 'x@y' }, 'short', stubs(), received)
    expect(short.user).toStrictEqual({ name: 'x@y' })
    const long = enrichEvent({ ...attempt, username: 'x@y' }, 'long', stubs(), received)
    expect(long.user).toBeUndefined()
  })

  it('a sparse user agent gives only the fields it has', () => {
    const sparse: UaInfo = {
      browser: {},
      engine: {},
      os: {},
      device: { type: 'unknown' },
      bot: true,
      source: 'none',
    }
    const doc = enrichEvent(
      { ...event, device: { ua: undefined as unknown as string, network: {} } },
      'short',
      stubs(sparse),
      received,
    )
    expect(doc.user_agent).toBeUndefined()
    expect(doc.device).toBeUndefined()
    expect(doc.spor.user_agent).toStrictEqual({ bot: true, source: 'none' })
    expect(doc.spor.device).toStrictEqual({ type: 'unknown' })
    expect(doc.spor.network).toBeUndefined()
    expect(hasUndefined(doc)).toBe(false)

    const osVersionOnly = enrichEvent(
      event,
      'short',
      stubs({
        ...sparse,
        os: { version: '14' },
        engine: { version: '1' },
        device: { type: 'mobile', vendor: 'X' },
      }),
      received,
    )
    expect(osVersionOnly.user_agent).toStrictEqual({ original: event.device!.ua, os: { version: '14' } })
    expect(osVersionOnly.spor.user_agent).toStrictEqual({
      engine: { version: '1' },
      bot: true,
      source: 'none',
    })
    expect(osVersionOnly.device).toStrictEqual({ id: 'd1', manufacturer: 'X' })
    const osNameOnly = enrichEvent(
      event,
      'short',
      stubs({ ...sparse, os: { name: 'iOS' }, engine: { name: 'E' } }),
      received,
    )
    expect(osNameOnly.user_agent?.os).toStrictEqual({ name: 'iOS' })
    expect(osNameOnly.spor.user_agent?.engine).toStrictEqual({ name: 'E' })
    const noDeviceId = enrichEvent(
      { ...event, device: { ua: 'x' } },
      'short',
      stubs({ ...sparse, device: { type: 'desktop', vendor: 'V' } }),
      received,
    )
    expect(noDeviceId.device).toStrictEqual({ manufacturer: 'V' })
    expect(noDeviceId.spor.device).toStrictEqual({ type: 'desktop' })
  })

  it('sets only what is there: a user without a username, no session, an unparsable address, a device id without a maker', () => {
    const bare: UaInfo = {
      browser: {},
      engine: {},
      os: {},
      device: { type: 'desktop' },
      bot: false,
      source: 'ua',
    }
    const doc = enrichEvent(
      {
        v: 1,
        id: 'b',
        type: 'page.view',
        ts: event.ts,
        tenant: 't',
        user: 'u',
        ip: 'not-an-ip',
        device: { ua: 'x', deviceId: 'd' },
      },
      'short',
      stubs(bare, null),
      received,
    )
    expect(doc.user).toStrictEqual({ id: 'u', hash: 'h(t|u)' })
    expect(doc.device).toStrictEqual({ id: 'd' })
    expect(doc.source).toStrictEqual({ ip: 'not-an-ip' })
    expect(Object.keys(doc.spor).sort()).toEqual(['device', 'event_version', 'user_agent'])
    expect(hasUndefined(doc)).toBe(false)
    // A long-class document when the address has no geo entry at all.
    const long = enrichEvent({ ...event, type: 'job.start' }, 'long', stubs(FULL_UA, null), received)
    expect(long.source).toBeUndefined()
    expect(hasUndefined(long)).toBe(false)
  })

  it('a position without an accuracy has only the location', () => {
    const doc = enrichEvent({ ...event, position: { lat: 1, lon: 2 } }, 'short', stubs(), received)
    expect(doc.spor.position).toStrictEqual({ location: { lat: 1, lon: 2 } })
  })

  it('a migrated first-shape document equals what ingest writes today (but the origin)', () => {
    const doc = enrichEvent(event, 'short', stubs(), received)
    const asJson = JSON.parse(JSON.stringify(doc))
    expect(toEcsDocument(asJson)).toBe(asJson)
  })

  it('with the real enrichers: parses the agent, looks up the address, pseudonymises per tenant', () => {
    const doc = enrichEvent(event, 'short', real, received)
    expect(doc).toMatchObject({
      user_agent: { name: 'Firefox', os: { name: 'Windows' } },
      spor: { user_agent: { major: '121' }, device: { type: 'desktop' } },
      source: { ip: '84.208.20.110', geo: { country_iso_code: 'NO' } },
    })
    expect(doc.user?.hash).toHaveLength(22)
    expect(doc.spor.device?.hash).not.toBe(doc.user?.hash)
    const long = enrichEvent({ ...event, type: 'job.start' }, 'long', real, received)
    expect(JSON.stringify(long)).not.toContain('84.208.20.110')
    expect(JSON.stringify(long)).not.toContain('ola@acme.example')
  })
})
