import { describe, expect, it } from 'vitest'
import { ESTIMATED_ACCURACY_KM, geoInfoFromRecord } from './geo.ts'

/**
 * geoInfoFromRecord on partial and odd records (mutation testing, issue 18): which layout a record
 * is read as, when a location exists, which radius counts, and that missing parts never throw.
 */
describe('geoInfoFromRecord: partial records', () => {
  it.each([
    {
      name: 'flat layout recognised by its coordinates alone',
      record: { latitude: 10, longitude: 20 },
      want: { location: { lat: 10, lon: 20 }, accuracyKm: ESTIMATED_ACCURACY_KM.country },
    },
    {
      name: 'flat layout recognised by its country code alone',
      record: { country_code: 'DE' },
      want: { country: 'DE' },
    },
    {
      name: 'flat layout: no location unless both coordinates are finite numbers',
      record: { country_code: 'DE', latitude: 52.5, longitude: Number.NaN, timezone: 'Europe/Berlin' },
      want: { country: 'DE', timezone: 'Europe/Berlin' },
    },
    {
      name: 'flat layout: a coordinate given as text is no coordinate',
      record: { country_code: 'DE', latitude: '52.5', longitude: 13.4 },
      want: { country: 'DE' },
    },
    {
      name: 'flat layout: one coordinate only',
      record: { country_code: 'DE', longitude: 13.4 },
      want: { country: 'DE' },
    },
    {
      name: 'MaxMind layout without a country object',
      record: { city: { names: { en: 'Oslo' } } },
      want: { city: 'Oslo' },
    },
    {
      name: 'MaxMind layout: a subdivision without names or code',
      record: { country: { iso_code: 'NO' }, subdivisions: [{}] },
      want: { country: 'NO' },
    },
    {
      name: 'MaxMind layout: a subdivision name stands in for a missing code',
      record: { country: { iso_code: 'NO' }, subdivisions: [{ names: { en: 'Viken' } }] },
      want: { country: 'NO', region: 'Viken' },
    },
    {
      name: 'MaxMind layout: a city object without names',
      record: { country: { iso_code: 'NO' }, city: {} },
      want: { country: 'NO' },
    },
    {
      name: 'MaxMind layout without a location object',
      record: { country: { iso_code: 'NO' }, city: { names: { en: 'Oslo' } } },
      want: { country: 'NO', city: 'Oslo' },
    },
    {
      name: 'MaxMind layout: one coordinate only, radius and time zone kept apart',
      record: {
        country: { iso_code: 'NO' },
        location: { latitude: 59.9, accuracy_radius: 20, time_zone: 'Europe/Oslo' },
      },
      want: { country: 'NO', timezone: 'Europe/Oslo' },
    },
    {
      name: 'MaxMind layout: a zero radius is no radius (estimated from the granularity)',
      record: {
        city: { names: { en: 'Oslo' } },
        location: { latitude: 59.9, longitude: 10.7, accuracy_radius: 0 },
      },
      want: { city: 'Oslo', location: { lat: 59.9, lon: 10.7 }, accuracyKm: ESTIMATED_ACCURACY_KM.city },
    },
    {
      name: 'MaxMind layout: a negative radius is no radius',
      record: {
        country: { iso_code: 'NO' },
        location: { latitude: 59.9, longitude: 10.7, accuracy_radius: -5 },
      },
      want: { country: 'NO', location: { lat: 59.9, lon: 10.7 }, accuracyKm: ESTIMATED_ACCURACY_KM.country },
    },
    {
      name: 'MaxMind layout: a radius as text is no radius',
      record: {
        country: { iso_code: 'NO' },
        location: { latitude: 59.9, longitude: 10.7, accuracy_radius: '3' },
      },
      want: { country: 'NO', location: { lat: 59.9, lon: 10.7 }, accuracyKm: ESTIMATED_ACCURACY_KM.country },
    },
    {
      name: 'MaxMind layout: a radius of 1 km is kept',
      record: { location: { latitude: 59.9, longitude: 10.7, accuracy_radius: 1 } },
      want: { location: { lat: 59.9, lon: 10.7 }, accuracyKm: 1 },
    },
  ])('$name', ({ record, want }) => {
    expect(geoInfoFromRecord(record)).toEqual(want)
  })

  it('a MaxMind record with nothing usable is no answer', () => {
    expect(geoInfoFromRecord({ country: {}, subdivisions: [], location: {} })).toBeUndefined()
  })
})
