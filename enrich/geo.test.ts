import { describe, expect, it, vi } from 'vitest'
import { createGeoLookup } from './geo.ts'

// geoip-lite is mocked only to prove reserved addresses never reach it; results come from the real database.
const lookupSpy = vi.hoisted(() => ({ calls: [] as string[] }))
vi.mock('geoip-lite', async (importOriginal) => {
  const real = ((await importOriginal()) as { default: typeof import('geoip-lite') }).default
  return {
    default: {
      lookup: (ip: string) => {
        lookupSpy.calls.push(ip)
        return real.lookup(ip)
      },
    },
  }
})

describe('createGeoLookup', () => {
  const lookup = createGeoLookup()

  it.each([
    { ip: '8.8.8.8', country: 'US' },
    { ip: '::ffff:8.8.8.8', country: 'US' },
    { ip: '2001:4860:4860::8888', country: 'US' },
    { ip: '81.167.0.1', country: 'NO' },
    { ip: '2a01:79c::1', country: 'NO' },
  ])('$ip -> $country', ({ ip, country }) => {
    const geo = lookup(ip)
    expect(geo?.country).toBe(country)
    expect(geo?.location).toEqual({ lat: expect.any(Number), lon: expect.any(Number) })
    expect(geo?.accuracyKm).toBeGreaterThan(0)
    expect(geo?.timezone).toMatch(/^[A-Z][A-Za-z_]+\/[A-Za-z_]+/)
  })

  it('81.167.0.1 resolves to Drammen in the installed database', () => {
    // Exact city and region codes change with database releases; this pins geoip-lite 1.4.10's data.
    expect(lookup('81.167.0.1')).toEqual({
      country: 'NO',
      region: '30',
      city: 'Drammen',
      location: { lat: 59.7429, lon: 10.1859 },
      accuracyKm: 20,
      timezone: 'Europe/Oslo',
    })
  })

  it('empty database strings become undefined (8.8.8.8 has no city or region)', () => {
    const geo = lookup('8.8.8.8')
    expect(geo).not.toHaveProperty('city')
    expect(geo).not.toHaveProperty('region')
  })

  it('an entry with nothing in it is no answer (1.1.1.1 is all empty strings)', () => {
    expect(lookup('1.1.1.1')).toBeUndefined()
  })

  it.each([
    '10.0.0.1',
    '127.0.0.1',
    '192.168.1.1',
    '100.64.0.1',
    '169.254.0.1',
    '::1',
    'fc00::',
    'fe80::1',
    '::ffff:10.0.0.1',
    'not-an-ip',
    '',
  ])('%j -> undefined without a database lookup', (ip) => {
    lookupSpy.calls.length = 0
    expect(lookup(ip)).toBeUndefined()
    expect(lookupSpy.calls).toEqual([])
  })
})
