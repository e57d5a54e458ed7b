import type { estypes } from '@elastic/elasticsearch'
import { SporError } from './errors.ts'

/**
 * SPOR_ES_REPLICAS read once: the index settings spor writes into templates and single indices,
 * and the replica count those settings give on a cluster of n data nodes (what the capacity
 * audit counts). One parser, so the settings written and the shards counted cannot disagree.
 */
export interface ReplicaPlan {
  /** Index settings: a fixed count (auto-expand off) or an auto-expand range. */
  settings: estypes.IndicesIndexSettings
  /** Replicas per primary on a cluster with `dataNodes` data nodes. */
  replicasOn(dataNodes: number): number
}

const FIXED = /^(\d{1,2})$/
const RANGE = /^(\d{1,2})-(\d{1,2}|all)$/

/**
 * "1" is a fixed count; "0-1" or "0-all" auto-expands. As Elasticsearch's AutoExpandReplicas
 * does, a range gives one copy per other data node, at least the lower and at most the upper
 * bound ("all" means every other data node).
 */
export function parseReplicas(setting: string): ReplicaPlan {
  const fixed = FIXED.exec(setting)
  if (fixed) {
    const count = Number(fixed[1])
    return {
      settings: { number_of_replicas: count, auto_expand_replicas: 'false' },
      replicasOn: () => count,
    }
  }
  const range = RANGE.exec(setting)
  if (!range)
    throw new SporError(
      'SPOR_ERR_CONFIG',
      `SPOR_ES_REPLICAS must be a count ("1") or a range ("0-1", "0-all"), got ${JSON.stringify(setting)}`,
    )
  const lower = Number(range[1])
  const upper = range[2] === 'all' ? undefined : Number(range[2])
  return {
    settings: { auto_expand_replicas: setting },
    replicasOn: (dataNodes) => {
      const others = Math.max(0, dataNodes - 1)
      return Math.max(lower, Math.min(upper ?? others, others))
    },
  }
}
