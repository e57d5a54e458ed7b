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
  // The default geo database (and spor's MaxMind reader) give the subdivision's name; an ISO
  // code, where the database has one, goes to source.geo.region_iso_code (ECS_ADDED).
  ['source.geo.region', 'source.geo.region_name', 'ECS'],
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

/**
 * Fields only the ECS shape has (a first-shape document never had them, so a migrated document
 * gets them where they can be derived: `event.kind`, `event.category`; the others stay absent).
 * `spor.origin` is `client` | `server` from the Kafka header `spor-origin` (core/key-scopes.ts),
 * so statistics can tell client-reported events apart.
 */
export const ECS_ADDED = [
  'event.kind',
  'event.category',
  'source.geo.region_iso_code',
  'spor.origin',
] as const

/** ECS `event.kind` of every spor event document: an event (not an alert, not a metric). */
export const ECS_EVENT_KIND = 'event'

/**
 * ECS `event.category` (allowed values of ECS 8/9) by event-type prefix; a type without an entry
 * has no category rather than a guessed one. Frozen arrays: the builder shares them between
 * documents instead of allocating one per event.
 */
const CATEGORY_BY_PREFIX: Readonly<Record<string, readonly string[]>> = Object.freeze({
  session: Object.freeze(['authentication', 'session']),
  page: Object.freeze(['web']),
  feature: Object.freeze(['web']),
  admin: Object.freeze(['iam', 'configuration']),
  privacy: Object.freeze(['iam']),
  message: Object.freeze(['email']),
  job: Object.freeze(['process']),
})

/** Pure: the ECS categories of an event type (`session.login` → authentication, session). */
export function ecsCategory(action: string): readonly string[] | undefined {
  const dot = action.indexOf('.')
  return CATEGORY_BY_PREFIX[dot > 0 ? action.slice(0, dot) : action]
}

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

/**
 * Every event-document path a reader uses, by what it is: readers (statistics, privacy,
 * segments, detection, dashboards' tests) import these instead of writing paths, so the writer
 * (enrich/enrich-event.ts), the mappings and the readers cannot disagree.
 */
export const EVENT_PATHS = Object.freeze({
  timestamp: '@timestamp',
  ingested: ecsName('received_at'),
  eventId: 'event.id',
  action: ecsName('event.type'),
  kind: 'event.kind',
  category: 'event.category',
  tenant: ecsName('tenant'),
  userId: 'user.id',
  userHash: ecsName('user.pseudo'),
  userName: 'user.name',
  userErased: ecsName('user.erased'),
  sessionId: ecsName('session.id'),
  module: ecsName('module'),
  function: ecsName('function'),
  objectType: ecsName('object.type'),
  objectId: ecsName('object.id'),
  sourceIp: 'source.ip',
  ipPrefix: ecsName('source.ip_prefix'),
  country: ecsName('source.geo.country'),
  regionName: ecsName('source.geo.region'),
  city: ecsName('source.geo.city'),
  browserName: ecsName('ua.browser.name'),
  browserMajor: ecsName('ua.browser.major'),
  osName: ecsName('ua.os.name'),
  deviceType: ecsName('ua.device.type'),
  deviceVendor: ecsName('ua.device.vendor'),
  userAgentOriginal: ecsName('ua.original'),
  deviceId: 'device.id',
  deviceHash: ecsName('device.pseudo'),
  origin: 'spor.origin',
})

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
  for (const [path, value] of flat) {
    const renamed = BY_FIRST_NAME.get(path)
    if (renamed) setPath(out, renamed, value)
    else if (KEPT.has(path)) setPath(out, path, value)
    else throw new Error(`event document field ${path} is in neither the ECS rename table nor the kept list`)
  }
  // What the document builder derives from the event type, derived the same way here, so a
  // moved document equals the one ingest would write today (except the origin, never recorded).
  const event = out.event as Record<string, unknown> | undefined
  if (event && typeof event.action === 'string') {
    event.kind = ECS_EVENT_KIND
    const category = ecsCategory(event.action)
    if (category) event.category = [...category]
  }
  return out
}

const KEPT = new Set<string>(ECS_KEPT)
const BY_ECS_NAME: ReadonlyMap<string, string> = new Map(ECS_RENAMES.map(([from, to]) => [to, from]))
const ADDED = new Set<string>(ECS_ADDED)

function flattenEcs(value: unknown, path: string, out: Map<string, unknown>): void {
  if (
    value &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    path !== 'props' &&
    path !== 'source.geo.location' &&
    path !== 'spor.position.location'
  ) {
    for (const [key, child] of Object.entries(value)) flattenEcs(child, path ? `${path}.${key}` : key, out)
  } else if (value !== undefined) {
    out.set(path, value)
  }
}

/**
 * Pure: the inverse for a document that must go back into an index of the first shape (an
 * erasure anonymising a document there before `spor migrate` moved it). Fields the first shape
 * never had (ECS_ADDED) are left out: its strict mapping would refuse them.
 */
export function toFirstShape(doc: Record<string, unknown>): Record<string, unknown> {
  if (isFirstShape(doc)) return doc
  const flat = new Map<string, unknown>()
  flattenEcs(doc, '', flat)
  const out: Record<string, unknown> = {}
  for (const [path, value] of flat) {
    const first = BY_ECS_NAME.get(path)
    if (first) setPath(out, first, value)
    else if (KEPT.has(path)) setPath(out, path, value)
    else if (!ADDED.has(path)) throw new Error(`event document field ${path} has no first-shape name`)
  }
  return out
}
