import geoip from 'geoip-lite'
import { canonicalIp, isPublicIp } from './ip.ts'
import type { GeoInfo } from './types.ts'

/**
 * Geo lookup against geoip-lite's in-memory database (loaded synchronously when this module is
 * imported). Reserved addresses never reach the database: they locate no one, and a lookup
 * would only cost time.
 *
 * geoip-lite answers with "" for unknown fields (and, for some ranges such as 1.1.1.1, an entry that
 * is all empty strings with `ll: [null, null]` and no `area`); those become undefined, and an entry
 * with nothing left is no answer at all.
 */
export function createGeoLookup(): (ip: string) => GeoInfo | undefined {
  return function lookupGeo(ip) {
    if (!isPublicIp(ip)) return undefined
    // Canonical form, so "::ffff:8.8.8.8" is looked up in the IPv4 table.
    const hit = geoip.lookup(canonicalIp(ip) ?? ip)
    if (hit === null) return undefined
    const [lat, lon] = hit.ll ?? []
    const geo: GeoInfo = {}
    if (hit.country) geo.country = hit.country
    if (hit.region) geo.region = hit.region
    if (hit.city) geo.city = hit.city
    if (typeof lat === 'number' && typeof lon === 'number') geo.location = { lat, lon }
    if (typeof hit.area === 'number' && hit.area > 0) geo.accuracyKm = hit.area
    if (hit.timezone) geo.timezone = hit.timezone
    return Object.keys(geo).length > 0 ? geo : undefined
  }
}
