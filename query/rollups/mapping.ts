import type { estypes } from '@elastic/elasticsearch'

/**
 * Strict mapping of the `stats` class (`<prefix>-stats-YYYY.MM.DD`): anonymous daily rollups.
 * No field can hold a person: groups are (tenant, module, dimension, value) and distinct users are
 * HyperLogLog registers (`binary`, not searchable) built from per-tenant HMAC pseudonyms.
 */
const keyword: estypes.MappingProperty = { type: 'keyword', ignore_above: 256 }

export const STATS_PROPERTIES: Record<string, estypes.MappingProperty> = {
  day: { type: 'date', format: 'strict_date' },
  tenant: keyword,
  module: keyword,
  dim: keyword,
  key: keyword,
  events: { type: 'long' },
  users_estimate: { type: 'integer' },
  users_sketch: { type: 'binary' },
  sessions: { type: 'integer' },
  session_durations: { type: 'binary' },
  computed_at: { type: 'date' },
  /** Completion marker only: raw short-class documents of the day the rollup was computed from. */
  source_events: { type: 'long' },
  v: { type: 'byte' },
}
