import type { estypes } from '@elastic/elasticsearch'
import { currentPattern, PRIMARY_SHARDS } from '../core/indices.ts'
import type { RetentionClass } from '../core/retention.ts'
import { ALERT_PROPERTIES } from '../detect/alert-mapping.ts'
import { STATS_PROPERTIES } from '../query/rollups/mapping.ts'
import { PROFILE_PROPERTIES } from '../segments/profile-mapping.ts'
import { LONG_PROPERTIES, SHORT_PROPERTIES } from './mappings.ts'
import { policyName } from './policies.ts'

type Properties = Record<string, estypes.MappingProperty>

/** Mappings per class: every class spor writes has exactly one strict template. */
const CLASS_PROPERTIES: Partial<Record<RetentionClass, Properties>> = {
  short: SHORT_PROPERTIES,
  long: LONG_PROPERTIES,
  alerts: ALERT_PROPERTIES,
  profiles: PROFILE_PROPERTIES,
  stats: STATS_PROPERTIES,
}

export function templateName(prefix: string, cls: RetentionClass): string {
  return `${prefix}-${cls}`
}

/**
 * Shard and replica settings of every spor index, in one place (the capacity audit counts
 * primaries from PRIMARY_SHARDS). Replicas come from SPOR_ES_REPLICAS (core/es.ts
 * replicaSettings); the default auto-expands 0-1: green on one node, a copy of every shard on a
 * multi-node cluster.
 */
export function indexShardSettings(
  replicas: estypes.IndicesIndexSettings = { auto_expand_replicas: '0-1' },
): estypes.IndicesIndexSettings {
  return { number_of_shards: PRIMARY_SHARDS, ...replicas }
}

export function indexTemplate(
  prefix: string,
  cls: RetentionClass,
  options: { ilm: boolean; replicas?: estypes.IndicesIndexSettings },
): estypes.IndicesPutIndexTemplateRequest {
  const properties = CLASS_PROPERTIES[cls]
  if (!properties) throw new Error(`no mappings registered for class ${cls}`)
  const settings: estypes.IndicesIndexSettings = {
    ...indexShardSettings(options.replicas),
    refresh_interval: '1s',
  }
  if (options.ilm) {
    // Only where the cluster has ILM: the local node rejects these settings as unknown.
    settings['index.lifecycle.name'] = policyName(prefix, cls)
    settings['index.lifecycle.parse_origination_date'] = true
  }
  return {
    name: templateName(prefix, cls),
    index_patterns: [currentPattern(prefix, cls)],
    priority: 200,
    _meta: { managed_by: 'spor', class: cls },
    template: { settings, mappings: { dynamic: 'strict', properties } },
  }
}

export function registeredClasses(): RetentionClass[] {
  return Object.keys(CLASS_PROPERTIES) as RetentionClass[]
}
