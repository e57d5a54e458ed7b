import type { Client } from '@elastic/elasticsearch'
import { SporError } from './errors.ts'

/**
 * What an ingest key may write. Ingest keys ship inside web and mobile clients, so anyone can hold
 * one: a `browser` key may only send what a client can observe about itself; what only the
 * product's backend knows (logins and their failures, jobs, messages, administration, privacy
 * requests) needs a `server` key, held by that backend. A key may narrow its profile further with
 * an explicit list of types (exact names or `prefix.*`). Keys made before scopes existed carry no
 * profile and are treated as browser keys: the safe reading of an unknown holder.
 */
export type IngestProfile = 'browser' | 'server'
export const INGEST_PROFILES: readonly IngestProfile[] = ['browser', 'server']

/** Client-observable types; everything else in the event type table needs a server key. */
export const BROWSER_EVENT_TYPES: readonly string[] = Object.freeze([
  'page.view',
  'feature.use',
  'session.heartbeat',
  'session.logout',
  'abuse.report',
])

export interface IngestScopeInput {
  profile?: IngestProfile
  eventTypes?: readonly string[]
}

export interface IngestScope {
  ingest_profile?: IngestProfile
  event_types?: string[]
}

const TYPE_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?$/

/** Validated scope fields for a new key record (empty for API keys). */
export function ingestScopeFields(kind: string, input: IngestScopeInput | undefined): IngestScope {
  if (kind !== 'ingest') {
    if (input?.profile || input?.eventTypes)
      throw new SporError('SPOR_ERR_BAD_REQUEST', 'event-type scopes apply to ingest keys only')
    return {}
  }
  const profile = input?.profile ?? 'browser'
  if (!INGEST_PROFILES.includes(profile))
    throw new SporError('SPOR_ERR_BAD_REQUEST', `profile must be browser or server, got "${profile}"`)
  const fields: IngestScope = { ingest_profile: profile }
  if (input?.eventTypes) {
    const types = [...new Set(input.eventTypes.map((t) => t.trim()).filter(Boolean))]
    const bad = types.filter((t) => t.length > 64 || !TYPE_PATTERN.test(t))
    if (bad.length > 0 || types.length === 0 || types.length > 100)
      throw new SporError(
        'SPOR_ERR_BAD_REQUEST',
        `event types must be like page.view or feature.*: ${bad.join(', ')}`,
      )
    fields.event_types = types
  }
  return fields
}

function matches(pattern: string, type: string): boolean {
  return pattern.endsWith('.*') ? type.startsWith(pattern.slice(0, -1)) : pattern === type
}

/** True when a key with this scope may send an event of `type`. */
export function keyAllowsType(scope: IngestScope, type: string): boolean {
  const profile = scope.ingest_profile ?? 'browser'
  if (profile === 'browser' && !BROWSER_EVENT_TYPES.some((p) => matches(p, type))) return false
  if (scope.event_types && !scope.event_types.some((p) => matches(p, type))) return false
  return true
}

export function isClientKey(scope: IngestScope): boolean {
  return (scope.ingest_profile ?? 'browser') === 'browser'
}

/**
 * Event ids spor itself mints (audit records: `privacy-export-<uuid>`; anything `spor-…`). No
 * event from the collector may use them, so a client can neither collide with nor imitate them.
 */
export function isReservedEventId(id: string): boolean {
  return /^(privacy|spor)[-_.:]/i.test(id)
}

/**
 * The Kafka record header the collector sets on every event it produces: `client` for events sent
 * with a browser key, `server` for a server key. Only the collector stamps it (a producer writing
 * to the topic directly is part of the backend and trusted); consumers read it to mark what a
 * client reported about itself (detection marks its signals and alerts as client-reported).
 * The event body (contract v1) is unchanged.
 */
export const ORIGIN_HEADER = 'spor-origin'
export type EventOrigin = 'client' | 'server'

export function originOf(headers: Record<string, unknown> | undefined): EventOrigin | undefined {
  const raw = headers?.[ORIGIN_HEADER]
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : typeof raw === 'string' ? raw : undefined
  return text === 'client' || text === 'server' ? text : undefined
}

/** The scope fields added to the strict key-record mapping; applied to indices made before them. */
export const SCOPE_MAPPINGS = {
  ingest_profile: { type: 'keyword' as const },
  event_types: { type: 'keyword' as const },
}

export async function ensureScopeMappings(es: Client, index: string): Promise<void> {
  await es.indices.putMapping({ index, properties: SCOPE_MAPPINGS })
}
