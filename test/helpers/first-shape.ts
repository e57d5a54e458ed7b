import type { Client, estypes } from '@elastic/elasticsearch'
import { mergeProperties } from '../../ilm-policies/mappings.ts'

/**
 * The strict mappings of event indices before ECS field names (spor's first shape), frozen here
 * as installations made before the rename have them: the migration tests create legacy indices
 * with these, so the aliases and the move meet what a real old cluster holds.
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

export const FIRST_SHAPE_PROPERTIES = {
  short: mergeProperties(COMMON, SHORT_ONLY),
  long: COMMON,
} as const

/** Creates an index of first-shape event documents, as spor's first templates made them. */
export async function createFirstShapeIndex(es: Client, index: string, cls: 'short' | 'long'): Promise<void> {
  await es.indices.create({
    index,
    settings: { number_of_shards: 1, number_of_replicas: 0 },
    mappings: { dynamic: 'strict', properties: FIRST_SHAPE_PROPERTIES[cls] },
  })
}
