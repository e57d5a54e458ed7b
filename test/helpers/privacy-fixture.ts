import { systemClock } from '../../core/clock.ts'
import { requirePseudonymKey } from '../../core/config.ts'
import { createEnrichers } from '../../enrich/index.ts'
import { IngestConsumer } from '../../ingest/consumer.ts'
import { startTombstoneCache } from '../../privacy/tombstones.ts'
import { produce } from './ingest.ts'
import type { TestEnv } from './test-env.ts'

/** The real ingest consumer wired as `spor ingest` wires it: with the erasure tombstone cache. */
export async function startIngestWithTombstones(
  t: TestEnv,
): Promise<{ stop: () => Promise<void>; isErased: (tenant: string, user: string) => boolean }> {
  const tombstones = await startTombstoneCache(t.es, t.config, t.log)
  const consumer = new IngestConsumer({
    config: t.config,
    es: t.es,
    kafka: t.kafka,
    log: t.log,
    enrichers: createEnrichers({ uaCacheSize: 1000, pseudonymKey: requirePseudonymKey(t.config) }),
    clock: systemClock,
    isErased: (tenant, user) => tombstones.isErased(tenant, user),
  })
  await consumer.start()
  return {
    /** What the consumer's tombstone cache believes now (tests wait on it instead of sleeping). */
    isErased: (tenant, user) => tombstones.isErased(tenant, user),
    stop: async () => {
      await consumer.stop()
      tombstones.stop()
    },
  }
}

/** Produces events to the test's events topic (the ingest helper's producer). */
export const produceAll = produce

export async function resetToEarliest(t: TestEnv): Promise<void> {
  const admin = t.kafka.admin()
  await admin.connect()
  try {
    const { ingestGroup: groupId, eventsTopic: topic } = t.config.kafka
    await admin.resetOffsets({ groupId, topic, earliest: true })
  } finally {
    await admin.disconnect()
  }
}

/** Alerts as detection writes them (tenant + related_users); the index gets its fields explicitly. */
export async function seedAlerts(
  t: TestEnv,
  index: string,
  alerts: { id: string; tenant: string; related_users: string[]; at: Date; rule: string }[],
): Promise<void> {
  const exists = await t.es.indices.exists({ index })
  if (!exists) {
    await t.es.indices.create({
      index,
      settings: { number_of_shards: 1, number_of_replicas: 0 },
      mappings: {
        properties: {
          '@timestamp': { type: 'date' },
          tenant: { type: 'keyword' },
          related_users: { type: 'keyword' },
          rule: { type: 'keyword' },
        },
      },
    })
  }
  await t.es.bulk({
    refresh: 'wait_for',
    operations: alerts.flatMap((a) => [
      { index: { _index: index, _id: a.id } },
      { '@timestamp': a.at.toISOString(), tenant: a.tenant, related_users: a.related_users, rule: a.rule },
    ]),
  })
}
