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
} as const

/**
 * Hook for issue 13 item 3 (ingest keys cannot pad the population): when ingest stamps each event
 * with a marker of the client key that sent it and whether the key was allowed to claim it, the
 * filter that keeps only allowed events belongs here, applied by every raw statistics read (and
 * so by the rollup job). Until such a field exists nothing is filtered: no field is invented.
 */
export const COUNTED_EVENTS_FILTER: readonly object[] = []
