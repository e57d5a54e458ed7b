import { describe, expect, it } from 'vitest'
import { createGeoLookup, ESTIMATED_ACCURACY_KM, type GeoRecordSource, geoInfoFromRecord } from './geo.ts'
import { sharedGeoDatabase } from './geo-database.ts'

describe('createGeoLookup against the bundled GeoLite2 City database', () => {
  const lookup = createGeoLookup()

  // Public resolvers and national networks whose country is stable across database releases.
  it.each([
    { ip: '8.8.8.8', country: 'US', what: 'Google Public DNS' },
    { ip: '208.67.222.222', country: 'US', what: 'OpenDNS (Cisco)' },
    { ip: '::ffff:8.8.8.8', country: 'US', what: 'IPv4-mapped form, looked up as IPv4' },
    { ip: '2001:4860:4860::8888', country: 'US', what: 'Google Public DNS over IPv6' },
    { ip: '84.208.20.110', country: 'NO', what: 'Telia Norge broadband' },
    { ip: '81.167.34.10', country: 'NO', what: 'Telenor Norge broadband' },
    { ip: '193.213.112.4', country: 'NO', what: 'Telenor Norge (AS2119)' },
    { ip: '2a01:79c::1', country: 'NO', what: 'Telenor Norge IPv6' },
    { ip: '130.237.1.1', country: 'SE', what: 'KTH Royal Institute of Technology (SUNET)' },
    { ip: '86.1.2.3', country: 'GB', what: 'Virgin Media broadband' },
    { ip: '91.64.10.3', country: 'DE', what: 'Vodafone Kabel Deutschland' },
    { ip: '194.67.1.1', country: 'RU', what: 'a Russian national network' },
    { ip: '210.140.92.1', country: 'JP', what: 'a Japanese network (Sakura Internet)' },
    { ip: '200.160.2.3', country: 'BR', what: 'NIC.br, Sao Paulo' },
  ])('$ip ($what) -> $country', ({ ip, country }) => {
    const geo = lookup(ip)
    expect(geo?.country).toBe(country)
    expect(geo?.location).toEqual({ lat: expect.any(Number), lon: expect.any(Number) })
    expect(geo?.accuracyKm).toBeGreaterThan(0)
    expect(geo?.timezone).toMatch(/^[A-Z][A-Za-z_]+\/[A-Za-z_]+/)
  })

  it('a city-level broadband address has city, region and a city-level accuracy', () => {
    expect(lookup('84.208.20.110')).toMatchObject({
      country: 'NO',
      region: 'Oslo',
      city: 'Oslo',
      timezone: 'Europe/Oslo',
      accuracyKm: ESTIMATED_ACCURACY_KM.city,
    })
  })

  it('an address placed only at a country centroid has no city or region and a coarse accuracy', () => {
    const geo = lookup('8.8.8.8')
    expect(geo).not.toHaveProperty('city')
    expect(geo).not.toHaveProperty('region')
    expect(geo?.accuracyKm).toBe(ESTIMATED_ACCURACY_KM.country)
  })

  it('an anycast range the database does not place is no answer (1.1.1.1, 9.9.9.9)', () => {
    expect(lookup('1.1.1.1')).toBeUndefined()
    expect(lookup('9.9.9.9')).toBeUndefined()
  })

  it('reports a build date', () => {
    const info = sharedGeoDatabase().info
    expect(info.files.map((f) => f.ipVersion).sort()).toEqual([4, 6])
    expect(Date.parse(info.buildDate)).toBeGreaterThan(Date.parse('2026-01-01'))
  })
})

describe('reserved addresses never reach the database', () => {
  const asked: string[] = []
  const spy: GeoRecordSource = {
    record: (ip) => {
      asked.push(ip)
      return null
    },
  }
  const lookup = createGeoLookup(spy)
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
    asked.length = 0
    expect(lookup(ip)).toBeUndefined()
    expect(asked).toEqual([])
  })

  it('public addresses are asked in canonical form with their family', () => {
    const calls: [string, number][] = []
    const lookup = createGeoLookup({
      record: (ip, family) => {
        calls.push([ip, family])
        return null
      },
    })
    lookup('::FFFF:8.8.8.8')
    lookup('2001:4860:4860:0::8888')
    expect(calls).toEqual([
      ['8.8.8.8', 4],
      ['2001:4860:4860::8888', 6],
    ])
  })
})

describe('one answer per database entry', () => {
  it('is derived once per record, frozen, and follows a reload to new records', () => {
    let records: Record<string, object> = {
      '8.8.8.8': { country_code: 'US', latitude: 37.7, longitude: -122.4 },
    }
    let derivations = 0
    const lookup = createGeoLookup({
      record: (ip) => {
        const record = records[ip] ?? null
        if (record) derivations++
        return record
      },
    })
    const first = lookup('8.8.8.8')
    expect(first).toEqual({
      country: 'US',
      location: { lat: 37.7, lon: -122.4 },
      accuracyKm: ESTIMATED_ACCURACY_KM.country,
    })
    expect(lookup('::ffff:8.8.8.8')).toBe(first)
    expect(derivations).toBe(2) // both asked the database, one GeoInfo was built
    // Shared between events: no caller can change another's answer.
    expect(Object.isFrozen(first)).toBe(true)
    expect(Object.isFrozen(first!.location)).toBe(true)
    // A reloaded database hands out new records: the answer follows them.
    records = { '8.8.8.8': { country_code: 'CA', latitude: 45.4, longitude: -75.7 } }
    expect(lookup('8.8.8.8')?.country).toBe('CA')
    // A record with nothing usable is no answer, every time.
    records = { '8.8.8.8': { country_code: '' } }
    expect(lookup('8.8.8.8')).toBeUndefined()
    expect(lookup('8.8.8.8')).toBeUndefined()
  })
})

describe('geoInfoFromRecord', () => {
  it.each([
    {
      name: 'MaxMind City layout with an accuracy radius',
      record: {
        country: { iso_code: 'NO' },
        subdivisions: [{ iso_code: '03', names: { en: 'Oslo County' } }],
        city: { names: { en: 'Oslo' } },
        location: { latitude: 59.9, longitude: 10.7, accuracy_radius: 20, time_zone: 'Europe/Oslo' },
      },
      want: {
        country: 'NO',
        region: 'Oslo County',
        regionIsoCode: 'NO-03',
        city: 'Oslo',
        location: { lat: 59.9, lon: 10.7 },
        accuracyKm: 20,
        timezone: 'Europe/Oslo',
      },
    },
    {
      name: 'MaxMind layout, country only, radius kept from the database',
      record: {
        country: { iso_code: 'US' },
        location: { latitude: 37.7, longitude: -97.8, accuracy_radius: 1000 },
      },
      want: { country: 'US', location: { lat: 37.7, lon: -97.8 }, accuracyKm: 1000 },
    },
    {
      name: 'flat layout, city level: estimated accuracy',
      record: {
        country_code: 'SE',
        state1: 'Stockholm County',
        city: 'Stockholm',
        latitude: 59.3,
        longitude: 18,
        timezone: 'Europe/Stockholm',
        postcode: '',
      },
      want: {
        country: 'SE',
        region: 'Stockholm County',
        city: 'Stockholm',
        location: { lat: 59.3, lon: 18 },
        accuracyKm: ESTIMATED_ACCURACY_KM.city,
        timezone: 'Europe/Stockholm',
      },
    },
    {
      name: 'flat layout, region level',
      record: { country_code: 'NO', state1: 'Viken', city: '', latitude: 60, longitude: 10, timezone: '' },
      want: {
        country: 'NO',
        region: 'Viken',
        location: { lat: 60, lon: 10 },
        accuracyKm: ESTIMATED_ACCURACY_KM.region,
      },
    },
    {
      name: 'empty strings everywhere and no coordinates: no answer',
      record: { country_code: '', state1: '', city: '', timezone: '' },
      want: undefined,
    },
    { name: 'null', record: null, want: undefined },
    { name: 'a string', record: 'NO', want: undefined },
    {
      name: 'hostile shapes do not throw',
      record: {
        country: { iso_code: 7 },
        subdivisions: 'x',
        location: { latitude: Number.NaN, longitude: 1 },
      },
      want: undefined,
    },
  ])('$name', ({ record, want }) => {
    expect(geoInfoFromRecord(record)).toEqual(want)
  })
})
