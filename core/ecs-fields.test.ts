import { describe, expect, it } from 'vitest'
import {
  ECS_RENAMES,
  EVENT_PATHS,
  ecsCategory,
  isFirstShape,
  toEcsDocument,
  toFirstShape,
} from './ecs-fields.ts'

const FIRST = {
  '@timestamp': '2026-03-01T10:00:00.000Z',
  received_at: '2026-03-01T10:00:01.000Z',
  event: { id: 'e1', type: 'session.login', v: 1 },
  tenant: 'acme',
  user: { id: 'u1', pseudo: 'p1', name: 'alice' },
  session: { id: 's1' },
  module: 'crm',
  source: {
    ip: '8.8.8.8',
    ip_prefix: '8.8.8.0',
    geo: {
      country: 'US',
      region: 'CA',
      city: 'X',
      location: { lat: 1, lon: 2 },
      timezone: 'America/Chicago',
    },
  },
  ua: {
    original: 'Mozilla',
    browser: { name: 'Chrome', version: '120.0', major: '120' },
    os: { name: 'Windows', version: '10' },
    device: { type: 'desktop', vendor: 'Apple', model: 'Macintosh' },
    bot: false,
    source: 'ua',
  },
  device: { id: 'd1', pseudo: 'dp', screen: { w: 1, h: 2 }, network: { type: 'wifi' } },
  position: { location: { lat: 3, lon: 4 }, accuracy_m: 5 },
  props: { 'a.b': 1, plan: 'pro' },
}

describe('ECS field names', () => {
  it('renames every first-shape field and keeps geo points and props whole', () => {
    const ecs = toEcsDocument(FIRST)
    expect(ecs).toEqual({
      '@timestamp': '2026-03-01T10:00:00.000Z',
      event: {
        ingested: '2026-03-01T10:00:01.000Z',
        id: 'e1',
        action: 'session.login',
        kind: 'event',
        category: ['authentication', 'session'],
      },
      spor: {
        event_version: 1,
        session: { id: 's1' },
        module: 'crm',
        source: { ip_prefix: '8.8.8.0' },
        user_agent: { major: '120', bot: false, source: 'ua' },
        device: { type: 'desktop', hash: 'dp', screen: { w: 1, h: 2 } },
        network: { type: 'wifi' },
        position: { location: { lat: 3, lon: 4 }, accuracy_m: 5 },
      },
      organization: { id: 'acme' },
      user: { id: 'u1', hash: 'p1', name: 'alice' },
      source: {
        ip: '8.8.8.8',
        geo: {
          country_iso_code: 'US',
          region_name: 'CA',
          city_name: 'X',
          location: { lat: 1, lon: 2 },
          timezone: 'America/Chicago',
        },
      },
      user_agent: {
        original: 'Mozilla',
        name: 'Chrome',
        version: '120.0',
        os: { name: 'Windows', version: '10' },
        device: { name: 'Macintosh' },
      },
      device: { id: 'd1', manufacturer: 'Apple' },
      props: { 'a.b': 1, plan: 'pro' },
    })
    expect(isFirstShape(ecs)).toBe(false)
    expect(toEcsDocument(ecs)).toBe(ecs)
  })

  it('turns an ECS document back into the first shape, leaving out what that shape never had', () => {
    const ecs = {
      ...toEcsDocument(FIRST),
      spor: { ...(toEcsDocument(FIRST).spor as object), origin: 'client' },
    }
    expect(toFirstShape(ecs)).toEqual(FIRST)
    expect(toFirstShape(FIRST)).toBe(FIRST)
    expect(() => toFirstShape({ organization: { id: 'a' }, surprise: 1 })).toThrow(/surprise/)
  })

  it.each([
    ['session.login', ['authentication', 'session']],
    ['page.view', ['web']],
    ['admin.role_change', ['iam', 'configuration']],
    ['abuse.report', undefined],
    ['nodot', undefined],
  ])('categorises %s', (action, category) => {
    expect(ecsCategory(action)).toEqual(category)
  })

  it('names the reader paths by the table', () => {
    expect(EVENT_PATHS.tenant).toBe('organization.id')
    expect(EVENT_PATHS.userHash).toBe('user.hash')
    expect(EVENT_PATHS.regionName).toBe('source.geo.region_name')
    expect(EVENT_PATHS.origin).toBe('spor.origin')
  })

  it('refuses a field it has no name for instead of dropping it', () => {
    expect(() => toEcsDocument({ tenant: 'a', surprise: 1 })).toThrow(/surprise/)
  })

  it('maps each first name once, to a distinct name', () => {
    const targets = ECS_RENAMES.map(([, to]) => to)
    expect(new Set(targets).size).toBe(targets.length)
    expect(new Set(ECS_RENAMES.map(([from]) => from)).size).toBe(ECS_RENAMES.length)
  })
})
