import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { type Clock, systemClock } from '../../core/clock.ts'
import { requirePseudonymKey } from '../../core/config.ts'
import { createEsClient } from '../../core/es.ts'
import type { SporEvent } from '../../core/event-schema.ts'
import { createProducer } from '../../core/kafka.ts'
import { createEnrichers, type Enrichers } from '../../enrich/index.ts'
import { produceEvents } from '../../generate/produce.ts'
import { generateTraffic } from '../../generate/traffic.ts'
import { IngestConsumer } from '../../ingest/consumer.ts'
import { ingestMetrics } from '../../ingest/metrics.ts'
import { documentId } from '../../ingest/plan-batch.ts'
import { type FaultPlan, startEsFaultProxy } from './es-fault-proxy.ts'
import { countDocs, endOfLatestWorkingDays, type TestEnv, waitFor } from './test-env.ts'

export const REPO_ROOT = join(import.meta.dirname, '..', '..')

/** The real ingest consumer, in this process, on the test's topics and indices. */
export async function startIngest(
  t: TestEnv,
  options: {
    clock?: Clock
    es?: TestEnv['es']
    /** Wraps the real enrichers (e.g. one that throws for a chosen input). */
    enrichers?: (real: Enrichers) => Enrichers
    isErased?: (tenant: string, user: string) => boolean
  } = {},
): Promise<IngestConsumer> {
  const real = createEnrichers({ uaCacheSize: 1000, pseudonymKey: requirePseudonymKey(t.config) })
  const consumer = new IngestConsumer({
    config: t.config,
    es: options.es ?? t.es,
    kafka: t.kafka,
    log: t.log,
    enrichers: options.enrichers ? options.enrichers(real) : real,
    clock: options.clock ?? systemClock,
    isErased: options.isErased,
  })
  await consumer.start()
  return consumer
}

/** The in-process consumer writing through a fault proxy in front of the test's Elasticsearch. */
export interface ProxiedIngest {
  consumer: IngestConsumer
  /** Stops the consumer, then closes its client and the proxy. */
  stop: () => Promise<void>
}

export async function startIngestThroughProxy(t: TestEnv, plan: FaultPlan): Promise<ProxiedIngest> {
  const proxy = await startEsFaultProxy(t.config.es.url, plan)
  const proxied = createEsClient({ ...t.config, es: { ...t.config.es, url: proxy.url } })
  const consumer = await startIngest(t, { es: proxied })
  return {
    consumer,
    stop: async () => {
      await consumer.stop()
      await proxied.close()
      await proxy.close()
    },
  }
}

/**
 * Three days of one tenant's traffic with one event singled out, `share` of the way in: a test
 * makes the bulk requests that carry it fail, and checks nothing at or past it is committed.
 */
export function trafficWithPoison(seed: number, share: number) {
  const events = [
    ...generateTraffic({
      seed,
      tenants: ['acme'],
      usersPerTenant: 30,
      days: 3,
      end: endOfLatestWorkingDays(3),
    }),
  ]
  const poisonAt = Math.floor(events.length * share)
  const poison = events[poisonAt]!
  return { events, poisonAt, poisonId: documentId(poison.tenant, poison.id) }
}

// Children are killed when the test process ends, even when a test times out midway.
const children = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

/** `spor ingest` as its own process (for crash tests), with the test's environment. */
export function spawnIngest(t: TestEnv, extraEnv: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'spor.js'), 'ingest'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...t.env,
      SPOR_INGEST_HTTP_PORT: '0',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.resume()
  child.stderr?.resume()
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

export async function produce(
  t: TestEnv,
  events: Iterable<SporEvent>,
  options: { batchSize?: number } = {},
): Promise<number> {
  const producer = createProducer(t.kafka)
  await producer.connect()
  try {
    return await produceEvents(producer, t.config.kafka.eventsTopic, events, options)
  } finally {
    await producer.disconnect()
  }
}

/** Sends raw message values (for bad-input tests). */
export async function produceRaw(t: TestEnv, values: (Buffer | string | null)[]): Promise<void> {
  const producer = createProducer(t.kafka)
  await producer.connect()
  await producer.send({
    topic: t.config.kafka.eventsTopic,
    acks: -1,
    messages: values.map((value) => ({ key: 'raw', value })),
  })
  await producer.disconnect()
}

/** Waits until the ingest group has committed up to the end of every partition. */
export async function waitForCommittedToEnd(t: TestEnv): Promise<void> {
  const admin = t.kafka.admin()
  await admin.connect()
  try {
    const { ingestGroup: groupId, eventsTopic: topic } = t.config.kafka
    const ends = await admin.fetchTopicOffsets(topic)
    await waitFor(
      async () => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions,
      (parts) =>
        // An empty partition has nothing to commit (its committed offset stays -1).
        ends.every(
          (end) => end.high === '0' || parts.find((p) => p.partition === end.partition)?.offset === end.high,
        ),
      { what: 'the ingest group to commit to the end of the topic', timeoutMs: 120_000 },
    )
  } finally {
    await admin.disconnect()
  }
}

/** Waits until the one event produced so far is indexed and the group committed past it. */
export async function firstEventThrough(t: TestEnv): Promise<void> {
  await waitFor(
    () => countDocs(t),
    (n) => n === 1,
    { what: 'the first event' },
  )
  await waitForCommittedToEnd(t)
}

/** Documents the cluster refused as a whole so far (403 blocks and such), over every bulk round. */
export async function clusterRefusals(): Promise<number> {
  const values = (await ingestMetrics.bulkRetries.get()).values
  return values.find((v) => v.labels.cause === 'cluster_refused')?.value ?? 0
}
