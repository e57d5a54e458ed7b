import { getHeapStatistics } from 'node:v8'
import Fastify from 'fastify'
import { Gauge } from 'prom-client'
import { systemClock } from '../core/clock.ts'
import { requirePseudonymKey, type SporConfig } from '../core/config.ts'
import { createEsClient, waitForEs } from '../core/es.ts'
import { createKafka, waitForKafka } from '../core/kafka.ts'
import { JobLeases } from '../core/lease.ts'
import type { Logger } from '../core/logger.ts'
import { registerOpsRoutes } from '../core/ops-plugin.ts'
import { runUntilSignal } from '../core/service.ts'
import { startupOptions, startupSteps } from '../core/startup.ts'
import { configuredGeoDbPaths, sharedGeoDatabase } from '../enrich/geo-database.ts'
import { createEnrichers } from '../enrich/index.ts'
import { startIngestRetention } from '../ilm-policies/retention-schedule.ts'
import { startTombstoneCache } from '../privacy/tombstones.ts'
import { startSegmentsSchedule } from '../segments/schedule.ts'
import { IngestConsumer } from './consumer.ts'

/** `spor ingest`: the consumer plus its /health, /ready and /metrics endpoints. */
export async function runIngest(config: SporConfig, log: Logger): Promise<never> {
  // Opened (and checked) before anything connects: a missing or corrupt file stops the start.
  const geo = sharedGeoDatabase(configuredGeoDbPaths(config.ingest.geoDbFiles))
  geo.watch({ intervalMs: config.ingest.geoCheckMs, maxAgeDays: config.ingest.geoMaxAgeDays, log })
  log.info(geo.info, 'geo database loaded')
  const enrichers = createEnrichers({
    uaCacheSize: config.ingest.uaCacheSize,
    pseudonymKey: requirePseudonymKey(config),
    geo,
  })
  const es = createEsClient(config)
  const kafka = createKafka(config, log)
  const startup = startupOptions(config, log)
  await Promise.all([waitForEs(es, startup), waitForKafka(kafka, startup)])

  // Erased subjects (S9): loaded before consuming starts, so a replay cannot bring anyone back.
  // A one-off 502 while creating the tombstone index is retried, not an exit.
  const tombstones = await startupSteps(config, log)('tombstones', () => startTombstoneCache(es, config, log))
  const consumer = new IngestConsumer({
    config,
    es,
    kafka,
    log,
    enrichers,
    clock: systemClock,
    isErased: (tenant, user) => tombstones.isErased(tenant, user),
  })
  // The heap limit in effect (SPOR_INGEST_HEAP_MB, applied by bin/spor.js): operators see the
  // cap the process runs under next to its heap and resident memory.
  new Gauge({
    name: 'spor_ingest_heap_limit_bytes',
    help: 'V8 heap size limit of the ingest pipeline (SPOR_INGEST_HEAP_MB plus the young generation)',
    collect() {
      this.set(getHeapStatistics().heap_size_limit)
    },
  })
  const ops = Fastify({ logger: false })
  await registerOpsRoutes(ops, async () => ({
    ready: consumer.state === 'running',
    consumer: consumer.state,
    lastBatchAt: consumer.lastBatchAt?.toISOString() ?? null,
  }))
  await ops.listen({ host: '127.0.0.1', port: config.ingest.httpPort })
  await consumer.start()
  // Periodic jobs run in one ingest instance per interval (leases in Elasticsearch).
  const leases = new JobLeases(es, config.es.indexPrefix)
  const retention = startIngestRetention(es, config, log, systemClock, leases)
  // Daily user categorisation (S5): yesterday's profiles, once a day, idempotent.
  const segments = startSegmentsSchedule(es, config, log, { leases })
  log.info({ port: config.ingest.httpPort }, 'ingest ready (health, ready, metrics)')

  return runUntilSignal(
    log,
    async () => {
      await retention?.stop()
      await segments?.stop()
      await consumer.stop()
      tombstones.stop()
      geo.close()
      await ops.close()
      await es.close()
    },
    consumer.fatal,
  )
}
