/**
 * The one table of event-document field names: spor's first names and their Elastic Common
 * Schema (ECS) names, where ECS has one; spor-specific fields go under `spor.*`. Readers import
 * the paths from `EVENT_FIELDS`, so a rename is one edit here; `ECS_RENAMES` is what a migration
 * applies to a document of the first shape. Only the event documents (short and long classes)
 * are renamed; alerts, stats rollups and profiles keep their names.
 *
 * The event contract on Kafka (core/event-schema.ts) is not affected.
 */
export const ECS_RENAMES = [
  // [first name, ECS (or spor.*) name, why]
  ['received_at', 'event.ingested', 'ECS: when the event reached the pipeline'],
  ['event.type', 'event.action', 'ECS event.type is a categorisation array; the action is the name'],
  ['event.v', 'spor.event_version', 'spor-specific'],
  ['tenant', 'organization.id', 'ECS: the customer the user belongs to'],
  ['user.pseudo', 'user.hash', 'ECS: a hash of the user id (keyed HMAC per tenant)'],
  ['user.erased', 'spor.user_erased', 'spor-specific'],
  ['session.id', 'spor.session.id', 'ECS has no session object'],
  ['module', 'spor.module', 'spor-specific'],
  ['function', 'spor.function', 'spor-specific'],
  ['object.type', 'spor.object.type', 'spor-specific'],
  ['object.id', 'spor.object.id', 'spor-specific'],
  ['source.ip_prefix', 'spor.source.ip_prefix', 'a truncated address is not ECS source.ip'],
  ['source.geo.country', 'source.geo.country_iso_code', 'ECS'],
  ['source.geo.region', 'source.geo.region_iso_code', 'ECS'],
  ['source.geo.city', 'source.geo.city_name', 'ECS'],
  ['source.geo.accuracy_km', 'spor.geo.accuracy_km', 'spor-specific'],
  ['ua.original', 'user_agent.original', 'ECS'],
  ['ua.browser.name', 'user_agent.name', 'ECS'],
  ['ua.browser.version', 'user_agent.version', 'ECS'],
  ['ua.browser.major', 'spor.user_agent.major', 'spor-specific'],
  ['ua.engine.name', 'spor.user_agent.engine.name', 'spor-specific'],
  ['ua.engine.version', 'spor.user_agent.engine.version', 'spor-specific'],
  ['ua.os.name', 'user_agent.os.name', 'ECS'],
  ['ua.os.version', 'user_agent.os.version', 'ECS'],
  ['ua.device.model', 'user_agent.device.name', 'ECS'],
  ['ua.device.vendor', 'device.manufacturer', 'ECS'],
  ['ua.device.type', 'spor.device.type', 'spor-specific (desktop, mobile, tablet, ...)'],
  ['ua.bot', 'spor.user_agent.bot', 'spor-specific'],
  ['ua.source', 'spor.user_agent.source', 'spor-specific'],
  ['device.pseudo', 'spor.device.hash', 'spor-specific'],
  ['device.screen.w', 'spor.device.screen.w', 'spor-specific'],
  ['device.screen.h', 'spor.device.screen.h', 'spor-specific'],
  ['device.network.type', 'spor.network.type', 'ECS network.type is the IP version'],
  ['device.network.id', 'spor.network.id', 'spor-specific'],
  ['position.location', 'spor.position.location', 'reported by the device, not geo-IP'],
  ['position.accuracy_m', 'spor.position.accuracy_m', 'spor-specific'],
] as const

/**
 * Field paths of event documents that keep their names (already ECS): `@timestamp`, `event.id`,
 * `user.id`, `user.name`, `source.ip`, `source.geo.location`, `source.geo.timezone`, `device.id`.
 */
export const ECS_KEPT = [
  '@timestamp',
  'event.id',
  'user.id',
  'user.name',
  'source.ip',
  'source.geo.location',
  'source.geo.timezone',
  'device.id',
  'props',
] as const

type FirstName = (typeof ECS_RENAMES)[number][0]
type EcsName = (typeof ECS_RENAMES)[number][1]

const BY_FIRST_NAME: ReadonlyMap<string, string> = new Map(ECS_RENAMES.map(([from, to]) => [from, to]))

/** The ECS name of a first-shape field path (unchanged when it keeps its name). */
export function ecsName(firstName: FirstName | (typeof ECS_KEPT)[number]): EcsName | string {
  return BY_FIRST_NAME.get(firstName) ?? firstName
}

function flatten(value: unknown, path: string, out: Map<string, unknown>): void {
  // `props` is a flattened field: its keys are data, not schema, and move as one value.
  if (value && typeof value === 'object' && !Array.isArray(value) && path !== 'props' && !isGeoPoint(path)) {
    for (const [key, child] of Object.entries(value)) flatten(child, path ? `${path}.${key}` : key, out)
  } else if (value !== undefined) {
    out.set(path, value)
  }
}

function isGeoPoint(path: string): boolean {
  return path === 'source.geo.location' || path === 'position.location'
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.')
  let node = target
  for (const part of parts.slice(0, -1)) {
    const next = node[part]
    if (!next || typeof next !== 'object') node[part] = {}
    node = node[part] as Record<string, unknown>
  }
  node[parts[parts.length - 1]!] = value
}

/** True for an event document in the first shape (it has the tenant at the top). */
export function isFirstShape(doc: Record<string, unknown>): boolean {
  return typeof doc.tenant === 'string'
}

/**
 * Pure: rewrites a first-shape event document to the ECS shape (a document already in the ECS
 * shape is returned unchanged). A field outside both tables is an error, never silently dropped.
 */
export function toEcsDocument(doc: Record<string, unknown>): Record<string, unknown> {
  if (!isFirstShape(doc)) return doc
  const flat = new Map<string, unknown>()
  flatten(doc, '', flat)
  const out: Record<string, unknown> = {}
  const kept = new Set<string>(ECS_KEPT)
  for (const [path, value] of flat) {
    const renamed = BY_FIRST_NAME.get(path)
    if (renamed) setPath(out, renamed, value)
    else if (kept.has(path)) setPath(out, path, value)
    else throw new Error(`event document field ${path} is in neither the ECS rename table nor the kept list`)
  }
  return out
}
