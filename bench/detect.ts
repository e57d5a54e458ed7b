import { randomBytes } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { systemClock } from '../core/clock.ts'
import { loadConfig } from '../core/config.ts'
import { createEsClient } from '../core/es.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { createKafka, createProducer } from '../core/kafka.ts'
import { createLogger } from '../core/logger.ts'
import { dropInstallation } from '../core/teardown.ts'
import { AlertStore } from '../detect/alert-store.ts'
import { IncidentTracker, quietGapMs } from '../detect/incidents.ts'
import { RuleBook } from '../detect/rule-config.ts'
import { DetectService } from '../detect/service.ts'
import { type Signal, toSignals } from '../detect/signal.ts'
import { DetectionState } from '../detect/state.ts'
import { createGeoLookup } from '../enrich/geo.ts'
import { createUserAgentParser } from '../enrich/user-agent.ts'
import { attackScenarios, benignScenarios } from '../generate/attacks.ts'
import { produceEvents } from '../generate/produce.ts'
import { generateTraffic } from '../generate/traffic.ts'
import { installIndexSetup } from '../ilm-policies/install.ts'
import { ensureTopics } from '../ingest/topics.ts'

/**
 * Detection figures, measured in one run:
 *  - memory of the rule state under a botnet attack from `ips` distinct addresses (default 1 M),
 *    bounded by SPOR_DETECT_MAX_KEYS, next to the per-key cost an unbounded map would pay;
 *  - false positives on benign traffic (one day, and 14 days so the novelty rules leave learning);
 *  - event produced → alert stored latency (p50/p95) on the real Kafka and Elasticsearch.
 */
export interface DetectBenchResult {
  ips: number
  maxKeys: number
  signalsPerSecond: number
  boundedHeapMb: number
  keysHeld: Record<string, number>
  bytesPerKey: number
  unboundedHeapMbProjected: number
  benign: { days: number; events: number; alerts: number; byRule: Record<string, number> }[]
  latency: { alerts: number; p50Ms: number; p95Ms: number }
}

const MIN = 60_000

function gc(): void {
  setFlagsFromString('--expose-gc')
  const collect = runInNewContext('gc') as () => void
  collect()
  collect()
}
const heapMb = () => process.memoryUsage().heapUsed / 1_048_576

/** A failed login from the i-th address of a botnet, spread over 30 minutes, on 5 000 accounts. */
function botnetSignals(i: number, t0: number): Signal[] {
  const ip = `${11 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.9`
  const e = {
    id: `bot-${i}`,
    type: 'session.login_failed',
    ts: t0 + Math.floor((i / 1_000_000) * 30 * MIN),
    tenant: 'acme',
    account: `acc${i % 5000}@acme.example`,
    ip,
    net: ip.replace(/\.\d+$/, '.0'),
  }
  return [
    { kind: 'account', key: e.account, e },
    { kind: 'ip', key: ip, e },
    { kind: 'net', key: e.net, e },
  ]
}

async function stateUnderAttack(ips: number, maxKeys: number) {
  const rules = new RuleBook()
  gc()
  const before = heapMb()
  const state = new DetectionState({ maxKeys, rules })
  const tracker = new IncidentTracker({ find: async () => undefined, indexPrefix: 'bench', maxOpen: maxKeys })
  const t0 = Date.now() - 40 * MIN
  const started = performance.now()
  let signals = 0
  for (let i = 0; i < ips; i++) {
    for (const signal of botnetSignals(i, t0)) {
      signals++
      for (const f of state.apply(signal)) await tracker.absorb(f, quietGapMs(f.rule, rules.for(f.tenant)))
    }
  }
  const seconds = (performance.now() - started) / 1000
  gc()
  const heap = heapMb() - before
  const keys = state.sizes()
  const held = Object.values(keys).reduce((a, b) => a + b, 0)
  // Keep the state reachable until measured.
  if (held < 0) console.log(tracker.size)
  return { heapMb: heap, keys, held, signalsPerSecond: signals / seconds }
}

function benignFalsePositives(days: number) {
  const rules = new RuleBook()
  const state = new DetectionState({ maxKeys: 200_000, rules })
  const enrichers = {
    lookupGeo: createGeoLookup(),
    parseUserAgent: createUserAgentParser({ cacheSize: 1000 }),
  }
  const end = new Date()
  const events = [
    ...generateTraffic({ seed: 5, tenants: ['acme', 'beta'], usersPerTenant: 100, days, end }),
    ...benignScenarios({ seed: 5, tenant: 'acme', end }).flatMap((s) => s.events),
  ].sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts))
  const raised = new Map<string, string>()
  for (const event of events) {
    for (const signal of toSignals(event, enrichers)) {
      for (const f of state.apply(signal)) raised.set(`${f.rule}|${f.subject.value}`, f.rule)
    }
  }
  const byRule: Record<string, number> = {}
  for (const rule of raised.values()) byRule[rule] = (byRule[rule] ?? 0) + 1
  return { days, events: events.length, alerts: raised.size, byRule }
}

async function endToEndLatency(attacks: number) {
  const name = `bdetect${randomBytes(3).toString('hex')}`
  const config = loadConfig({
    ...(process.env.SPOR_KAFKA_BROKERS ? { SPOR_KAFKA_BROKERS: process.env.SPOR_KAFKA_BROKERS } : {}),
    ...(process.env.SPOR_ES_URL ? { SPOR_ES_URL: process.env.SPOR_ES_URL } : {}),
    SPOR_TOPIC_PREFIX: name,
    SPOR_INDEX_PREFIX: name,
    SPOR_LOG_LEVEL: 'warn',
  })
  const log = createLogger('bench-detect', 'warn')
  const es = createEsClient(config)
  const kafka = createKafka(config, log)
  const latencies: number[] = []
  await installIndexSetup(es, config)
  await ensureTopics(kafka, config)
  const service = new DetectService({
    config,
    es,
    kafka,
    log,
    clock: systemClock,
    onStored: (notices, l) => {
      if (notices.some((n) => n.change === 'raised')) latencies.push(...l)
    },
  })
  const producer = createProducer(kafka)
  try {
    await service.start()
    await producer.connect()
    await new Promise((r) => setTimeout(r, 3000))
    // One brute-force attack every 400 ms, each on its own account, produced as it happens.
    for (let n = 0; n < attacks; n++) {
      const [brute] = attackScenarios({ seed: 1000 + n, tenant: 'acme', end: new Date() })
      const events: SporEvent[] = brute!.events.map((e) => ({ ...e, username: `victim${n}@acme.example` }))
      await produceEvents(producer, config.kafka.eventsTopic, events)
      await new Promise((r) => setTimeout(r, 400))
    }
    const store = new AlertStore(es, config.es.indexPrefix)
    const deadline = Date.now() + 60_000
    while (latencies.length < attacks && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250))
    void store
  } finally {
    await producer.disconnect()
    await service.stop()
    await dropInstallation(es, kafka, name)
    await es.close()
  }
  const sorted = [...latencies].sort((a, b) => a - b)
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN
  return { alerts: latencies.length, p50Ms: at(0.5), p95Ms: at(0.95) }
}

export async function runDetectBench(
  options: { ips?: number; attacks?: number } = {},
): Promise<DetectBenchResult> {
  const ips = options.ips ?? Number(process.env.SPOR_BENCH_DETECT_IPS ?? 1_000_000)
  const attacks = options.attacks ?? Number(process.env.SPOR_BENCH_DETECT_ATTACKS ?? 30)
  const maxKeys = loadConfig({}).detect.maxKeys
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US')

  const bounded = await stateUnderAttack(ips, maxKeys)
  // Per-key cost from a run that stays under the bound (nothing evicted).
  const sample = Math.min(100_000, Math.floor(maxKeys / 2))
  const small = await stateUnderAttack(sample, maxKeys)
  const bytesPerKey = (small.heapMb * 1_048_576) / small.held
  const unboundedKeys = ips * 2 + 5000 // every address and every /24 kept, plus the accounts
  const result: DetectBenchResult = {
    ips,
    maxKeys,
    signalsPerSecond: bounded.signalsPerSecond,
    boundedHeapMb: bounded.heapMb,
    keysHeld: bounded.keys,
    bytesPerKey,
    unboundedHeapMbProjected: (bytesPerKey * unboundedKeys) / 1_048_576,
    benign: [benignFalsePositives(1), benignFalsePositives(14)],
    latency: await endToEndLatency(attacks),
  }
  console.log(
    `\ndetect: rule state under a botnet of ${fmt(ips)} distinct IPs (SPOR_DETECT_MAX_KEYS ${fmt(maxKeys)})`,
  )
  console.log(
    `  heap held     ${result.boundedHeapMb.toFixed(0)} MB for ${fmt(bounded.held)} keys ${JSON.stringify(bounded.keys)}`,
  )
  console.log(
    `  per key       ${fmt(bytesPerKey)} bytes → unbounded would need ≈ ${fmt(result.unboundedHeapMbProjected)} MB`,
  )
  console.log(
    `  ratio         ${(result.unboundedHeapMbProjected / result.boundedHeapMb).toFixed(1)}× less memory with the bound`,
  )
  console.log(`  throughput    ${fmt(result.signalsPerSecond)} signals/s through the rules (one core)`)
  for (const b of result.benign) {
    console.log(
      `  benign ${String(b.days).padStart(2)} d   ${fmt(b.events)} events, ${b.alerts} alerts ${JSON.stringify(b.byRule)}`,
    )
  }
  console.log(
    `  latency       produced → stored p50 ${fmt(result.latency.p50Ms)} ms, p95 ${fmt(result.latency.p95Ms)} ms over ${result.latency.alerts} alerts`,
  )
  return result
}
