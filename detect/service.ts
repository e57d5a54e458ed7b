import type { Client } from '@elastic/elasticsearch'
import type { Kafka } from 'kafkajs'
import type { Clock } from '../core/clock.ts'
import type { SporConfig } from '../core/config.ts'
import { SporError } from '../core/errors.ts'
import { consumerFatalError } from '../core/kafka.ts'
import type { Logger } from '../core/logger.ts'
import { startupSteps } from '../core/startup.ts'
import { createGeoLookup } from '../enrich/geo.ts'
import { configuredGeoDbPaths, sharedGeoDatabase } from '../enrich/geo-database.ts'
import { createUserAgentParser } from '../enrich/user-agent.ts'
import { AlertStore } from './alert-store.ts'
import { type IsErased, Repartitioner } from './repartitioner.ts'
import { RuleBook } from './rule-config.ts'
import { type AlertNotice, RuleStage } from './rule-stage.ts'
import { ensureDetectTopics, repartitionTopic } from './topics.ts'
import { WebhookSender } from './webhook.ts'

export interface DetectDeps {
  config: SporConfig
  es: Client
  kafka: Kafka
  log: Logger
  clock: Clock
  rules?: RuleBook
  /** Erased subjects (privacy tombstones; `TombstoneCache.isErased`): never detected again. */
  isErased?: IsErased
  onStored?: (notices: AlertNotice[], latenciesMs: number[]) => void
}

/**
 * `spor detect`: the repartition stage and the rule stage in one process. Several processes in
 * one consumer group split both stages' partitions between them.
 */
export class DetectService {
  readonly #deps: DetectDeps
  readonly #repartitioner: Repartitioner
  readonly #rules: RuleStage
  readonly #webhook: WebhookSender | undefined
  readonly #store: AlertStore
  #reportFatal!: (error: Error) => void
  readonly fatal: Promise<Error> = new Promise((resolve) => {
    this.#reportFatal = resolve
  })

  constructor(deps: DetectDeps) {
    this.#deps = deps
    const { config, kafka, es, log, clock } = deps
    const onCrash = (error: Error) => this.#reportFatal(consumerFatalError(error))
    const { webhookUrl, webhookSecret, webhookMaxAttempts } = config.detect
    if (webhookUrl && !webhookSecret)
      throw new SporError(
        'SPOR_ERR_CONFIG',
        'SPOR_DETECT_WEBHOOK_URL needs SPOR_DETECT_WEBHOOK_SECRET (HMAC key)',
      )
    this.#webhook =
      webhookUrl && webhookSecret
        ? new WebhookSender(
            {
              url: webhookUrl,
              secret: webhookSecret,
              maxAttempts: webhookMaxAttempts,
              backoff: { baseMs: config.ingest.retryBaseMs, maxMs: config.ingest.retryMaxMs },
            },
            log,
          )
        : undefined
    this.#repartitioner = new Repartitioner({
      kafka,
      config,
      clock,
      log,
      onCrash,
      isErased: deps.isErased,
      enrichers: {
        lookupGeo: createGeoLookup(sharedGeoDatabase(configuredGeoDbPaths(config.ingest.geoDbFiles))),
        parseUserAgent: createUserAgentParser({ cacheSize: config.ingest.uaCacheSize }),
      },
    })
    this.#store = new AlertStore(es, config.es.indexPrefix)
    this.#rules = new RuleStage({
      kafka,
      config,
      log,
      onCrash,
      rules: deps.rules ?? RuleBook.fromFile(config.detect.rulesFile),
      store: this.#store,
      isErased: deps.isErased,
      topic: repartitionTopic(config),
      onStored: (notices, latencies) => {
        for (const n of notices) if (n.change === 'raised') this.#webhook?.enqueue(n)
        deps.onStored?.(notices, latencies)
      },
    })
  }

  get running(): boolean {
    return this.#rules.running
  }

  get webhookPending(): number {
    return this.#webhook?.pending ?? 0
  }

  stateSizes() {
    return this.#rules.state.sizes()
  }

  async start(): Promise<void> {
    const step = startupSteps(this.#deps.config, this.#deps.log)
    await step('detect topics', () => ensureDetectTopics(this.#deps.kafka, this.#deps.config))
    await step('alert mapping', () => this.#store.ensureMapping())
    await this.#rules.start()
    await this.#repartitioner.start()
    this.#deps.log.info(
      { group: this.#deps.config.kafka.detectGroup, repartition: repartitionTopic(this.#deps.config) },
      'detect running',
    )
  }

  async stop(): Promise<void> {
    await this.#repartitioner.stop()
    await this.#rules.stop()
    await this.#webhook?.close()
  }
}
