import type { estypes } from '@elastic/elasticsearch'

/**
 * Strict mappings per retention class. `dynamic: strict` makes Elasticsearch reject any field not
 * listed, so the field discipline of each class (raw identifiers only in `short`) is enforced by
 * the cluster itself, not only by the code that builds documents.
 */
type Properties = Record<string, estypes.MappingProperty>

const keyword: estypes.MappingProperty = { type: 'keyword', ignore_above: 256 }
const obj = (properties: Properties): estypes.MappingProperty => ({ type: 'object', properties })

/** Fields every event document has: "who did what, when, where roughly" (S2, S3). */
const COMMON: Properties = {
  '@timestamp': { type: 'date' },
  received_at: { type: 'date' },
  event: obj({ id: keyword, type: keyword, v: { type: 'byte' } }),
  tenant: keyword,
  // erased: set when a data-subject erasure removed the identifiers from a kept document (S9).
  user: obj({ id: keyword, pseudo: keyword, erased: { type: 'boolean' } }),
  session: obj({ id: keyword }),
  module: keyword,
  function: keyword,
  object: obj({ type: keyword, id: keyword }),
  source: obj({
    ip_prefix: { type: 'ip' },
    geo: obj({ country: keyword }),
  }),
  props: { type: 'flattened' },
}

/** Device, connection and precise location: three-week data only (S1, S10). */
const SHORT_ONLY: Properties = {
  user: obj({ name: keyword }),
  session: obj({}),
  ua: obj({
    original: { type: 'keyword', ignore_above: 1024 },
    browser: obj({ name: keyword, version: keyword, major: keyword }),
    engine: obj({ name: keyword, version: keyword }),
    os: obj({ name: keyword, version: keyword }),
    device: obj({ type: keyword, vendor: keyword, model: keyword }),
    bot: { type: 'boolean' },
    source: keyword,
  }),
  device: obj({
    id: keyword,
    pseudo: keyword,
    screen: obj({ w: { type: 'integer' }, h: { type: 'integer' } }),
    network: obj({ type: keyword, id: keyword }),
  }),
  source: obj({
    ip: { type: 'ip' },
    geo: obj({
      region: keyword,
      city: keyword,
      location: { type: 'geo_point' },
      accuracy_km: { type: 'integer' },
      timezone: keyword,
    }),
  }),
  position: obj({ location: { type: 'geo_point' }, accuracy_m: { type: 'float' } }),
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
  'ua.original',
  'device.id',
  'device.pseudo',
  'source.ip',
  'source.geo.location',
  'position',
] as const
