import type { Kafka } from 'kafkajs'
import { systemClock } from '../../core/clock.ts'
import type { SporConfig } from '../../core/config.ts'
import { createEsClient } from '../../core/es.ts'
import type { SporEvent } from '../../core/event-schema.ts'
import { MISSING_INDICES_ARE_EMPTY } from '../../core/indices.ts'
import { createKafka, createProducer } from '../../core/kafka.ts'
import type { AlertDocument } from '../../detect/incidents.ts'
import type { AlertNotice } from '../../detect/rule-stage.ts'
import { DetectService } from '../../detect/service.ts'
import { repartitionTopic, ruleStageGroup } from '../../detect/topics.ts'
import { produceEvents } from '../../generate/produce.ts'
import { startTombstoneCache } from '../../privacy/tombstones.ts'
import { endOffsets, sum } from './offsets.ts'
import { type TestEnv, waitFor, whenShardsStarted } from './test-env.ts'

/** A detect instance in this process, recording what it stored (notices and latencies). */
export interface DetectHandle {
  service: DetectService
  notices: AlertNotice[]
  latencies: number[]
  /** Per `topic:partition`: the offset after the last batch this instance's consumers finished. */
  done: Map<string, number>
  /** Per `topic:partition`: the offset after the last batch they started. */
  started: Map<string, number>
  /** Failed Elasticsearch requests on the alert indices (lookups and writes), each try counted. */
  failedAlertRequests: () => number
  stop: () => Promise<void>
}

/**
 * Records, for every consumer the client creates, which batches its handler started and which it
 * finished: a batch counts as finished when the handler resolves its last offset (both detect
 * stages resolve only after their output is stored and produced; an abandoned batch is not).
 */
function trackBatches(kafka: Kafka, started: Map<string, number>, done: Map<string, number>): void {
  const create = kafka.consumer.bind(kafka)
  kafka.consumer = (config) => {
    const consumer = create(config)
    const run = consumer.run.bind(consumer)
    consumer.run = (options) => {
      const eachBatch = options?.eachBatch
      if (!eachBatch) return run(options)
      return run({
        ...options,
        eachBatch: (payload) => {
          const at = `${payload.batch.topic}:${payload.batch.partition}`
          if (!payload.batch.isEmpty()) started.set(at, Number(payload.batch.lastOffset()) + 1)
          return eachBatch({
            ...payload,
            resolveOffset: (offset) => {
              done.set(at, Math.max(done.get(at) ?? 0, Number(offset) + 1))
              payload.resolveOffset(offset)
            },
          })
        },
      })
    }
    return consumer
  }
}

export async function startDetect(
  t: TestEnv,
  config: SporConfig = t.config,
  label = 'a',
): Promise<DetectHandle> {
  // Each instance has its own clients, as separate processes would.
  const kafka = createKafka(config, t.log, `detect-${label}`)
  const started = new Map<string, number>()
  const done = new Map<string, number>()
  trackBatches(kafka, started, done)
  const es = createEsClient(config)
  let failedAlertRequests = 0
  es.diagnostic.on('response', (error, result) => {
    const path = String(result?.meta?.request?.params?.path ?? '')
    if (error && path.includes('-alerts')) failedAlertRequests++
  })
  const notices: AlertNotice[] = []
  const latencies: number[] = []
  // Wired as `spor detect` wires it (detect/run.ts).
  const tombstones = await startTombstoneCache(es, config, t.log)
  const service = new DetectService({
    config,
    es,
    kafka,
    log: t.log.child({ instance: label }),
    clock: systemClock,
    isErased: (tenant, user) => tombstones.isErased(tenant, user),
    onStored: (n, l) => {
      notices.push(...n)
      latencies.push(...l)
    },
  })
  await service.start()
  return {
    service,
    notices,
    latencies,
    done,
    started,
    failedAlertRequests: () => failedAlertRequests,
    stop: async () => {
      await service.stop()
      tombstones.stop()
      await es.close()
    },
  }
}

export async function produce(kafka: Kafka, topic: string, events: SporEvent[]): Promise<void> {
  const producer = createProducer(kafka)
  await producer.connect()
  await produceEvents(producer, topic, events, { batchSize: 500 })
  await producer.disconnect()
}

export async function storedAlerts(t: TestEnv): Promise<AlertDocument[]> {
  // The alerts index is created by the first alert: a search right then can meet an unstarted shard.
  return whenShardsStarted(async () => {
    await t.es.indices.refresh({
      index: `${t.name}-alerts-*`,
      ...MISSING_INDICES_ARE_EMPTY,
    })
    const result = await t.es.search<AlertDocument>({
      index: `${t.name}-alerts-*`,
      ...MISSING_INDICES_ARE_EMPTY,
      size: 1000,
    })
    return result.hits.hits.map((h) => h._source!)
  })
}

/**
 * Waits until the detect instances have finished every record on the events topic, then every
 * record the repartition stage wrote (its end offsets are final once the first stage is done): all
 * alerts the produced events can raise are then stored and announced. The evidence that "nothing
 * more will come", instead of waiting a while for a duplicate or a false positive.
 */
export async function detectCaughtUp(
  t: TestEnv,
  instances: DetectHandle[],
  timeoutMs = 90_000,
): Promise<void> {
  for (const topic of [t.config.kafka.eventsTopic, repartitionTopic(t.config)]) {
    const ends = await endOffsets(t, topic)
    await waitFor(
      async () =>
        [...ends].filter(
          ([partition, end]) =>
            end > Math.max(0, ...instances.map((i) => i.done.get(`${topic}:${partition}`) ?? 0)),
        ),
      (behind) => behind.length === 0,
      { timeoutMs, intervalMs: 100, what: `detect to finish ${topic} up to ${JSON.stringify(ends)}` },
    )
  }
}

/** Waits until both detect consumer groups are stable with `members` members each. */
export async function detectGroupsStable(t: TestEnv, members: number): Promise<void> {
  const admin = t.kafka.admin()
  await admin.connect()
  try {
    await waitFor(
      async () => (await admin.describeGroups([t.config.kafka.detectGroup, ruleStageGroup(t.config)])).groups,
      (groups) => groups.every((g) => g.state === 'Stable' && g.members.length === members),
      { timeoutMs: 60_000, intervalMs: 200, what: `both detect groups stable with ${members} members` },
    )
  } finally {
    await admin.disconnect()
  }
}

/**
 * Every message on the alerts topic, read by a throwaway consumer group up to the topic's end
 * offsets once they hold at least `expectAtLeast` messages. Call it after {@link detectCaughtUp}:
 * then a duplicate would already be on the topic.
 */
export async function alertsTopicMessages(t: TestEnv, expectAtLeast: number): Promise<AlertNotice[]> {
  const topic = t.config.kafka.alertsTopic
  const ends = await waitFor(
    () => endOffsets(t, topic),
    (offsets) => sum(offsets) >= expectAtLeast,
    { timeoutMs: 20_000, intervalMs: 200, what: `${expectAtLeast} messages on ${topic}` },
  )
  const consumer = t.kafka.consumer({ groupId: `${t.name}.reader.${Date.now()}` })
  const seen: AlertNotice[] = []
  const position = new Map<number, number>()
  const reachedEnds = () => [...ends].every(([p, end]) => (position.get(p) ?? 0) >= end)
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${topic} not read to ${JSON.stringify(ends)}`)),
        30_000,
      )
      const check = () => {
        if (!reachedEnds()) return
        clearTimeout(timer)
        resolve()
      }
      check()
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (Number(message.offset) < (ends.get(partition) ?? 0))
            seen.push(JSON.parse(message.value!.toString()) as AlertNotice)
          position.set(partition, Number(message.offset) + 1)
          check()
        },
      })
    })
  } finally {
    await consumer.disconnect()
  }
  return seen
}

export function p95(values: number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!
}

export const summary = (alerts: AlertDocument[]) => alerts.map((a) => `${a.rule} ${a.subject.value}`).sort()

const WINDOWS_CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
let failedLoginSeq = 0

/** `count` failed logins on one acme account from one IP, 10 s apart from `from` (a brute force). */
export function failedLogins(idPrefix: string, account: string, count: number, from: number): SporEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    v: 1 as const,
    id: `${idPrefix}-${account}-${failedLoginSeq++}`,
    type: 'session.login_failed',
    ts: new Date(from + i * 10_000).toISOString(),
    tenant: 'acme',
    user: account,
    username: `${account}@acme.example`,
    ip: '5.6.7.8',
    device: { ua: WINDOWS_CHROME },
  }))
}
