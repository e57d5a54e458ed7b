import kafkajs, {
  type Admin,
  type Consumer,
  type ConsumerConfig,
  type ISocketFactory,
  type ITopicConfig,
  Kafka,
  type LogEntry,
  logLevel,
  Partitioners,
  type Producer,
  type RetryOptions,
} from 'kafkajs'
import { compressionType, registerCodecs } from './codecs.ts'
import type { SporConfig } from './config.ts'
import { SporError } from './errors.ts'
import { kafkaClientSecurity, preflightTls } from './kafka-security.ts'
import type { Logger } from './logger.ts'
import { type BeforePoison, guardPoison, handlePoisonBatch, poisonOf } from './poison.ts'
import { restartBudget } from './restart-budget.ts'
import { DEFAULT_STARTUP_POLICY, retryStartup, type StartupOptions } from './startup.ts'

// CommonJS: Node's ESM loader does not see these among kafkajs's named exports.
const { ConfigResourceTypes, ConfigSource } = kafkajs

// Every consumer spor creates reads gzip, snappy, lz4 and zstd batches (core/codecs.ts).
registerCodecs()

/** What createProducer needs to know about the client it was given (set by createKafka). */
const producerDefaults = new WeakMap<Kafka, { compression: ReturnType<typeof compressionType> }>()

export type { Kafka }

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
}

// kafkajs logs these as errors while it retries them itself during broker start and rebalances
// (and while a new topic's metadata propagates, which createTopicsReady waits out). The
// idempotent-producer warning is about retries being finite, which is deliberate here: a send
// that keeps failing must surface (collector answers 502, consumer backs off).
const TRANSIENT =
  /coordinator is loading|group coordinator is not available|rebalanc|not the leader|leadership election|does not host this topic-partition|Limiting retries for the idempotent producer/i

/** A Kafka client whose logs go through pino; transient coordinator errors are logged as debug. */
export function createKafka(
  config: SporConfig,
  log: Logger,
  clientId = config.kafka.clientId,
  // Tests route the client's connections through a switch they can cut (broker unreachable).
  options: { socketFactory?: ISocketFactory; retry?: RetryOptions } = {},
): Kafka {
  const kafkaLog = log.child({ component: 'kafkajs' })
  const kafka = new Kafka({
    clientId,
    brokers: [...config.kafka.brokers],
    ...kafkaClientSecurity(config.kafkaConnection),
    ...(options.socketFactory ? { socketFactory: options.socketFactory } : {}),
    logLevel: logLevel.WARN,
    // Also the producers' send retry; every broker connection retries with it too, inside each
    // send attempt, so the worst case is their product (10 × 10 here: minutes).
    retry: options.retry ?? { initialRetryTime: 300, retries: 10 },
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry
        const method = TRANSIENT.test(`${message} ${rest.error ?? ''}`) ? 'debug' : (LEVELS[level] ?? 'info')
        kafkaLog[method]({ namespace: entry.namespace, error: rest.error, broker: rest.broker }, message)
      },
  })
  producerDefaults.set(kafka, { compression: compressionType(config.kafkaConnection.compression) })
  kafkaSettings.set(kafka, config)
  return kafka
}

const kafkaSettings = new WeakMap<Kafka, SporConfig>()

/**
 * Waits for the broker to answer admin calls (it logs "coordinator loading" for a few seconds).
 * Transient failures are retried with backoff (core/startup.ts); wrong credentials or an
 * untrusted certificate do not heal by retrying and end the wait at once with one clear line
 * (SPOR_ERR_KAFKA_AUTH). A number is the timeout with the default backoff.
 */
export async function waitForKafka(kafka: Kafka, options: StartupOptions | number = {}): Promise<void> {
  const opts =
    typeof options === 'number' ? { policy: { ...DEFAULT_STARTUP_POLICY, timeoutMs: options } } : options
  const config = kafkaSettings.get(kafka)
  if (config) await preflightTls(config.kafka.brokers, config.kafkaConnection)
  const admin = kafka.admin()
  try {
    await retryStartup(
      'kafka ready',
      async () => {
        await admin.connect()
        await admin.describeCluster()
      },
      opts,
    )
  } finally {
    await admin.disconnect().catch(() => {})
  }
}

/**
 * The producer spor uses everywhere: idempotent (no duplicates from its own retries), one
 * request in flight (ordering per partition), the murmur2 partitioner Java clients use;
 * transactional when given a transactional id.
 */
export function createProducer(kafka: Kafka, options: { transactionalId?: string } = {}): Producer {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    ...(options.transactionalId ? { transactionalId: options.transactionalId } : {}),
  })
  const defaults = producerDefaults.get(kafka)
  return defaults ? withCompression(producer, defaults.compression) : producer
}

type Sender = Pick<Producer, 'send' | 'sendBatch'>

/**
 * kafkajs takes the compression per send, not per producer: spor's setting
 * (SPOR_KAFKA_COMPRESSION) becomes the default of every send and sendBatch, including those of
 * transactions; a caller that names a compression keeps it.
 */
function withCompression<T extends Sender>(sender: T, compression: ReturnType<typeof compressionType>): T {
  const send = sender.send.bind(sender)
  const sendBatch = sender.sendBatch.bind(sender)
  sender.send = (record) => send({ compression, ...record })
  sender.sendBatch = (batch) => sendBatch({ compression, ...batch })
  const transactional = sender as unknown as Partial<Pick<Producer, 'transaction'>>
  if (typeof transactional.transaction === 'function') {
    const transaction = transactional.transaction.bind(sender)
    transactional.transaction = async () => withCompression(await transaction(), compression)
  }
  return sender
}

/**
 * A consumer-group member as every spor consumer runs: the session timeout from config
 * (`SPOR_KAFKA_SESSION_TIMEOUT_MS`, heartbeats at a third of it, at most every 3 s) and kafkajs's
 * restart loop bounded by the restart budget (`consumer` and `fields` name it in the logs).
 */
export function createGroupConsumer(
  kafka: Kafka,
  config: SporConfig,
  log: Logger,
  options: {
    groupId: string
    consumer: string
    fields?: Record<string, unknown>
    fetch?: Pick<ConsumerConfig, 'maxBytes' | 'maxBytesPerPartition' | 'maxWaitTimeInMs'>
    beforePoison?: BeforePoison
  },
): Consumer {
  const { sessionTimeoutMs } = config.kafka
  const consumer = kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: sessionTimeoutMs,
    heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeoutMs / 3)),
    ...options.fetch,
    retry: {
      retries: 5,
      restartOnFailure: handlePoisonBatch(restartBudget(config, log, options.consumer, options.fields)),
    },
  })
  return guardPoison(
    consumer,
    log,
    { groupId: options.groupId, consumer: options.consumer, fields: options.fields },
    options.beforePoison,
  )
}

/**
 * The error a consumer's CRASH handler reports when kafkajs will not restart it: the undecodable
 * batch itself (SPOR_ERR_POISON_BATCH, which says where it is and how to skip it) or the spent
 * restart budget.
 */
export function consumerFatalError(error: Error): SporError {
  return poisonOf(error) ?? new SporError('SPOR_ERR_FATAL_RESTARTS', error.message, { cause: error })
}

// Right after CreateTopics the broker may not know the topic yet (KRaft metadata propagates
// asynchronously). kafkajs's own `waitForLeaders` retries only LEADER_NOT_AVAILABLE and bails on
// UNKNOWN_TOPIC_OR_PARTITION, which made `setup` fail now and then; these two mean "not yet".
const NOT_YET = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE'])

/**
 * Creates topics (a concurrent creator winning is fine) and waits until every partition of each
 * has a leader, so the caller can produce and consume right away.
 */
export async function createTopicsReady(
  admin: Admin,
  topics: ITopicConfig[],
  timeoutMs = 30_000,
): Promise<void> {
  await admin.createTopics({ topics, waitForLeaders: false })
  const names = topics.map((t) => t.topic)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics: names })
      const ready = metadata.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))
      if (ready) return
    } catch (error) {
      if (!NOT_YET.has((error as { type?: string }).type ?? '')) throw error
    }
    if (Date.now() > deadline)
      throw new SporError('SPOR_ERR_KAFKA', `topics ${names.join(', ')} have no leader after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/**
 * Sets spor's keys on existing topics without touching anything else. kafkajs has only the old
 * AlterConfigs, which replaces a topic's whole set of overrides (settings not named go back to
 * the broker default): so the current overrides are read first and sent back with spor's keys
 * on top. An operator's `min.insync.replicas` or `compression.type` survives `spor setup`.
 * Returns the topics whose settings changed.
 */
export async function mergeTopicConfigs(
  admin: Admin,
  topics: { topic: string; configEntries: { name: string; value: string }[] }[],
): Promise<string[]> {
  if (topics.length === 0) return []
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((t) => ({ type: ConfigResourceTypes.TOPIC, name: t.topic })),
  })
  const changes = []
  for (const wanted of topics) {
    const current = resources.find((r) => r.resourceName === wanted.topic)
    if (current?.errorCode !== 0) {
      throw new SporError(
        'SPOR_ERR_KAFKA',
        `cannot read the settings of topic ${wanted.topic}: ${current?.errorMessage ?? 'not described'}`,
      )
    }
    const overrides = new Map<string, string>()
    for (const entry of current.configEntries) {
      if (entry.configSource !== ConfigSource.TOPIC_CONFIG) continue
      if (entry.configValue === null || entry.configValue === undefined) {
        throw new SporError(
          'SPOR_ERR_KAFKA',
          `topic ${wanted.topic} has a setting the broker will not show (${entry.configName}); refusing to rewrite its settings`,
        )
      }
      overrides.set(entry.configName, entry.configValue)
    }
    const merged = new Map(overrides)
    for (const { name, value } of wanted.configEntries) merged.set(name, value)
    const changed = wanted.configEntries.some(({ name, value }) => overrides.get(name) !== value)
    if (changed) {
      changes.push({
        type: ConfigResourceTypes.TOPIC,
        name: wanted.topic,
        configEntries: [...merged].map(([name, value]) => ({ name, value })),
      })
    }
  }
  if (changes.length > 0) await admin.alterConfigs({ validateOnly: false, resources: changes })
  return changes.map((c) => c.name)
}
