import type { SporEvent } from '../core/event-schema.ts'
import type { EventClass } from '../core/retention.ts'
import { mergeClientHints } from './client-hints.ts'
import { truncateIp } from './ip.ts'
import type { GeoInfo, UaInfo } from './types.ts'

/** The enrichment steps a document builder needs; each is pure (given its in-memory data). */
export interface Enrichers {
  parseUserAgent: (ua: string | undefined) => UaInfo
  lookupGeo: (ip: string) => GeoInfo | undefined
  pseudonym: (tenant: string, value: string) => string
}

/** Document shape of both classes; the long class leaves out every short-only field. */
export interface EventDocument {
  '@timestamp': string
  received_at: string
  event: { id: string; type: string; v: 1 }
  tenant: string
  user?: { id?: string; pseudo?: string; name?: string }
  session?: { id: string }
  module?: string
  function?: string
  object?: { type: string; id: string }
  source?: {
    ip?: string
    ip_prefix?: string
    geo?: GeoFields
  }
  ua?: UaInfo & { original?: string }
  device?: {
    id?: string
    pseudo?: string
    screen?: { w: number; h: number }
    network?: { type?: string; id?: string }
  }
  position?: { location: { lat: number; lon: number }; accuracy_m?: number }
  props?: Record<string, string | number | boolean>
}

interface GeoFields {
  country?: string
  region?: string
  city?: string
  location?: { lat: number; lon: number }
  accuracy_km?: number
  timezone?: string
}

function geoFields(geo: GeoInfo | undefined, cls: EventClass): GeoFields | undefined {
  if (!geo) return undefined
  if (cls === 'long') return geo.country ? { country: geo.country } : undefined
  return {
    country: geo.country,
    region: geo.region,
    city: geo.city,
    location: geo.location,
    accuracy_km: geo.accuracyKm,
    timezone: geo.timezone,
  }
}

/**
 * Builds the document for an event's class. Short-class documents carry device, connection and
 * precise location (S1, S3); long-class documents carry only "who did what" (S2) with a
 * truncated IP, because they are kept for a year (S10).
 */
export function enrichEvent(
  event: SporEvent,
  cls: EventClass,
  enrichers: Enrichers,
  receivedAt: Date,
): EventDocument {
  const geo = event.ip ? enrichers.lookupGeo(event.ip) : undefined
  const ipPrefix = event.ip ? truncateIp(event.ip) : undefined
  const userPseudo = event.user ? enrichers.pseudonym(event.tenant, event.user) : undefined
  const doc: EventDocument = {
    '@timestamp': new Date(event.ts).toISOString(),
    received_at: receivedAt.toISOString(),
    event: { id: event.id, type: event.type, v: 1 },
    tenant: event.tenant,
    user: event.user ? { id: event.user, pseudo: userPseudo } : undefined,
    session: event.session ? { id: event.session } : undefined,
    module: event.module,
    function: event.function,
    object: event.object,
    source: event.ip ? { ip_prefix: ipPrefix, geo: geoFields(geo, cls) } : undefined,
    props: event.props,
  }
  if (cls === 'long') return stripUndefined(doc)

  if (event.username) doc.user = { ...doc.user, name: event.username }
  if (event.ip) doc.source = { ...doc.source, ip: event.ip }
  const device = event.device
  if (device) {
    const ua = mergeClientHints(enrichers.parseUserAgent(device.ua), device.ch)
    doc.ua = { ...ua, original: device.ua }
    doc.device = {
      id: device.deviceId,
      pseudo: device.deviceId ? enrichers.pseudonym(event.tenant, `device:${device.deviceId}`) : undefined,
      screen: device.screen,
      network: device.network,
    }
  }
  if (event.position) {
    doc.position = {
      location: { lat: event.position.lat, lon: event.position.lon },
      accuracy_m: event.position.accuracyM,
    }
  }
  return stripUndefined(doc)
}

/** Drops undefined members and objects left empty, so documents stay small and exports clean. */
function stripUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map(stripUndefined) as T
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [key, child] of Object.entries(value)) {
    if (child === undefined) continue
    const cleaned = stripUndefined(child)
    if (
      cleaned &&
      typeof cleaned === 'object' &&
      !Array.isArray(cleaned) &&
      Object.keys(cleaned).length === 0
    )
      continue
    out[key] = cleaned
  }
  return out as T
}
