import type { TestEnv } from './test-env.ts'

/** Offsets per partition of a topic: the ingest group's committed ones, or the topic's ends. */
export class PartitionOffsets extends Map<number, number> {
  toJSON(): Record<string, number> {
    return Object.fromEntries(this)
  }
}

export async function committedOffsets(
  t: TestEnv,
  groupId = t.config.kafka.ingestGroup,
): Promise<PartitionOffsets> {
  const admin = t.kafka.admin()
  await admin.connect()
  try {
    const [topic] = await admin.fetchOffsets({ groupId, topics: [t.config.kafka.eventsTopic] })
    return new PartitionOffsets(topic!.partitions.map((p) => [p.partition, Math.max(0, Number(p.offset))]))
  } finally {
    await admin.disconnect()
  }
}

export async function endOffsets(t: TestEnv, topic = t.config.kafka.eventsTopic): Promise<PartitionOffsets> {
  const admin = t.kafka.admin()
  await admin.connect()
  try {
    const offsets = await admin.fetchTopicOffsets(topic)
    return new PartitionOffsets(offsets.map((p) => [p.partition, Number(p.high)]))
  } finally {
    await admin.disconnect()
  }
}

export function sum(offsets: PartitionOffsets): number {
  let total = 0
  for (const value of offsets.values()) total += value
  return total
}

/** True when the group has committed every record the topic held when `ends` was taken. */
export function reached(committed: PartitionOffsets, ends: PartitionOffsets): boolean {
  for (const [partition, end] of ends) if ((committed.get(partition) ?? 0) < end) return false
  return true
}
