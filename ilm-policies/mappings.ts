import type { estypes } from '@elastic/elasticsearch'
import { ECS_RENAMES } from '../core/ecs-fields.ts'

/**
 * Strict mappings per retention class. `dynamic: strict` makes Elasticsearch reject any field not
 * listed, so the field discipline of each class (raw identifiers only in `short`) is enforced by
 * the cluster itself, not only by the code that builds documents.
 */
type Properties = Record<string, estypes.MappingProperty>

const keyword: estypes.MappingProperty = { type: 'keyword', ignore_above: 256 }
const obj = (properties: Properties): estypes.MappingProperty => ({ type: 'object', properties })

/**
 * Fields every event document has: "who did what, when, where roughly" (S2, S3), in Elastic
 * Common Schema names (core/ecs-fields.ts); spor's own fields under `spor`.
 */
const COMMON: Properties = {
  '@timestamp': { type: 'date' },
  event: obj({
    id: keyword,
    action: keyword,
    kind: keyword,
    category: keyword,
    ingested: { type: 'date' },
  }),
  organization: obj({ id: keyword }),
  user: obj({ id: keyword, hash: keyword }),
  source: obj({ geo: obj({ country_iso_code: keyword }) }),
  spor: obj({
    event_version: { type: 'byte' },
    origin: keyword,
    // set when a data-subject erasure removed the identifiers from a kept document (S9)
    user_erased: { type: 'boolean' },
    session: obj({ id: keyword }),
    module: keyword,
    function: keyword,
    object: obj({ type: keyword, id: keyword }),
    source: obj({ ip_prefix: { type: 'ip' } }),
  }),
  props: { type: 'flattened' },
}

/** Device, connection and precise location: three-week data only (S1, S10). */
const SHORT_ONLY: Properties = {
  user: obj({ name: keyword }),
  source: obj({
    ip: { type: 'ip' },
    geo: obj({
      region_name: keyword,
      region_iso_code: keyword,
      city_name: keyword,
      location: { type: 'geo_point' },
      timezone: keyword,
    }),
  }),
  user_agent: obj({
    original: { type: 'keyword', ignore_above: 1024 },
    name: keyword,
    version: keyword,
    os: obj({ name: keyword, version: keyword }),
    device: obj({ name: keyword }),
  }),
  device: obj({ id: keyword, manufacturer: keyword }),
  spor: obj({
    geo: obj({ accuracy_km: { type: 'integer' } }),
    user_agent: obj({
      major: keyword,
      engine: obj({ name: keyword, version: keyword }),
      bot: { type: 'boolean' },
      source: keyword,
    }),
    device: obj({
      type: keyword,
      hash: keyword,
      screen: obj({ w: { type: 'integer' }, h: { type: 'integer' } }),
    }),
    network: obj({ type: keyword, id: keyword }),
    position: obj({ location: { type: 'geo_point' }, accuracy_m: { type: 'float' } }),
  }),
}

/** Deep-merges object mappings so a class can extend the common fields of a sub-object. */
export function mergeProperties(base: Properties, extra: Properties): Properties {
  const out: Properties = { ...base }
  for (const [name, prop] of Object.entries(extra)) {
    const existing = out[name]
    if (
      existing &&
      'properties' in existing &&
      'properties' in prop &&
      existing.properties &&
      prop.properties
    ) {
      out[name] = { ...existing, properties: mergeProperties(existing.properties, prop.properties) }
    } else {
      out[name] = prop
    }
  }
  return out
}

export const SHORT_PROPERTIES: Properties = mergeProperties(COMMON, SHORT_ONLY)
export const LONG_PROPERTIES: Properties = COMMON

/** Field paths that must never appear in a long-class document (tests scan for them). */
export const SHORT_ONLY_FIELDS = [
  'user.name',
  'user_agent',
  'device',
  'spor.device',
  'spor.user_agent',
  'spor.network',
  'source.ip',
  'source.geo.location',
  'source.geo.city_name',
  'spor.position',
] as const

/** Leaf paths of a mapping's properties (objects descended into, other fields are leaves). */
export function mappingLeaves(properties: Properties, prefix = ''): string[] {
  return Object.entries(properties).flatMap(([name, prop]) => {
    const path = prefix ? `${prefix}.${name}` : name
    return 'properties' in prop && prop.properties && prop.type !== 'nested'
      ? mappingLeaves(prop.properties, path)
      : [path]
  })
}

/**
 * Field aliases that let an index of first-shape event documents answer queries by ECS names
 * while `spor migrate` moves them (readers query `organization.id`, the old index has `tenant`):
 * one alias per renamed field the index actually maps. Aggregations, filters, sorts and ranges
 * resolve aliases; `_source` does not, so readers turn stored documents into the ECS shape with
 * core/ecs-fields.ts `toEcsDocument` as they read them.
 */
export function firstShapeAliases(existing: Properties): Properties {
  return fieldAliases(
    existing,
    ECS_RENAMES.map(([first, ecs]) => [ecs, first] as const),
  )
}

/**
 * The reverse: aliases by the first names on an index of ECS documents, so code of a release
 * before the rename (the benchmarks' baseline checkout) can query it.
 */
export function ecsShapeFirstNameAliases(existing: Properties): Properties {
  return fieldAliases(
    existing,
    ECS_RENAMES.map(([first, ecs]) => [first, ecs] as const),
  )
}

/** One alias at `name` per [name, path] pair whose `path` the index maps. */
function fieldAliases(existing: Properties, pairs: readonly (readonly [string, string])[]): Properties {
  const leaves = new Set(mappingLeaves(existing))
  let out: Properties = {}
  for (const [name, path] of pairs) {
    if (!leaves.has(path)) continue
    const parts = name.split('.')
    let node: Properties = { [parts[parts.length - 1]!]: { type: 'alias', path } }
    for (const part of parts.slice(0, -1).reverse()) node = { [part]: obj(node) }
    out = mergeProperties(out, node)
  }
  return out
}
