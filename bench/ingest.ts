import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Client } from '@elastic/elasticsearch'
import kafkajs, { type Kafka } from 'kafkajs'
import { loadConfig, type SporConfig } from '../core/config.ts'
import { createEsClient, whenShardsStarted } from '../core/es.ts'
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
import { partitionKey } from '../ingest/collector/app.ts'
import { documentId } from '../ingest/plan-batch.ts'
import { ensureTopics } from '../ingest/topics.ts'
// The children's /metrics ports: fixed ones collide with other processes' ephemeral ports.
import { freePort } from '../test/helpers/test-env.ts'
import { IndexingSampler, type SteadyWindow, steadyWindow } from './indexing-window.ts'
import { ingestBenchEvents } from './ingest-events.ts'
import { IngestProcess, type MemorySample } from './ingest-process.ts'
import {
  cpuLoad,
  isolateElasticsearch,
  localServers,
  type ServerLoad,
  type ServerProcesses,
  serverCpu,
  serverLoad,
} from './server-cpu.ts'

export interface IngestRun {
  label: string
  /** Including process start and joining the consumer group. */
  fromStartPerSecond: number
  /** From the consumer's joining the group (`/ready`) to the last offset committed. */
  steadyPerSecond: number
  /** CPU time of the `spor ingest` process per event in the steady part, µs (user + system). */
  cpuMicrosPerEvent: number
  /** VmHWM of the `spor ingest` process. */
  peakRssMb: number
  /** Heap and external memory when the sampled RSS was highest (undefined: no default metrics). */
  memory?: MemorySample
  /** Bulk bytes in flight, median and 90th percentile of the scrapes, MB (undefined: older code). */
  inFlightMb?: { p50: number; p90: number }
  /** Bulk requests and Kafka batches over the run (the first few before the steady clock). */
  requests: { bulk: number; batches: number }
  /** Share of one core `spor ingest` used in the steady part, %. */
  coreShare: number
  /** The raw ceiling around this row: the mean of the raw passes just before and just after it. */
  ceilingAround: number
  /**
   * The steady state, timed by the node's own count of documents indexed (indexing-window.ts),
   * with the share of a core the node and `spor ingest` used in it; undefined if too short.
   */
  steady?: SteadyWindow
  /** The same window of the raw passes around it (their mean), events/s. */
  steadyCeilingAround?: number
  /** What the Elasticsearch node and the broker spent meanwhile (when they run on this host). */
  servers: ServerLoad
}

export interface IngestBenchOptions {
  /** Node options for the `spor ingest` children of this code (e.g. `--cpu-prof`). */
  nodeArgs?: string[]
  /** Elasticsearch on CPU 0 alone, everything else on the others (server-cpu.ts). */
  isolateEs?: boolean
  /**
   * How many times the spor rows run, before and after alternating (each round on its own topics
   * and indices): this host's speed drifts by a third within minutes, so one row each can show
   * the older code faster or slower by chance; the report gives each label's median.
   */
  rounds?: number
}

/** One raw `_bulk` measurement: its rate and what the Elasticsearch node spent. */
export interface RawBulkRun {
  perSecond: number
  servers: ServerLoad
  /** The same window as the spor rows' `steady`. */
  steady?: SteadyWindow
}

export interface IngestBenchResult {
  events: number
  /** The highest raw pass. */
  rawBulkPerSecond: number
  /**
   * Every raw pass in order: one before the first spor row and one after each. The host's speed
   * drifts by up to a third within one run, so a row is compared with the passes around it.
   */
  rawBulk: RawBulkRun[]
  /** Whether Elasticsearch had CPU 0 to itself (`isolateEs`). */
  isolatedEs: boolean
  /** Shards the node held before the bench created any: each is refreshed every second, and
   * 300 of them (as interrupted test runs leave behind) cost about a quarter of the ceiling. */
  otherShards: number
  bulkConcurrency: number
  runs: IngestRun[]
  zstd: IngestRun | { skipped: string }
  latency: { ratePerSecond: number; samples: number; p50Ms: number; p95Ms: number; maxMs: number }
}

/** The labels of the spor rows of a baseline checkout and of this code. */
export const BEFORE = 'before (baseline checkout)'
export const AFTER = 'after (this code)'
const REPO_ROOT = new URL('..', import.meta.url).pathname
const KEY = 'bench-only-pseudonym-key-0123456789abcdef'
/** Settings of the bench's environment passed on to `spor ingest`, when its code knows them. */
const PASS_THROUGH = [
  'SPOR_KAFKA_BROKERS',
  'SPOR_ES_URL',
  'SPOR_PARTITIONS_CONCURRENTLY',
  'SPOR_BULK_MAX_BYTES',
  'SPOR_INGEST_MAX_INFLIGHT_BYTES',
  'SPOR_BULK_CONCURRENCY',
  'SPOR_GEOIP_DB',
  'SPOR_INGEST_HEAP_MB',
]

/** The configuration sources (core/, tests left out) of each checkout, read once. */
const coreSources = new Map<string, string>()

/**
 * Whether the checkout at `repoRoot` reads a variable: an older baseline refuses unknown ones at
 * start, so it gets only those its configuration (core/) names.
 */
function knowsVariable(repoRoot: string, name: string): boolean {
  let sources = coreSources.get(repoRoot)
  if (sources === undefined) {
    const core = join(repoRoot, 'core')
    sources = readdirSync(core)
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
      .map((file) => readFileSync(join(core, file), 'utf8'))
      .join('\n')
    coreSources.set(repoRoot, sources)
  }
  return sources.includes(`'${name}'`)
}

function sporEnv(name: string, repoRoot: string): Record<string, string> {
  const optional: Record<string, string> = {
    // The daily profiles are not ingest either: a process computes them at start, and their
    // aggregations and upserts would land on the node during the measured minute.
    SPOR_SEGMENTS_EVERY_MS: '0',
  }
  for (const k of PASS_THROUGH) if (process.env[k]) optional[k] = process.env[k]!
  const env: Record<string, string> = {
    SPOR_INDEX_PREFIX: name,
    SPOR_TOPIC_PREFIX: name,
    SPOR_PSEUDONYM_KEY: KEY,
    SPOR_LOG_LEVEL: 'warn',
    // The retention enforcer would scan and delete on its own schedule; not part of ingest.
    SPOR_ENFORCE_EVERY_MS: '0',
  }
  for (const [k, v] of Object.entries(optional)) if (knowsVariable(repoRoot, k)) env[k] = v
  return env
}

const benchConfig = (name: string): SporConfig => loadConfig(sporEnv(name, REPO_ROOT))

/**
 * Builds a checkout's precompiled CLI (bin/compiled.js) when its sources changed since: bin/spor.js
 * otherwise falls back to tsx, whose loader thread adds CPU and about 60 MB of resident memory to
 * every figure of the row (a stale build did so unnoticed on 2026-12-02). Checkouts from before
 * the precompiled CLI run as they are.
 */
async function ensureCurrentBuild(root: string): Promise<void> {
  const script = join(root, 'bin', 'compiled.js')
  if (!existsSync(script)) return
  const compiled = (await import(script)) as {
    currentBuild(outDir?: string): URL | undefined
    build(outDir?: string): Promise<number>
  }
  if (compiled.currentBuild()) return
  console.error(
    `  (building ${script.replace(/\/bin\/compiled\.js$/, '/dist/spor.mjs')}: its sources changed)`,
  )
  await compiled.build()
}

/** Every daily index the events go to, created before any clock starts (creation is slow). */
async function prewarmIndices(es: Client, config: SporConfig, events: SporEvent[]): Promise<number> {
  const names = new Set(
    events.map((e) => classIndex(config.es.indexPrefix, classOf(config.eventTypes, e.type)!, new Date(e.ts))),
  )
  for (const index of names) {
    await es.indices.create({ index }).catch((error: { meta?: { statusCode?: number } }) => {
      if (error.meta?.statusCode !== 400) throw error // 400: already exists
    })
  }
  await es.cluster.health({ index: `${config.es.indexPrefix}-*`, wait_for_status: 'green', timeout: '60s' })
  return names.size
}

async function committedAll(kafka: Kafka, config: SporConfig): Promise<boolean> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const topic = config.kafka.eventsTopic
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]))
    const [committed] = await admin.fetchOffsets({ groupId: config.kafka.ingestGroup, topics: [topic] })
    return committed!.partitions.every((p) => p.offset === ends.get(p.partition))
  } finally {
    await admin.disconnect()
  }
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Runs `spor ingest` (from `repoRoot`) until every event is handled and committed. */
async function ingestRun(
  label: string,
  repoRoot: string,
  config: SporConfig,
  kafka: Kafka,
  es: Client,
  servers: ServerProcesses,
  events: number,
  port: number,
  nodeArgs: string[] = [],
): Promise<Omit<IngestRun, 'ceilingAround'>> {
  // Event indices only: `spor ingest` also keeps job leases under the prefix.
  const eventIndices = eventIndicesOf(config)
  let child: IngestProcess | undefined
  const sampler = await IndexingSampler.start(es, eventIndices, () => ({
    ...serverCpu(servers),
    ...(child ? { spor: child.cpuSeconds() } : {}),
  }))
  const started = performance.now()
  child = new IngestProcess(repoRoot, sporEnv(config.es.indexPrefix, repoRoot), port, nodeArgs)
  let readyAt: number | undefined
  try {
    while (!(await child.ready())) await tick(50)
    readyAt = performance.now()
    const cpuAtReady = child.cpuSeconds()
    const serversAtReady = serverCpu(servers)
    for (;;) {
      const handled = await child.handled()
      if (handled && handled.total >= events && (await committedAll(kafka, config))) break
      // Each scrape makes prom-client collect its default metrics in the measured process (about
      // 5 % of its CPU at 10 scrapes a second): four a second keep the end within 250 ms.
      await tick(250)
    }
    const finished = performance.now()
    const steadySeconds = (finished - readyAt) / 1000
    const own = cpuLoad(child.cpuSeconds() - cpuAtReady, events, steadySeconds)
    const load = serverLoad(serversAtReady, serverCpu(servers), events, steadySeconds)
    const peakRssMb = child.peakRssMb()
    const steady = steadyWindow(await sampler.stop(), events)
    await es.indices.refresh({ index: eventIndices })
    const count = (await es.count({ index: eventIndices })).count
    if (count !== events) throw new Error(`${label}: ${count} documents for ${events} events`)
    const run = {
      label,
      fromStartPerSecond: events / ((finished - started) / 1000),
      steadyPerSecond: events / steadySeconds,
      cpuMicrosPerEvent: own.microsPerEvent,
      coreShare: own.coreShare,
      servers: load,
      peakRssMb,
      memory: child.memoryAtPeak,
      inFlightMb: child.inFlightMb,
      requests: child.requests,
      ...(steady ? { steady } : {}),
    }
    console.error(
      `  (${label}: ${Math.round(run.steadyPerSecond)} events/s steady, ${run.cpuMicrosPerEvent.toFixed(0)} µs CPU per event, VmHWM ${run.peakRssMb.toFixed(0)} MB)`,
    )
    return {
      ...run,
    }
  } finally {
    await sampler.stop()
    await child.stop()
  }
}

/** The indices of a row's events (short and long class), not its other indices. */
const eventIndicesOf = (config: SporConfig) =>
  `${config.es.indexPrefix}-short-*,${config.es.indexPrefix}-long-*`

/**
 * The same enriched documents, serialised before the clock starts, sent with the same bulk size
 * and as many requests at once as spor may have: the cluster's ceiling for these documents.
 */
async function rawBulk(
  es: Client,
  servers: ServerProcesses,
  config: SporConfig,
  events: SporEvent[],
  enrichers: Enrichers,
): Promise<RawBulkRun> {
  const now = new Date()
  const prefix = config.es.indexPrefix
  const chunks: string[][] = [[]]
  let bytes = 0
  for (const e of events) {
    const cls = classOf(config.eventTypes, e.type)!
    const head = JSON.stringify({
      index: { _index: classIndex(prefix, cls, new Date(e.ts)), _id: documentId(e.tenant, e.id) },
    })
    const line = `${head}\n${JSON.stringify(enrichEvent(e, cls, enrichers, now))}`
    if (bytes + line.length > config.ingest.bulkMaxBytes && chunks.at(-1)!.length > 0) {
      chunks.push([])
      bytes = 0
    }
    chunks.at(-1)!.push(line)
    bytes += line.length + 1
  }
  const sampler = await IndexingSampler.start(es, eventIndicesOf(config), () => ({ ...serverCpu(servers) }))
  const cpuAtStart = serverCpu(servers)
  const started = performance.now()
  let next = 0
  const worker = async () => {
    while (next < chunks.length) {
      const response = await es.bulk({ operations: chunks[next++]! as never[] })
      if (response.errors) throw new Error('raw bulk had item errors')
    }
  }
  try {
    await Promise.all(Array.from({ length: config.ingest.bulkConcurrency }, worker))
  } finally {
    await sampler.stop()
  }
  const seconds = (performance.now() - started) / 1000
  const load = serverLoad(cpuAtStart, serverCpu(servers), events.length, seconds)
  const steady = steadyWindow(await sampler.stop(), events.length)
  await es.indices.refresh({ index: `${prefix}-*` })
  if ((await es.count({ index: `${prefix}-*` })).count !== events.length)
    throw new Error('raw bulk lost documents')
  return { perSecond: events.length / seconds, servers: load, ...(steady ? { steady } : {}) }
}

/**
 * Produce → searchable: events produced at `rate` for `seconds` to a running `spor ingest`; each
 * is timed from just before its send until a search finds it (the index's 1 s refresh included).
 */
async function measureLatency(
  repoRoot: string,
  config: SporConfig,
  kafka: Kafka,
  es: Client,
  events: SporEvent[],
  rate: number,
  port: number,
): Promise<IngestBenchResult['latency']> {
  const child = new IngestProcess(repoRoot, sporEnv(config.es.indexPrefix, repoRoot), port)
  const producer = createProducer(kafka)
  await producer.connect()
  const sentAt = new Map<string, number>()
  const latencies: number[] = []
  const index = `${config.es.indexPrefix}-*`
  const idOf = (e: SporEvent) => documentId(e.tenant, e.id)
  try {
    // Ready means the first event went all the way through.
    const [first, ...rest] = events
    await producer.send({
      topic: config.kafka.eventsTopic,
      messages: [{ key: partitionKey(first!), value: JSON.stringify(first) }],
    })
    for (;;) {
      // Ingest creates the daily index meanwhile: a shard not started yet is "not yet".
      const found = await whenShardsStarted(() =>
        es.search({ index, query: { ids: { values: [idOf(first!)] } }, size: 0 }),
      )
      if ((found.hits.total as { value: number }).value > 0) break
      await child.handled()
      await tick(100)
    }
    let polling = true
    const poller = (async () => {
      while (polling || sentAt.size > 0) {
        const pending = [...sentAt.keys()].slice(0, 5000)
        if (pending.length > 0) {
          const found = await whenShardsStarted(() =>
            es.search({ index, query: { ids: { values: pending } }, size: pending.length, _source: false }),
          )
          const now = performance.now()
          for (const hit of found.hits.hits) {
            const at = sentAt.get(hit._id!)
            if (at === undefined) continue
            latencies.push(now - at)
            sentAt.delete(hit._id!)
          }
        }
        await tick(50)
      }
    })()
    const stepMs = 50
    const perStep = Math.max(1, Math.round((rate * stepMs) / 1000))
    const began = performance.now()
    for (let i = 0; i < rest.length; i += perStep) {
      const due = began + (i / perStep) * stepMs
      if (due > performance.now()) await tick(due - performance.now())
      const slice = rest.slice(i, i + perStep)
      const at = performance.now()
      for (const e of slice) sentAt.set(idOf(e), at)
      await producer.send({
        topic: config.kafka.eventsTopic,
        messages: slice.map((e) => ({ key: partitionKey(e), value: JSON.stringify(e) })),
      })
    }
    const deadline = performance.now() + 60_000
    while (sentAt.size > 0 && performance.now() < deadline) await tick(100)
    polling = false
    sentAt.clear()
    await poller
  } finally {
    await producer.disconnect()
    await child.stop()
  }
  latencies.sort((a, b) => a - b)
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN
  return {
    ratePerSecond: rate,
    samples: latencies.length,
    p50Ms: at(0.5),
    p95Ms: at(0.95),
    maxMs: latencies.at(-1) ?? Number.NaN,
  }
}

/**
 * `spor ingest` as a child process (Kafka → parse → enrich → bulk → commit) against the raw
 * `_bulk` ceiling for the same documents on the same node, all in one run: optionally an older
 * checkout of spor first (SPOR_BENCH_BASELINE_ROOT, the "before"), then this code, then this code
 * on a topic whose batches the broker stores zstd-compressed; finally produce → searchable latency
 * at half the measured rate. Events are produced, and the node warmed up with one untimed raw
 * pass, before the clocks start.
 */
export async function runIngestBench(
  count = 100_000,
  options: IngestBenchOptions = {},
): Promise<IngestBenchResult> {
  const nodeArgs = options.nodeArgs ?? []
  const stamp = Date.now().toString(36)
  const repoRoot = REPO_ROOT
  const baselineRoot = process.env.SPOR_BENCH_BASELINE_ROOT
  const rounds = Math.max(1, options.rounds ?? 1)
  const names = {
    warmup: `bench-warm-${stamp}`,
    zstd: `bench-zstd-${stamp}`,
    latency: `bench-lat-${stamp}`,
  }
  const configs = Object.fromEntries(Object.entries(names).map(([k, v]) => [k, benchConfig(v)])) as Record<
    keyof typeof names,
    SporConfig
  >
  // kafkajs is CommonJS: its codec table is reached through the default export.
  // Unregistered codecs are factories that throw "not implemented".
  const zstdCodec = (() => {
    try {
      return Boolean(kafkajs.CompressionCodecs[kafkajs.CompressionTypes.ZSTD]())
    } catch {
      return false
    }
  })()
  /** The spor rows before and after, alternating, round by round. */
  const rows: { label: string; root: string; config: SporConfig; nodeArgs: string[] }[] = []
  for (let round = 1; round <= rounds; round++) {
    const suffix = rounds > 1 ? `-${round}` : ''
    if (baselineRoot) {
      const config = benchConfig(`bench-base-${stamp}${suffix}`)
      rows.push({ label: BEFORE, root: baselineRoot, config, nodeArgs: [] })
    }
    const config = benchConfig(`bench-e2e-${stamp}${suffix}`)
    rows.push({ label: AFTER, root: repoRoot, config, nodeArgs })
  }
  /** A raw pass before the first spor row and one after each (the zstd row included). */
  const rawConfigs = Array.from({ length: rows.length + (zstdCodec ? 1 : 0) + 1 }, (_, i) =>
    benchConfig(`bench-raw${i}-${stamp}`),
  )
  for (const root of new Set(rows.map((row) => row.root))) await ensureCurrentBuild(root)
  const log = createLogger('bench', 'warn')
  const es = createEsClient(configs.latency)
  const kafka = createKafka(configs.latency, log)
  const events = ingestBenchEvents(count)
  const enrichers = createEnrichers({
    uaCacheSize: configs.latency.ingest.uaCacheSize,
    pseudonymKey: Buffer.from(KEY),
  })
  const servers = await localServers(es, configs.latency, repoRoot)
  const otherShards = (await es.cluster.health()).active_shards
  const unpin = options.isolateEs ? isolateElasticsearch(servers) : undefined
  try {
    const producer = createProducer(kafka)
    await producer.connect()
    /** Index setup (and daily indices created) for every row, topics and events for spor's. */
    const setUp = async (config: SporConfig, use: { consumed: boolean; zstd?: boolean; events: boolean }) => {
      await installIndexSetup(es, config)
      if (use.consumed) await ensureTopics(kafka, config)
      if (use.zstd) {
        // The broker recompresses every batch of this topic with zstd: the consumer decodes zstd.
        const admin = kafka.admin()
        await admin.connect()
        await admin.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: 2,
              name: config.kafka.eventsTopic,
              configEntries: [{ name: 'compression.type', value: 'zstd' }],
            },
          ],
        })
        await admin.disconnect()
      }
      if (!use.events) return
      if (use.consumed) await produceEvents(producer, config.kafka.eventsTopic, events, { batchSize: 2000 })
      await prewarmIndices(es, config, events)
    }
    for (const config of [configs.warmup, ...rawConfigs])
      await setUp(config, { consumed: false, events: true })
    for (const row of rows) await setUp(row.config, { consumed: true, events: true })
    if (zstdCodec) await setUp(configs.zstd, { consumed: true, zstd: true, events: true })
    // The latency row produces its own events at a set rate.
    await setUp(configs.latency, { consumed: true, events: false })
    await producer.disconnect()

    // Untimed: a node started shortly before spent 3-5× more CPU per document on its first
    // hundred thousand (JIT), which made whichever row came first look slow.
    await rawBulk(es, servers, configs.warmup, events, enrichers)
    const raw = [await rawBulk(es, servers, rawConfigs[0]!, events, enrichers)]
    /** Runs a spor row, then the raw pass after it; the row gets the ceiling around it. */
    const measured = async (row: Parameters<typeof ingestRun>): Promise<IngestRun> => {
      const run = await ingestRun(...row)
      raw.push(await rawBulk(es, servers, rawConfigs[raw.length]!, events, enrichers))
      const [before, after] = [raw.at(-2)!, raw.at(-1)!]
      const steadyCeilingAround =
        before.steady && after.steady ? (before.steady.perSecond + after.steady.perSecond) / 2 : undefined
      return {
        ...run,
        ceilingAround: (before.perSecond + after.perSecond) / 2,
        ...(steadyCeilingAround ? { steadyCeilingAround } : {}),
      }
    }
    const runs: IngestRun[] = []
    for (const row of rows) {
      runs.push(
        await measured([
          row.label,
          row.root,
          row.config,
          kafka,
          es,
          servers,
          events.length,
          await freePort(),
          row.nodeArgs,
        ]),
      )
    }
    const zstd = zstdCodec
      ? await measured([
          'after, zstd batches',
          repoRoot,
          configs.zstd,
          kafka,
          es,
          servers,
          events.length,
          await freePort(),
          nodeArgs,
        ])
      : { skipped: 'no zstd codec registered in kafkajs (core/kafka.ts)' }

    const latencyEvents = [
      ...generateTraffic({
        seed: 77,
        tenants: ['acme', 'globex'],
        usersPerTenant: 300,
        // Two days: sessions start 07:00-17:00 UTC, so today alone is empty shortly after midnight.
        days: 2,
        end: new Date(),
      }),
    ]
    await prewarmIndices(es, configs.latency, latencyEvents)
    const steady = median(runs.filter((run) => run.label === AFTER).map((run) => run.steadyPerSecond))
    const seconds = Number(process.env.SPOR_BENCH_LATENCY_SECONDS ?? 15)
    const rate = Math.max(10, Math.round(steady / 2))
    const latency = await measureLatency(
      repoRoot,
      configs.latency,
      kafka,
      es,
      latencyEvents.slice(0, 1 + Math.min(latencyEvents.length - 1, rate * seconds)),
      rate,
      await freePort(),
    )
    return {
      events: events.length,
      // The highest pass, the stricter comparison: the node warms up during a run (the first
      // measurement was up to 40 % lower in runs of 2026-12-01).
      rawBulkPerSecond: Math.max(...raw.map((pass) => pass.perSecond)),
      rawBulk: raw,
      isolatedEs: unpin !== undefined,
      otherShards,
      bulkConcurrency: configs.latency.ingest.bulkConcurrency,
      runs,
      zstd,
      latency,
    }
  } finally {
    unpin?.()
    for (const config of [...Object.values(configs), ...rawConfigs, ...rows.map((row) => row.config)])
      await dropInstallation(es, kafka, config.es.indexPrefix)
    await es.close()
  }
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
