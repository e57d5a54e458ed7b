import type { Client } from '@elastic/elasticsearch'
import type { SporConfig } from '../core/config.ts'
import {
  classPattern,
  INDEX_PERIODS,
  type IndexPeriod,
  parseClassIndex,
  projectedPrimaries,
  SHARD_BUDGET,
} from '../core/indices.ts'
import { parseReplicas } from '../core/replicas.ts'
import { RETENTION_CLASSES, type RetentionClass } from '../core/retention.ts'

/**
 * Capacity side of the audit: how many shards spor holds per class now, how many it will hold at
 * steady state with this retention table and index layout, and whether that fits spor's budget
 * (100 primaries) and the cluster's own ceiling (`cluster.max_shards_per_node` × data nodes,
 * beyond which Elasticsearch refuses to create an index and new days' events would dead-letter).
 */
export interface ClassCapacity {
  cls: RetentionClass
  period: IndexPeriod
  indices: number
  primaries: number
  /** Indices of the first layout (daily, or event documents before ECS names) awaiting `spor migrate`. */
  legacy: number
  projected: number
}

export interface CapacityAudit {
  budget: number
  classes: ClassCapacity[]
  primaries: number
  projectedPrimaries: number
  /** Projected shards including replicas (what counts against the cluster limit). */
  projectedShards: number
  cluster: {
    maxShardsPerNode: number | null
    dataNodes: number
    /** maxShardsPerNode × data nodes; null when the setting could not be read. */
    limit: number | null
    /** Every shard of every open index in the cluster now, spor's and others'. */
    shards: number
    /** Shards of this installation now (primaries and replicas). */
    sporShards: number
  }
  /** Problems that make `spor retention audit` exit non-zero. */
  violations: string[]
  /** Worth knowing, not a violation (e.g. legacy indices awaiting migration). */
  notes: string[]
}

export interface CapacityInputs {
  budget: number
  projected: Record<RetentionClass, number>
  replicas: number
  indices: { name: string; primaries: number; replicas: number }[]
  prefix: string
  maxShardsPerNode: number | null
  dataNodes: number
  clusterShards: number
}

/** Pure: the capacity verdict from what was measured. */
export function assessCapacity(input: CapacityInputs): CapacityAudit {
  const classes: ClassCapacity[] = RETENTION_CLASSES.map((cls) => ({
    cls,
    period: INDEX_PERIODS[cls],
    indices: 0,
    primaries: 0,
    legacy: 0,
    projected: input.projected[cls],
  }))
  const byClass = new Map(classes.map((c) => [c.cls, c]))
  let sporShards = 0
  for (const index of input.indices) {
    const parsed = parseClassIndex(index.name)
    if (!parsed || parsed.prefix !== input.prefix) continue
    const entry = byClass.get(parsed.cls)!
    entry.indices++
    entry.primaries += index.primaries
    if (parsed.layout === 'legacy') entry.legacy++
    sporShards += index.primaries * (1 + index.replicas)
  }
  const primaries = classes.reduce((sum, c) => sum + c.primaries, 0)
  const projected = classes.reduce((sum, c) => sum + c.projected, 0)
  const projectedShards = projected * (1 + input.replicas)
  const limit = input.maxShardsPerNode === null ? null : input.maxShardsPerNode * input.dataNodes
  const violations: string[] = []
  const notes: string[] = []
  if (projected > input.budget) {
    const detail = classes.map((c) => `${c.cls} ${c.projected}`).join(', ')
    violations.push(
      `projected steady state of ${projected} primary shards exceeds the budget of ${input.budget} (${detail}): shorten a retention or coarsen an index period`,
    )
  }
  if (limit !== null) {
    // Other indices on the cluster keep their shards; spor's own grow or shrink to the projection.
    const others = Math.max(0, input.clusterShards - sporShards)
    if (others + projectedShards > limit) {
      violations.push(
        `projected ${projectedShards} spor shards plus ${others} other shards exceed the cluster limit of ${limit} (cluster.max_shards_per_node ${input.maxShardsPerNode} × ${input.dataNodes} data nodes): new indices would be refused`,
      )
    }
  }
  const legacy = classes.reduce((sum, c) => sum + c.legacy, 0)
  if (legacy > 0)
    notes.push(`${legacy} indices of the first layout (daily, or before ECS names) await \`spor migrate\``)
  if (primaries > input.budget) {
    notes.push(
      `${primaries} primaries now, above the budget of ${input.budget} until migration and retention catch up`,
    )
  }
  return {
    budget: input.budget,
    classes,
    primaries,
    projectedPrimaries: projected,
    projectedShards,
    cluster: {
      maxShardsPerNode: input.maxShardsPerNode,
      dataNodes: input.dataNodes,
      limit,
      shards: input.clusterShards,
      sporShards,
    },
    violations,
    notes,
  }
}

function settingOf(settings: Record<string, unknown> | undefined, key: string): number | null {
  const value = settings?.[key]
  if (value === undefined || value === null) return null
  const n = Number(value)
  return Number.isFinite(n) ? n : null
}

/** Measures the cluster and this installation's indices, then assesses. */
export async function auditCapacity(es: Client, config: SporConfig): Promise<CapacityAudit> {
  const prefix = config.es.indexPrefix
  const rows = (await es.cat.indices({
    index: RETENTION_CLASSES.map((cls) => classPattern(prefix, cls)),
    format: 'json',
    h: 'index,pri,rep',
    expand_wildcards: ['open'],
  })) as { index?: string; pri?: string; rep?: string }[]
  const settings = await es.cluster.getSettings({ include_defaults: true, flat_settings: true })
  const key = 'cluster.max_shards_per_node'
  const maxShardsPerNode =
    settingOf(settings.transient, key) ??
    settingOf(settings.persistent, key) ??
    settingOf(settings.defaults as Record<string, unknown> | undefined, key)
  const health = await es.cluster.health()
  const replicas = parseReplicas(config.esConnection.replicas).replicasOn(health.number_of_data_nodes)
  return assessCapacity({
    budget: SHARD_BUDGET,
    projected: projectedPrimaries(config.retentionDays),
    replicas,
    indices: rows.flatMap((row) =>
      row.index ? [{ name: row.index, primaries: Number(row.pri ?? 1), replicas: Number(row.rep ?? 0) }] : [],
    ),
    prefix,
    maxShardsPerNode,
    dataNodes: health.number_of_data_nodes,
    clusterShards: health.active_shards + health.initializing_shards + health.unassigned_shards,
  })
}
