import type { Client } from '@elastic/elasticsearch'
import { systemClock } from '../core/clock.ts'
import { loadConfig, type SporConfig } from '../core/config.ts'
import { createEsClient } from '../core/es.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { classOf } from '../core/event-types.ts'
import { classIndex } from '../core/indices.ts'
import { createKafka, createProducer } from '../core/kafka.ts'
import { createLogger } from '../core/logger.ts'
import { dropInstallation } from '../core/teardown.ts'
import { createEnrichers, type Enrichers, enrichEvent } from '../enrich/index.ts'
import { produceEvents } from '../generate/produce.ts'
import { generateTraffic } from '../generate/traffic.ts'
import { installIndexSetup } from '../ilm-policies/install.ts'
import { IngestConsumer } from '../ingest/consumer.ts'
import { ingestMetrics } from '../ingest/metrics.ts'
import { documentId } from '../ingest/plan-batch.ts'
import { ensureTopics } from '../ingest/topics.ts'

export interface IngestBenchResult {
  events: number
  /** Including joining the consumer group. */
  endToEndPerSecond: number
  /** From the first indexed document to the last (group join excluded). */
  steadyPerSecond: number
  rawBulkPerSecond: number
  /** Ceiling measured before and after spor's run. */
  rawBulkSpread: [number, number]
  peakRssMb: number
  /** The same run with every `rejectEvery`-th event of an unknown type (dead-lettered). */
  withRejects: { rejectEvery: number; steadyPerSecond: number; batchesWithRejects: number }
}

const KEY = 'bench-only-pseudonym-key-0123456789abcdef'

function benchConfig(name: string): SporConfig {
  return loadConfig({
    ...pickSporEnv(),
    SPOR_INDEX_PREFIX: name,
    SPOR_TOPIC_PREFIX: name,
    SPOR_PSEUDONYM_KEY: KEY,
    SPOR_LOG_LEVEL: 'warn',
  })
}

function pickSporEnv(): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k of [
    'SPOR_KAFKA_BROKERS',
    'SPOR_ES_URL',
    'SPOR_PARTITIONS_CONCURRENTLY',
    'SPOR_BULK_MAX_BYTES',
  ]) {
    if (process.env[k]) out[k] = process.env[k]!
  }
  return out
}

async function indexedCount(es: Client, prefix: string): Promise<number> {
  await es.indices.refresh({ index: `${prefix}-*`, allow_no_indices: true })
  return (await es.count({ index: `${prefix}-*`, allow_no_indices: true })).count
}

/**
 * End-to-end ingest (Kafka → parse → enrich → bulk → commit) against the raw `_bulk` ceiling for
 * the same documents on the same node, measured in one run. The events are produced before the
 * clock starts, so the figure is the consumer's throughput, not the producer's.
 */
export async function runIngestBench(count = 100_000): Promise<IngestBenchResult> {
  const stamp = Date.now().toString(36)
  const e2e = benchConfig(`bench-e2e-${stamp}`)
  const rawBefore = benchConfig(`bench-rawa-${stamp}`)
  const rawAfter = benchConfig(`bench-rawb-${stamp}`)
  const rejects = benchConfig(`bench-rej-${stamp}`)
  const log = createLogger('bench', 'warn')
  const es = createEsClient(e2e)
  const kafka = createKafka(e2e, log)
  const events = [
    ...generateTraffic({
      seed: 5,
      tenants: ['acme', 'globex', 'initech', 'umbrella'],
      usersPerTenant: 500,
      days: 20,
      end: new Date(),
    }),
  ].slice(0, count)
  const enrichers = createEnrichers({ uaCacheSize: e2e.ingest.uaCacheSize, pseudonymKey: Buffer.from(KEY) })
  let peakRss = process.memoryUsage().rss
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
  }, 200)
  try {
    for (const config of [e2e, rawBefore, rawAfter, rejects]) await installIndexSetup(es, config)
    const rejectEvery = 100
    const withRejects = events.map((e, i) => (i % rejectEvery === 0 ? { ...e, type: 'bench.unknown' } : e))
    const producer = createProducer(kafka)
    await producer.connect()
    for (const [config, batch] of [
      [e2e, events],
      [rejects, withRejects],
    ] as const) {
      await ensureTopics(kafka, config)
      await produceEvents(producer, config.kafka.eventsTopic, batch, { batchSize: 2000 })
    }
    await producer.disconnect()

    // The ceiling is measured before and after spor's run: the machine is shared and noisy.
    const before = await rawBulkSeconds(es, rawBefore, events, enrichers)
    const clean = await consumeAll(
      { config: e2e, es, kafka, log, enrichers, clock: systemClock },
      events.length,
    )
    const rejected = await consumeAll(
      { config: rejects, es, kafka, log, enrichers, clock: systemClock },
      events.length - Math.ceil(events.length / rejectEvery),
    )
    const after = await rawBulkSeconds(es, rawAfter, events, enrichers)
    return {
      events: events.length,
      endToEndPerSecond: events.length / clean.fromStartSeconds,
      steadyPerSecond: events.length / clean.steadySeconds,
      rawBulkPerSecond: (2 * events.length) / (before + after),
      rawBulkSpread: [events.length / before, events.length / after],
      peakRssMb: peakRss / 1024 / 1024,
      withRejects: {
        rejectEvery,
        steadyPerSecond: events.length / rejected.steadySeconds,
        batchesWithRejects: rejected.transactions,
      },
    }
  } finally {
    clearInterval(sampler)
    for (const config of [e2e, rawBefore, rawAfter, rejects])
      await dropInstallation(es, kafka, config.es.indexPrefix)
    await es.close()
  }
}

/**
 * Runs spor's consumer until every offset is committed and `documents` are indexed: the clock
 * runs from start (group join included) and from the first indexed document.
 */
async function consumeAll(
  deps: ConstructorParameters<typeof IngestConsumer>[0],
  documents: number,
): Promise<{ fromStartSeconds: number; steadySeconds: number; transactions: number }> {
  const { config, es, kafka } = deps
  const consumer = new IngestConsumer(deps)
  const transactionsBefore = await dlqTransactionCount()
  const started = performance.now()
  let firstIndexedAt: number | undefined
  await consumer.start()
  const admin = kafka.admin()
  await admin.connect()
  try {
    const topic = config.kafka.eventsTopic
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]))
    for (;;) {
      const indexed = await indexedCount(es, config.es.indexPrefix)
      if (indexed > 0 && firstIndexedAt === undefined) firstIndexedAt = performance.now()
      if (indexed >= documents) {
        const [committed] = await admin.fetchOffsets({ groupId: config.kafka.ingestGroup, topics: [topic] })
        if (committed!.partitions.every((p) => p.offset === ends.get(p.partition))) break
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  } finally {
    await admin.disconnect()
  }
  const finished = performance.now()
  await consumer.stop()
  return {
    fromStartSeconds: (finished - started) / 1000,
    steadySeconds: (finished - (firstIndexedAt ?? started)) / 1000,
    transactions: (await dlqTransactionCount()) - transactionsBefore,
  }
}

async function dlqTransactionCount(): Promise<number> {
  const metric = await ingestMetrics.dlqTransactions.get()
  return metric.values.filter((v) => v.labels.outcome === 'committed').reduce((sum, v) => sum + v.value, 0)
}

/** The same enriched documents, serialised in advance, sent sequentially with the same bulk size. */
async function rawBulkSeconds(
  es: Client,
  config: SporConfig,
  events: SporEvent[],
  enrichers: Enrichers,
): Promise<number> {
  const now = new Date()
  const prefix = config.es.indexPrefix
  const lines = events.map((e) => {
    const cls = classOf(config.eventTypes, e.type)!
    const head = JSON.stringify({
      index: { _index: classIndex(prefix, cls, new Date(e.ts)), _id: documentId(e.tenant, e.id) },
    })
    return `${head}\n${JSON.stringify(enrichEvent(e, cls, enrichers, now))}`
  })
  const started = performance.now()
  let chunk: string[] = []
  let bytes = 0
  for (const line of lines) {
    chunk.push(line)
    bytes += line.length
    if (bytes >= config.ingest.bulkMaxBytes) {
      await es.bulk({ operations: chunk as never[] })
      chunk = []
      bytes = 0
    }
  }
  if (chunk.length > 0) await es.bulk({ operations: chunk as never[] })
  await es.indices.refresh({ index: `${prefix}-*` })
  const seconds = (performance.now() - started) / 1000
  if ((await indexedCount(es, prefix)) !== events.length) throw new Error('raw bulk lost documents')
  return seconds
}
