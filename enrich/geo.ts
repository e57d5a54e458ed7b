import { sharedGeoDatabase } from './geo-database.ts'
import { publicIp } from './ip.ts'
import type { GeoInfo } from './types.ts'

/** What a lookup needs from a database: a record for an address of the given family, or null. */
export interface GeoRecordSource {
  record(ip: string, family: 4 | 6): unknown
}

/**
 * When a database gives no accuracy radius (the compact "country_code, state1, city, latitude,
 * longitude, timezone" databases carry none), the entry's granularity stands in for it: a
 * city-level entry is trusted for travel rules, a country or region centroid is not (detect
 * compares only locations with an accuracy below 500 km). Estimates, documented as such.
 */
export const ESTIMATED_ACCURACY_KM = { city: 50, region: 250, country: 1000 } as const

interface MaxMindCityRecord {
  country?: { iso_code?: string }
  subdivisions?: { iso_code?: string; names?: Record<string, string> }[]
  city?: { names?: Record<string, string> }
  location?: { latitude?: number; longitude?: number; accuracy_radius?: number; time_zone?: string }
}

interface FlatCityRecord {
  country_code?: string
  state1?: string
  city?: string
  latitude?: number
  longitude?: number
  timezone?: string
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined
const finite = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined

/**
 * A database record in either City layout becomes spor's GeoInfo: MaxMind's GeoIP2/GeoLite2-City
 * layout (nested, with `location.accuracy_radius`) or the flat layout of the npm-packaged
 * databases. Empty strings are no answer, and an entry with nothing left is no answer at all.
 * Pure: never throws on a record of an unexpected shape.
 */
export function geoInfoFromRecord(record: unknown): GeoInfo | undefined {
  if (record === null || typeof record !== 'object') return undefined
  const geo: GeoInfo = {}
  let accuracy: number | undefined
  if ('country_code' in record || 'latitude' in record) {
    const flat = record as FlatCityRecord
    geo.country = text(flat.country_code)
    geo.region = text(flat.state1)
    geo.city = text(flat.city)
    const lat = finite(flat.latitude)
    const lon = finite(flat.longitude)
    if (lat !== undefined && lon !== undefined) geo.location = { lat, lon }
    geo.timezone = text(flat.timezone)
  } else {
    const mm = record as MaxMindCityRecord
    geo.country = text(mm.country?.iso_code)
    const subdivision = Array.isArray(mm.subdivisions) ? mm.subdivisions[0] : undefined
    // ECS: region_name is the subdivision's name, region_iso_code "<country>-<subdivision>".
    geo.region = text(subdivision?.names?.en)
    const subdivisionCode = text(subdivision?.iso_code)
    if (subdivisionCode && geo.country) geo.regionIsoCode = `${geo.country}-${subdivisionCode}`
    geo.city = text(mm.city?.names?.en)
    const lat = finite(mm.location?.latitude)
    const lon = finite(mm.location?.longitude)
    if (lat !== undefined && lon !== undefined) geo.location = { lat, lon }
    accuracy = finite(mm.location?.accuracy_radius)
    geo.timezone = text(mm.location?.time_zone)
  }
  if (geo.location) {
    if (accuracy !== undefined && accuracy > 0) geo.accuracyKm = accuracy
    else
      geo.accuracyKm = geo.city
        ? ESTIMATED_ACCURACY_KM.city
        : geo.region || geo.regionIsoCode
          ? ESTIMATED_ACCURACY_KM.region
          : ESTIMATED_ACCURACY_KM.country
  }
  for (const key of Object.keys(geo) as (keyof GeoInfo)[]) if (geo[key] === undefined) delete geo[key]
  return Object.keys(geo).length > 0 ? geo : undefined
}

/**
 * Geo lookup against a MaxMind-format database. Reserved addresses never reach the database:
 * they locate no one, and a lookup would only cost time. Addresses are looked up in canonical
 * form, so "::ffff:8.8.8.8" is found in the IPv4 data. Without a source, the process's shared
 * default database (enrich/geo-database.ts).
 */
export function createGeoLookup(
  source: GeoRecordSource = sharedGeoDatabase(),
): (ip: string) => Readonly<GeoInfo> | undefined {
  // The reader hands out one decoded object per database entry while it is in its cache
  // (enrich/geo-database.ts), so the GeoInfo is derived once per entry, not per event. Keyed by
  // the record itself: a reloaded database has new records, and nothing stale is kept alive.
  const derived = new WeakMap<object, Readonly<GeoInfo> | null>()
  return function lookupGeo(ip) {
    const address = publicIp(ip)
    if (address === undefined) return undefined
    const record = source.record(address.text, address.family)
    if (record === null || typeof record !== 'object') return undefined
    let geo = derived.get(record)
    if (geo === undefined) {
      geo = frozen(geoInfoFromRecord(record)) ?? null
      derived.set(record, geo)
    }
    return geo ?? undefined
  }
}

/** Shared between events: frozen (location too), so no caller can change another's answer. */
function frozen(geo: GeoInfo | undefined): Readonly<GeoInfo> | undefined {
  if (geo?.location) Object.freeze(geo.location)
  return geo && Object.freeze(geo)
}
