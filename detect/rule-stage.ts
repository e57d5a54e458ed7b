import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs'
import { backoffDelay, sleep } from '../core/backoff.ts'
import type { SporConfig } from '../core/config.ts'
import { createGroupConsumer, createProducer } from '../core/kafka.ts'
import type { Logger } from '../core/logger.ts'
import type { AlertStore } from './alert-store.ts'
import {
  type AlertDocument,
  type FindAlert,
  type Incident,
  IncidentTracker,
  quietGapMs,
} from './incidents.ts'
import { detectMetrics } from './metrics.ts'
import type { IsErased } from './repartitioner.ts'
import type { RuleBook } from './rule-config.ts'
import type { Signal } from './signal.ts'
import { DetectionState } from './state.ts'
import { ruleStageGroup } from './topics.ts'
import { TrailingOffsets } from './trailing-offsets.ts'

export interface AlertNotice {
  change: 'raised' | 'updated'
  alert: AlertDocument
}

export interface RuleStageDeps {
  kafka: Kafka
  config: SporConfig
  rules: RuleBook
  store: AlertStore
  log: Logger
  topic: string
  /** Called after alerts are stored (the webhook queue; tests and the bench listen here too). */
  onStored?: (notices: AlertNotice[], latenciesMs: number[]) => void
  onCrash: (error: Error) => void
  /** Erased subjects (privacy tombstones): their signals, still on the repartition topic from
   * before the erasure, are skipped when the lookback is replayed. */
  isErased?: IsErased
  now?: () => number
}

/**
 * Stage 2: signals (partitioned by rule key) → per-key windows → rules → incidents → alert
 * documents and the alerts topic. After every (re)assignment the state is dropped and rebuilt by
 * replaying the lookback the trailing commits left behind; replayed findings that the stored
 * alerts already cover change nothing, so a restart neither misses nor re-raises.
 */
export class RuleStage {
  readonly #deps: RuleStageDeps
  readonly #consumer: Consumer
  readonly #producer: Producer
  readonly #log: Logger
  readonly #offsets: TrailingOffsets
  readonly #tracker: IncidentTracker
  readonly #stopping = new AbortController()
  #state: DetectionState
  #generation = 0
  #running = false
  /** The batch being handled (batches of this consumer run one at a time): lookups retry for it. */
  #batch: { current: () => boolean; heartbeat: () => Promise<void> } | undefined

  constructor(deps: RuleStageDeps) {
    this.#deps = deps
    this.#log = deps.log.child({ component: 'detect-rules' })
    this.#offsets = new TrailingOffsets(deps.config.detect.lookbackMs)
    this.#state = this.#newState()
    this.#tracker = new IncidentTracker({
      find: this.#findUntilAnswered,
      indexPrefix: deps.config.es.indexPrefix,
      maxOpen: deps.config.detect.maxKeys,
      now: deps.now,
    })
    this.#consumer = createGroupConsumer(deps.kafka, deps.config, deps.log, {
      groupId: ruleStageGroup(deps.config),
      consumer: 'detect',
      fields: { stage: 'rules' },
    })
    this.#producer = createProducer(deps.kafka)
    this.#consumer.on(this.#consumer.events.GROUP_JOIN, () => {
      // New assignment: every partition resumes from its trailing commit and replays.
      this.#generation++
      this.#state = this.#newState()
      this.#tracker.clear()
      this.#offsets.reset()
    })
    this.#consumer.on(this.#consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) deps.onCrash(payload.error)
    })
  }

  get running(): boolean {
    return this.#running
  }

  get state(): DetectionState {
    return this.#state
  }

  async start(): Promise<void> {
    await this.#producer.connect()
    await this.#consumer.connect()
    await this.#consumer.subscribe({ topics: [this.#deps.topic], fromBeginning: true })
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.#handleBatch(payload),
    })
    this.#running = true
  }

  async stop(): Promise<void> {
    this.#running = false
    const abort = setTimeout(() => this.#stopping.abort(), 15_000)
    try {
      await this.#consumer.disconnect()
      await this.#producer.disconnect()
    } finally {
      clearTimeout(abort)
    }
  }

  #newState(): DetectionState {
    return new DetectionState({
      maxKeys: this.#deps.config.detect.maxKeys,
      maxKeysPerTenant: this.#deps.config.hostile.detectMaxKeysPerTenant,
      rules: this.#deps.rules,
    })
  }

  async #handleBatch({
    batch,
    isStale,
    isRunning,
    heartbeat,
    resolveOffset,
  }: EachBatchPayload): Promise<void> {
    if (batch.isEmpty()) return
    const generation = this.#generation
    const current = () => generation === this.#generation && isRunning() && !isStale()
    const dirty = new Set<Incident>()
    const raised = new Set<Incident>()
    let maxTs = Number.NEGATIVE_INFINITY
    this.#batch = { current, heartbeat }
    try {
      for (const message of batch.messages) {
        if (!current()) return
        const signal = decodeSignal(message.value)
        if (!signal) continue
        if (signal.e.user && this.#deps.isErased?.(signal.e.tenant, signal.e.user)) {
          detectMetrics.erased.inc({ stage: 'rules' })
          continue
        }
        maxTs = Math.max(maxTs, signal.e.ts)
        detectMetrics.signals.inc({ kind: signal.kind })
        for (const finding of this.#state.apply(signal)) {
          detectMetrics.findings.inc({ rule: finding.rule })
          const gap = quietGapMs(finding.rule, this.#deps.rules.for(finding.tenant))
          const { change, incident } = await this.#tracker.absorb(finding, gap)
          if (change === 'unchanged') continue
          dirty.add(incident)
          if (change === 'raised') raised.add(incident)
        }
      }
    } catch (error) {
      // Given up on a lookup because the batch is no longer ours: uncommitted, so replayed.
      if (error instanceof BatchAbandoned) return
      throw error
    } finally {
      this.#batch = undefined
    }
    if (dirty.size > 0) await this.#deliver([...dirty], raised, current, heartbeat)
    if (!current()) return
    const safe = this.#offsets.record(batch.partition, (BigInt(batch.lastOffset()) + 1n).toString(), maxTs)
    if (safe)
      await this.#consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: safe }])
    // The fetch position moves on (without this kafkajs fetches the batch again); only the
    // committed offset trails by the lookback.
    resolveOffset(batch.lastOffset())
    for (const [kind, size] of Object.entries(this.#state.sizes())) detectMetrics.keys.set({ kind }, size)
  }

  /** Alerts must be stored before the batch counts as done; Elasticsearch trouble is waited out. */
  async #deliver(
    incidents: Incident[],
    raised: Set<Incident>,
    current: () => boolean,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const now = this.#deps.now ?? Date.now
    const docs = await this.#untilStored(
      'alert write',
      () => this.#deps.store.write(incidents, now()),
      current,
      heartbeat,
    )
    if (!docs) return
    const stored = now()
    const latencies: number[] = []
    const notices: AlertNotice[] = docs.map((alert, n) => {
      const incident = incidents[n]!
      const change = raised.has(incident) ? 'raised' : 'updated'
      detectMetrics.alerts.inc({ rule: incident.rule, change })
      if (incident.pendingSeenAt !== undefined) {
        const ms = stored - incident.pendingSeenAt
        latencies.push(ms)
        detectMetrics.latency.observe(ms / 1000)
      }
      incident.pendingSeenAt = undefined
      incident.persisted = true
      incident.dirty = false
      return { change, alert }
    })
    const produced = await this.#untilStored(
      'alerts produce',
      () =>
        this.#producer.send({
          topic: this.#deps.config.kafka.alertsTopic,
          acks: -1,
          messages: notices.map((n) => ({
            key: n.alert.alert_id,
            value: JSON.stringify(n),
            headers: { 'spor-change': n.change, 'spor-rule': n.alert.rule },
          })),
        }),
      current,
      heartbeat,
    )
    // Abandoned (stopping or rebalanced): not announced, so whoever replays the batch announces.
    if (!produced) return
    // Announced: remembered here at once, and in the document, so a process that takes the alert
    // over does not announce it again. Only if this mark is lost (stopped or killed after the
    // produce) does the next process send a second `raised`: the alert id is the dedup key.
    const announced = incidents.filter((i) => raised.has(i))
    for (const incident of announced) incident.announced = true
    await this.#untilStored(
      'announce mark',
      () => this.#deps.store.markAnnounced(announced, now()),
      current,
      heartbeat,
    )
    for (const n of notices) {
      if (n.change === 'raised')
        this.#log.info(
          { rule: n.alert.rule, alertId: n.alert.alert_id, severity: n.alert.severity },
          'alert raised',
        )
    }
    this.#deps.onStored?.(notices, latencies)
  }

  /** The alert lookup behind incident adoption, retried like the writes: an Elasticsearch outage
   * is waited out instead of crashing the consumer (which would spend the restart budget and exit).
   * Throws BatchAbandoned when the batch stops being ours while waiting. */
  readonly #findUntilAnswered: FindAlert = async (...args) => {
    const batch = this.#batch
    if (!batch) return this.#deps.store.find(...args)
    const answer = await this.#untilStored(
      'alert lookup',
      async () => ({ alert: await this.#deps.store.find(...args) }),
      batch.current,
      batch.heartbeat,
    )
    if (!answer) throw new BatchAbandoned()
    return answer.alert
  }

  /** Runs an Elasticsearch write (or the alerts produce) until it succeeds (its trouble is waited out) or the batch is no
   * longer ours (undefined). */
  async #untilStored<T>(
    what: string,
    write: () => Promise<T>,
    current: () => boolean,
    heartbeat: () => Promise<void>,
  ): Promise<T | undefined> {
    for (let attempt = 0; ; attempt++) {
      if (!current()) return undefined
      try {
        return await write()
      } catch (error) {
        this.#log.warn({ err: (error as Error).message, attempt: attempt + 1 }, `${what} failed; retrying`)
        await heartbeat().catch(() => {})
        const backoff = {
          baseMs: this.#deps.config.ingest.retryBaseMs,
          maxMs: this.#deps.config.ingest.retryMaxMs,
        }
        await sleep(backoffDelay(backoff, attempt), this.#stopping.signal)
      }
    }
  }
}

class BatchAbandoned extends Error {}

function decodeSignal(value: Buffer | null): Signal | undefined {
  if (!value) return undefined
  try {
    const signal = JSON.parse(value.toString('utf8')) as Signal
    return signal?.e?.id && signal.kind && typeof signal.e.ts === 'number' ? signal : undefined
  } catch {
    return undefined
  }
}
