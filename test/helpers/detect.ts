import type { Kafka } from 'kafkajs'
import { systemClock } from '../../core/clock.ts'
import type { SporConfig } from '../../core/config.ts'
import { createEsClient } from '../../core/es.ts'
import type { SporEvent } from '../../core/event-schema.ts'
import { createKafka, createProducer } from '../../core/kafka.ts'
import type { AlertDocument } from '../../detect/incidents.ts'
import type { AlertNotice } from '../../detect/rule-stage.ts'
import { DetectService } from '../../detect/service.ts'
import { produceEvents } from '../../generate/produce.ts'
import { startTombstoneCache } from '../../privacy/tombstones.ts'
import { type TestEnv, whenShardsStarted } from './test-env.ts'

/** A detect instance in this process, recording what it stored (notices and latencies). */
export interface DetectHandle {
  service: DetectService
  notices: AlertNotice[]
  latencies: number[]
  stop: () => Promise<void>
}

export async function startDetect(
  t: TestEnv,
  config: SporConfig = t.config,
  label = 'a',
): Promise<DetectHandle> {
  // Each instance has its own clients, as separate processes would.
  const kafka = createKafka(config, t.log, `detect-${label}`)
  const es = createEsClient(config)
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
      ignore_unavailable: true,
      allow_no_indices: true,
    })
    const result = await t.es.search<AlertDocument>({
      index: `${t.name}-alerts-*`,
      ignore_unavailable: true,
      allow_no_indices: true,
      size: 1000,
    })
    return result.hits.hits.map((h) => h._source!)
  })
}

/** Every message on the alerts topic, read by a throwaway consumer group. */
export async function alertsTopicMessages(t: TestEnv, expectAtLeast: number): Promise<AlertNotice[]> {
  const consumer = t.kafka.consumer({ groupId: `${t.name}.reader.${Date.now()}` })
  const seen: AlertNotice[] = []
  await consumer.connect()
  await consumer.subscribe({ topics: [t.config.kafka.alertsTopic], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push(JSON.parse(message.value!.toString()) as AlertNotice)
    },
  })
  const deadline = Date.now() + 20_000
  while (seen.length < expectAtLeast && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
  // A little longer: a duplicate would arrive right behind.
  await new Promise((r) => setTimeout(r, 1500))
  await consumer.disconnect()
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
