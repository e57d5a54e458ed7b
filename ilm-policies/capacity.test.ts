import { describe, expect, it } from 'vitest'
import { projectedPrimaries, SHARD_BUDGET } from '../core/indices.ts'
import { DEFAULT_RETENTION_DAYS } from '../core/retention.ts'
import { assessCapacity, type CapacityInputs } from './capacity.ts'

const BASE: CapacityInputs = {
  budget: SHARD_BUDGET,
  projected: projectedPrimaries(DEFAULT_RETENTION_DAYS),
  replicas: 0,
  indices: [
    { name: 'spor-short-ecs-2026.03.01', primaries: 1, replicas: 0 },
    { name: 'spor-long-ecs-month-2026.03.01', primaries: 1, replicas: 0 },
    { name: 'spor-long-2026.02.11', primaries: 1, replicas: 0 },
    { name: 'spor-stats-year-2026.01.01', primaries: 1, replicas: 0 },
    { name: 'other-short-2026.03.01', primaries: 1, replicas: 0 },
    { name: 'spor-short-2026.03.01-restored', primaries: 1, replicas: 0 },
  ],
  prefix: 'spor',
  maxShardsPerNode: 1000,
  dataNodes: 1,
  clusterShards: 200,
}

describe('assessCapacity', () => {
  it('counts only this installation, by class and layout, against the projection', () => {
    const audit = assessCapacity(BASE)
    expect(audit.violations).toEqual([])
    expect(audit.primaries).toBe(4)
    expect(audit.projectedPrimaries).toBe(58)
    const long = audit.classes.find((c) => c.cls === 'long')!
    expect(long).toEqual({ cls: 'long', period: 'month', indices: 2, primaries: 2, legacy: 1, projected: 14 })
    expect(audit.notes).toEqual([
      '1 indices of the first layout (daily, or before ECS names) await `spor migrate`',
    ])
    expect(audit.cluster).toMatchObject({ limit: 1000, sporShards: 4, shards: 200 })
  })

  it('a retention table whose steady state exceeds the budget is a violation', () => {
    const projected = projectedPrimaries({ ...DEFAULT_RETENTION_DAYS, short: 90 })
    const audit = assessCapacity({ ...BASE, projected })
    expect(projected.short).toBe(93)
    expect(audit.violations).toHaveLength(1)
    expect(audit.violations[0]).toMatch(
      /projected steady state of 127 primary shards exceeds the budget of 100/,
    )
  })

  it('a projection that does not fit the cluster limit beside the other indices is a violation', () => {
    // 58 primaries × 2 copies + 900 shards of other indices > 1000.
    const audit = assessCapacity({ ...BASE, replicas: 1, clusterShards: 904 })
    expect(audit.violations).toEqual([
      expect.stringMatching(/116 spor shards plus 900 other shards exceed the cluster limit of 1000/),
    ])
    // Two data nodes double the limit.
    expect(assessCapacity({ ...BASE, replicas: 1, clusterShards: 904, dataNodes: 2 }).violations).toEqual([])
  })

  it('an unreadable cluster limit is not a violation by itself', () => {
    expect(assessCapacity({ ...BASE, maxShardsPerNode: null }).cluster.limit).toBeNull()
    expect(assessCapacity({ ...BASE, maxShardsPerNode: null }).violations).toEqual([])
  })
})
