import { isoString } from '../core/clock.ts'
import { ECS_EVENT_KIND, ecsCategory } from '../core/ecs-fields.ts'
import type { SporEvent } from '../core/event-schema.ts'
import type { EventOrigin } from '../core/key-scopes.ts'
import type { EventClass } from '../core/retention.ts'
import { mergeClientHints } from './client-hints.ts'
import { truncateIp } from './ip.ts'
import type { GeoInfo, UaInfo } from './types.ts'

/** The enrichment steps a document builder needs; each is pure (given its in-memory data). */
export interface Enrichers {
  parseUserAgent: (ua: string | undefined) => UaInfo
  lookupGeo: (ip: string) => Readonly<GeoInfo> | undefined
  pseudonym: (tenant: string, value: string) => string
}

type Point = { lat: number; lon: number }

/**
 * The event document, in Elastic Common Schema names (core/ecs-fields.ts is the table; README
 * "Event document fields"). Both classes share it; the long class leaves out every short-only
 * field (ilm-policies/mappings.ts SHORT_ONLY_FIELDS). A member is either set or absent, never
 * `undefined`, so the document goes to the bulk body as built (no cleaning copy per event).
 */
export interface EventDocument {
  '@timestamp': string
  event: { id: string; action: string; kind: string; category?: readonly string[]; ingested: string }
  organization: { id: string }
  user?: { id?: string; hash?: string; name?: string }
  source?: {
    ip?: string
    geo?: {
      country_iso_code?: string
      region_name?: string
      region_iso_code?: string
      city_name?: string
      location?: Point
      timezone?: string
    }
  }
  user_agent?: {
    original?: string
    name?: string
    version?: string
    os?: { name?: string; version?: string }
    device?: { name?: string }
  }
  device?: { id?: string; manufacturer?: string }
  spor: SporFields
  props?: Record<string, string | number | boolean>
}

/** spor's own fields, where ECS has no name for them. */
export interface SporFields {
  event_version: 1
  origin?: EventOrigin
  session?: { id: string }
  module?: string
  function?: string
  object?: { type: string; id: string }
  source?: { ip_prefix: string }
  geo?: { accuracy_km: number }
  user_agent?: { major?: string; engine?: { name?: string; version?: string }; bot: boolean; source: string }
  device?: { type: string; hash?: string; screen?: { w: number; h: number } }
  network?: { type?: string; id?: string }
  position?: { location: Point; accuracy_m?: number }
}

type Geo = NonNullable<NonNullable<EventDocument['source']>['geo']>

function shortGeo(geo: Readonly<GeoInfo>): Geo | undefined {
  if (
    geo.country === undefined &&
    geo.region === undefined &&
    geo.regionIsoCode === undefined &&
    geo.city === undefined &&
    geo.location === undefined &&
    geo.timezone === undefined
  ) {
    return undefined
  }
  const out: Geo = {}
  if (geo.country !== undefined) out.country_iso_code = geo.country
  if (geo.region !== undefined) out.region_name = geo.region
  if (geo.regionIsoCode !== undefined) out.region_iso_code = geo.regionIsoCode
  if (geo.city !== undefined) out.city_name = geo.city
  if (geo.location !== undefined) out.location = geo.location
  if (geo.timezone !== undefined) out.timezone = geo.timezone
  return out
}

function userAgent(ua: UaInfo, original: string | undefined): EventDocument['user_agent'] {
  const out: NonNullable<EventDocument['user_agent']> = {}
  if (original !== undefined) out.original = original
  if (ua.browser.name !== undefined) out.name = ua.browser.name
  if (ua.browser.version !== undefined) out.version = ua.browser.version
  if (ua.os.name !== undefined || ua.os.version !== undefined) {
    const os: { name?: string; version?: string } = {}
    if (ua.os.name !== undefined) os.name = ua.os.name
    if (ua.os.version !== undefined) os.version = ua.os.version
    out.os = os
  }
  if (ua.device.model !== undefined) out.device = { name: ua.device.model }
  for (const _ in out) return out // any member set (no key array per event)
  return undefined
}

function sporUserAgent(ua: UaInfo): NonNullable<SporFields['user_agent']> {
  const out: NonNullable<SporFields['user_agent']> = { bot: ua.bot, source: ua.source }
  if (ua.browser.major !== undefined) out.major = ua.browser.major
  if (ua.engine.name !== undefined || ua.engine.version !== undefined) {
    const engine: { name?: string; version?: string } = {}
    if (ua.engine.name !== undefined) engine.name = ua.engine.name
    if (ua.engine.version !== undefined) engine.version = ua.engine.version
    out.engine = engine
  }
  return out
}

/**
 * Builds the document for an event's class. Short-class documents carry device, connection and
 * precise location (S1, S3); long-class documents carry only "who did what" (S2) with a
 * truncated IP, because they are kept for a year (S10). `origin` is the Kafka header
 * `spor-origin` (client | server), absent when no collector stamped it.
 */
export function enrichEvent(
  event: SporEvent,
  cls: EventClass,
  enrichers: Enrichers,
  receivedAt: Date,
  origin?: EventOrigin,
  /** `event.ts` as a Date when the caller has parsed it already (the consumer has): saves a parse. */
  eventTime: Date = new Date(event.ts),
): EventDocument {
  const short = cls === 'short'
  const meta: EventDocument['event'] = {
    id: event.id,
    action: event.type,
    kind: ECS_EVENT_KIND,
    ingested: isoString(receivedAt),
  }
  const category = ecsCategory(event.type)
  if (category) meta.category = category
  const spor: SporFields = { event_version: 1 }
  const doc: EventDocument = {
    '@timestamp': eventTime.toISOString(),
    event: meta,
    organization: { id: event.tenant },
    spor,
  }
  if (origin) spor.origin = origin

  if (event.user !== undefined || (short && event.username !== undefined)) {
    const user: NonNullable<EventDocument['user']> = {}
    if (event.user !== undefined) {
      user.id = event.user
      user.hash = enrichers.pseudonym(event.tenant, event.user)
    }
    if (short && event.username !== undefined) user.name = event.username
    doc.user = user
  }
  if (event.session !== undefined) spor.session = { id: event.session }
  if (event.module !== undefined) spor.module = event.module
  if (event.function !== undefined) spor.function = event.function
  if (event.object !== undefined) spor.object = event.object
  if (event.props !== undefined && Object.keys(event.props).length > 0) doc.props = event.props

  if (event.ip !== undefined) {
    const ipPrefix = truncateIp(event.ip)
    if (ipPrefix !== undefined) spor.source = { ip_prefix: ipPrefix }
    const geo = enrichers.lookupGeo(event.ip)
    const source: NonNullable<EventDocument['source']> = {}
    if (short) {
      source.ip = event.ip
      const fields = geo && shortGeo(geo)
      if (fields) source.geo = fields
      if (geo?.accuracyKm !== undefined) spor.geo = { accuracy_km: geo.accuracyKm }
    } else if (geo?.country !== undefined) {
      source.geo = { country_iso_code: geo.country }
    }
    if (source.ip !== undefined || source.geo !== undefined) doc.source = source
  }
  if (!short) return doc

  const device = event.device
  if (device) {
    const ua = mergeClientHints(enrichers.parseUserAgent(device.ua), device.ch)
    const agent = userAgent(ua, device.ua)
    if (agent) doc.user_agent = agent
    spor.user_agent = sporUserAgent(ua)
    const sporDevice: NonNullable<SporFields['device']> = { type: ua.device.type }
    if (device.deviceId !== undefined) {
      sporDevice.hash = enrichers.pseudonym(event.tenant, `device:${device.deviceId}`)
    }
    if (device.screen !== undefined) sporDevice.screen = device.screen
    spor.device = sporDevice
    if (device.deviceId !== undefined || ua.device.vendor !== undefined) {
      const ecsDevice: NonNullable<EventDocument['device']> = {}
      if (device.deviceId !== undefined) ecsDevice.id = device.deviceId
      if (ua.device.vendor !== undefined) ecsDevice.manufacturer = ua.device.vendor
      doc.device = ecsDevice
    }
    if (device.network !== undefined && Object.keys(device.network).length > 0) spor.network = device.network
  }
  if (event.position) {
    const position: NonNullable<SporFields['position']> = {
      location: { lat: event.position.lat, lon: event.position.lon },
    }
    if (event.position.accuracyM !== undefined) position.accuracy_m = event.position.accuracyM
    spor.position = position
  }
  return doc
}
