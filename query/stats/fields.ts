import { EVENT_PATHS } from '../../core/ecs-fields.ts'

/**
 * Every event-document field the statistics read, by the statistics' own keys; the paths come
 * from the one table of event-document names (core/ecs-fields.ts EVENT_PATHS, ECS names).
 */
export const EVENT_FIELDS = {
  timestamp: EVENT_PATHS.timestamp,
  tenant: EVENT_PATHS.tenant,
  /** The per-tenant HMAC pseudonym: the only user identity statistics ever see. */
  userPseudonym: EVENT_PATHS.userHash,
  session: EVENT_PATHS.sessionId,
  module: EVENT_PATHS.module,
  function: EVENT_PATHS.function,
  eventType: EVENT_PATHS.action,
  browserName: EVENT_PATHS.browserName,
  browserMajor: EVENT_PATHS.browserMajor,
  osName: EVENT_PATHS.osName,
  deviceType: EVENT_PATHS.deviceType,
  deviceVendor: EVENT_PATHS.deviceVendor,
  country: EVENT_PATHS.country,
  region: EVENT_PATHS.regionName,
  /** `client` | `server`: which kind of key sent the event (collector header `spor-origin`). */
  origin: EVENT_PATHS.origin,
} as const

/**
 * Filter every raw statistics read applies (and so the rollup job). Issue 13 item 3 (ingest keys
 * cannot pad the population): the collector already refuses what a browser key may not claim
 * (types, backdating, reserved ids); which of the allowed events statistics count depends on the
 * tenant and on the other events of the same user and day, so it is decided in raw-rows.ts
 * (`countedEventsQuery`, `attested users`) rather than by a fixed filter here.
 */
export const COUNTED_EVENTS_FILTER: readonly object[] = []

/** The value of EVENT_FIELDS.origin on events a public (browser) key sent. */
export const CLIENT_ORIGIN = 'client'
