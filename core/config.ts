import { readFileSync } from 'node:fs'
import { type Static, Type } from 'typebox'
import { Compile } from 'typebox/compile'
import {
  DEFAULT_INGEST_MAX_INFLIGHT_BYTES,
  defaultIngestHeapMb,
  INGEST_HEAP_MB_MAX,
  INGEST_HEAP_MB_MIN,
  minimumIngestHeapMb,
} from '../bin/ingest-heap.js'
import { canCompressZstd } from './codecs.ts'
import {
  CONNECTION_ENV_KEYS,
  connectionProblems,
  EsConnectionSchema,
  esConnectionFromEnv,
  KafkaConnectionSchema,
  kafkaConnectionFromEnv,
  redactConnections,
} from './connection-config.ts'
import { SporError } from './errors.ts'
import { DEFAULT_EVENT_TYPES, type EventTypeTable } from './event-types.ts'
import { redactUrls } from './redact.ts'
import { DEFAULT_RETENTION_DAYS, type RetentionDays } from './retention.ts'

/**
 * Typed configuration, validated once at start. Values come from SPOR_* environment variables
 * (secrets only from there, never from the repo); unknown SPOR_* variables are rejected so a
 * typo fails loudly instead of silently falling back to a default.
 */

const Port = Type.Integer({ minimum: 0, maximum: 65535 })
const PositiveInt = Type.Integer({ minimum: 1 })
const Days = Type.Integer({ minimum: 1, maximum: 3650 })

const ConfigSchema = Type.Object(
  {
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    ),
    kafka: Type.Object({
      brokers: Type.Array(Type.String({ minLength: 3 }), { minItems: 1 }),
      clientId: Type.String({ minLength: 1 }),
      eventsTopic: Type.String({ minLength: 1 }),
      dlqTopic: Type.String({ minLength: 1 }),
      alertsTopic: Type.String({ minLength: 1 }),
      ingestGroup: Type.String({ minLength: 1 }),
      detectGroup: Type.String({ minLength: 1 }),
      partitions: PositiveInt,
      /** retention.ms for the events and dead-letter topics: they hold raw IPs and user ids. */
      topicRetentionMs: PositiveInt,
      /** How long the group waits for a silent member (e.g. a killed process) before rebalancing. */
      sessionTimeoutMs: Type.Integer({ minimum: 6000, maximum: 300_000 }),
    }),
    es: Type.Object({
      url: Type.String({ pattern: '^https?://' }),
      username: Type.Optional(Type.String()),
      password: Type.Optional(Type.String()),
      indexPrefix: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*$', maxLength: 40 }),
      requestTimeoutMs: PositiveInt,
    }),
    // Secured Kafka / Elasticsearch, producer compression, replicas (core/connection-config.ts)
    kafkaConnection: KafkaConnectionSchema,
    esConnection: EsConnectionSchema,
    retentionDays: Type.Object({ short: Days, long: Days, alerts: Days, stats: Days, profiles: Days }),
    ingest: Type.Object({
      maxEventBytes: PositiveInt,
      maxFutureSkewMs: PositiveInt,
      bulkMaxBytes: PositiveInt,
      partitionsConcurrently: PositiveInt,
      retryBaseMs: PositiveInt,
      retryMaxMs: PositiveInt,
      /** Attempts for one retryable document (429/5xx item) before it goes to the DLQ. */
      itemMaxAttempts: PositiveInt,
      /** Fatal consumer errors tolerated within restartWindowMs before the process exits. */
      maxRestarts: PositiveInt,
      restartWindowMs: PositiveInt,
      enforceEveryMs: Type.Integer({ minimum: 0 }),
      /** How often `spor ingest` checks whether yesterday's profiles are computed; 0 = not in this process. */
      segmentsEveryMs: Type.Integer({ minimum: 0 }),
      uaCacheSize: Type.Integer({ minimum: 0 }),
      httpPort: Port,
      // Ingest throughput, memory and geo data (issue 16) ----------------------------------------
      /** Bytes of serialised documents in bulk requests at once, across partitions (the memory bound). */
      maxInFlightBytes: PositiveInt,
      /** Bulk requests at once, across partitions (within the byte bound). */
      bulkConcurrency: Type.Integer({ minimum: 1, maximum: 64 }),
      /** MaxMind-format City databases (.mmdb); empty = the bundled GeoLite2 City files. */
      geoDbFiles: Type.Array(Type.String({ minLength: 1 })),
      /** How often the geo files are checked for replacement (stat poll), ms. */
      geoCheckMs: Type.Integer({ minimum: 1000 }),
      /** A warning (and `spor config`) when the geo data is older than this. */
      geoMaxAgeDays: Type.Integer({ minimum: 1, maximum: 3650 }),
      // Ingest memory (issue 16, third session) -------------------------------------------------
      /**
       * Old-generation cap of `spor ingest`'s V8 heap, MB (bin/ingest-heap.js applies it: the
       * pipeline runs in a worker thread with this limit); 0 = Node's own limits, on the main thread.
       */
      heapMb: Type.Integer({ minimum: 0, maximum: INGEST_HEAP_MB_MAX }),
    }),
    collector: Type.Object({
      host: Type.String(),
      port: Port,
      bodyLimitBytes: PositiveInt,
      maxEventsPerRequest: PositiveInt,
      trustedProxies: Type.Array(Type.String()),
      rateLimitPerMinute: PositiveInt,
      keyCacheMs: Type.Integer({ minimum: 0 }),
      // Kafka unreachable (issue 18): how often the collector's client retries a produce (and each
      // broker connection within it) before answering 502, at 100 ms doubling to at most 1 s.
      kafkaRetries: Type.Integer({ minimum: 0, maximum: 10 }),
    }),
    query: Type.Object({
      host: Type.String(),
      port: Port,
      kAnonymity: Type.Integer({ minimum: 2 }),
      /** Requests per hour per API key on /v1 (Plausible allows 600). */
      rateLimitPerHour: PositiveInt,
      /** Standard deviation of the statistics' sticky noise, in users (0 = exact answers). */
      statsNoiseSd: Type.Number({ minimum: 0, maximum: 100 }),
      statsMaxRangeDays: Type.Integer({ minimum: 1, maximum: 3650 }),
      /** Recent days answered from raw events (and re-rolled-up each run, for late events). */
      statsRawDays: Type.Integer({ minimum: 1, maximum: 3650 }),
      /** How often `spor query` runs the rollup job (ms); 0 disables the schedule. */
      rollupEveryMs: Type.Integer({ minimum: 0 }),
      // Statistics question budget and answer cache (issue 13, query/stats/budget.ts):
      /** Distinct statistics questions per data scope (tenant, or product-wide) per window. */
      statsBudgetQuestions: PositiveInt,
      statsBudgetWindowHours: Type.Integer({ minimum: 1, maximum: 24 * 366 }),
      /** How long an answer is served from the instance's cache without recomputing (ms). */
      statsCacheMs: Type.Integer({ minimum: 0, maximum: 3_600_000 }),
      /**
       * Tenants (or `*`) whose users reported by browser keys alone count in statistics: for
       * tenants without a server key, who accept that a public key can pad their populations.
       */
      statsClientUserTenants: Type.Array(Type.String({ minLength: 1 })),
      // Statistics read latency (issue 13 item 6, query/stats/row-cache.ts):
      /** Bytes (in MB) of decoded rollup rows kept per instance; 0 disables the cache. */
      statsRowCacheMb: Type.Integer({ minimum: 0, maximum: 16_384 }),
      /** Days of the dashboard's product-wide view read into the row cache before ready; 0: none. */
      statsWarmUpDays: Type.Integer({ minimum: 0, maximum: 3650 }),
    }),
    privacy: Type.Object({
      /** How often consumers reload erasure tombstones. */
      tombstoneRefreshMs: PositiveInt,
      /** Extra wait after the tombstone, beyond two refreshes, for batches already in flight. */
      eraseGraceMs: Type.Integer({ minimum: 0 }),
    }),
    /** Master key for per-tenant pseudonyms (HMAC). Secret: environment only. */
    pseudonymKey: Type.Optional(Type.String({ minLength: 32 })),
    detect: Type.Object({
      /** JSON file with rule settings and per-tenant overrides (detect/rule-config.ts). */
      rulesFile: Type.Optional(Type.String({ minLength: 1 })),
      /** Event-time lookback replayed from the repartition topic on start (state rebuild). */
      lookbackMs: PositiveInt,
      /** Bound on keys held per stream kind (IPs, accounts, users, ...); least recently used go first. */
      maxKeys: PositiveInt,
      /** retention.ms of the internal repartition topic: it holds IPs, so inside the short class. */
      repartitionRetentionMs: PositiveInt,
      webhookUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
      /** HMAC-SHA256 key for the webhook signature. Secret: environment only. */
      webhookSecret: Type.Optional(Type.String({ minLength: 16 })),
      webhookMaxAttempts: PositiveInt,
      httpPort: Port,
    }),
    // Start-up retries and pseudonym-key rotation (ops) ------------------------------------------
    /** Each start-up step (readiness, indices, topics, tombstones) retries transient failures this long (core/startup.ts). */
    startup: Type.Object({
      timeoutMs: Type.Integer({ minimum: 1000, maximum: 3_600_000 }),
      baseMs: Type.Integer({ minimum: 1, maximum: 60_000 }),
      maxMs: Type.Integer({ minimum: 1, maximum: 300_000 }),
    }),
    /**
     * Pseudonym keys replaced by a rotation: used only to recognise the erasure tombstones made
     * under them (privacy/tombstones.ts), never to derive pseudonyms. Secret: environment only.
     */
    pseudonymKeysPrevious: Type.Array(Type.String({ minLength: 32 }), { maxItems: 8 }),
    /** Hostile-input limits (issue 15): scoped keys, limits before auth, per-tenant fairness. */
    hostile: Type.Object({
      /** Requests per minute per client address (IPv6: per /64) before authentication; 0 = off. */
      collectorIpRatePerMinute: Type.Integer({ minimum: 0 }),
      queryIpRatePerMinute: Type.Integer({ minimum: 0 }),
      /** How far back a browser (client) key may date an event: it cannot pad history. */
      clientMaxBackdateMs: PositiveInt,
      /** Keys one tenant may hold per detection stream kind: it cannot evict another's windows. */
      detectMaxKeysPerTenant: PositiveInt,
      /** Concurrent subject exports per tenant (each holds point-in-time views). */
      tenantMaxExports: PositiveInt,
      /** Concurrent `source=raw` statistics requests per tenant (or per product-wide key). */
      tenantMaxRawStats: PositiveInt,
      /** A whole HTTP request (headers and body) must arrive within this: slow bodies get 408. */
      httpRequestTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000 }),
      /** When set, /metrics and /docs answer only with `Authorization: Bearer <token>`. Secret. */
      opsToken: Type.Optional(Type.String({ minLength: 16 })),
    }),
  },
  { additionalProperties: false },
)

export type SporConfig = Static<typeof ConfigSchema> & {
  readonly eventTypes: EventTypeTable
  readonly retentionDays: RetentionDays
}

const ENV_KEYS = [
  'SPOR_LOG_LEVEL',
  'SPOR_KAFKA_BROKERS',
  'SPOR_KAFKA_CLIENT_ID',
  'SPOR_TOPIC_PREFIX',
  'SPOR_KAFKA_PARTITIONS',
  'SPOR_TOPIC_RETENTION_HOURS',
  'SPOR_KAFKA_SESSION_TIMEOUT_MS',
  'SPOR_ES_URL',
  'SPOR_ES_USERNAME',
  'SPOR_ES_PASSWORD',
  'SPOR_INDEX_PREFIX',
  'SPOR_ES_TIMEOUT_MS',
  'SPOR_RETENTION_SHORT_DAYS',
  'SPOR_RETENTION_LONG_DAYS',
  'SPOR_RETENTION_ALERTS_DAYS',
  'SPOR_RETENTION_STATS_DAYS',
  'SPOR_EVENT_TYPES_FILE',
  'SPOR_MAX_EVENT_BYTES',
  'SPOR_MAX_FUTURE_SKEW_MS',
  'SPOR_BULK_MAX_BYTES',
  'SPOR_PARTITIONS_CONCURRENTLY',
  'SPOR_RETRY_BASE_MS',
  'SPOR_RETRY_MAX_MS',
  'SPOR_ITEM_MAX_ATTEMPTS',
  'SPOR_MAX_RESTARTS',
  'SPOR_RESTART_WINDOW_MS',
  'SPOR_ENFORCE_EVERY_MS',
  'SPOR_SEGMENTS_EVERY_MS',
  'SPOR_UA_CACHE_SIZE',
  'SPOR_INGEST_HTTP_PORT',
  // ingest throughput, memory and geo data (issue 16)
  'SPOR_INGEST_MAX_INFLIGHT_BYTES',
  'SPOR_BULK_CONCURRENCY',
  'SPOR_GEOIP_DB',
  'SPOR_GEOIP_CHECK_MS',
  'SPOR_GEOIP_MAX_AGE_DAYS',
  // ingest memory (issue 16, third session)
  'SPOR_INGEST_HEAP_MB',
  'SPOR_COLLECTOR_HOST',
  'SPOR_COLLECTOR_PORT',
  'SPOR_COLLECTOR_BODY_LIMIT',
  'SPOR_COLLECTOR_MAX_EVENTS',
  'SPOR_TRUSTED_PROXIES',
  'SPOR_COLLECTOR_RATE_LIMIT',
  // Kafka unreachable: 502 after a bounded retry (issue 18)
  'SPOR_COLLECTOR_KAFKA_RETRIES',
  'SPOR_KEY_CACHE_MS',
  'SPOR_QUERY_HOST',
  'SPOR_QUERY_PORT',
  'SPOR_K_ANONYMITY',
  'SPOR_QUERY_RATE_LIMIT',
  'SPOR_STATS_NOISE_SD',
  'SPOR_STATS_MAX_RANGE_DAYS',
  'SPOR_STATS_RAW_DAYS',
  'SPOR_ROLLUP_EVERY_MS',
  // statistics question budget and answer cache (issue 13)
  'SPOR_STATS_BUDGET_QUESTIONS',
  'SPOR_STATS_BUDGET_WINDOW_HOURS',
  'SPOR_STATS_CACHE_MS',
  'SPOR_STATS_CLIENT_USER_TENANTS',
  // statistics read latency: cache of decoded rollup rows (issue 13)
  'SPOR_STATS_ROW_CACHE_MB',
  'SPOR_STATS_WARM_UP_DAYS',
  'SPOR_PSEUDONYM_KEY',
  'SPOR_TOMBSTONE_REFRESH_MS',
  'SPOR_ERASE_GRACE_MS',
  'SPOR_DETECT_RULES_FILE',
  'SPOR_DETECT_LOOKBACK_HOURS',
  'SPOR_DETECT_MAX_KEYS',
  'SPOR_DETECT_REPARTITION_RETENTION_HOURS',
  'SPOR_DETECT_WEBHOOK_URL',
  'SPOR_DETECT_WEBHOOK_SECRET',
  'SPOR_DETECT_WEBHOOK_MAX_ATTEMPTS',
  'SPOR_DETECT_HTTP_PORT',
  // start-up retries and pseudonym-key rotation (ops)
  'SPOR_STARTUP_TIMEOUT_MS',
  'SPOR_STARTUP_BACKOFF_BASE_MS',
  'SPOR_STARTUP_BACKOFF_MAX_MS',
  'SPOR_PSEUDONYM_KEY_PREVIOUS',
  // hostile input (issue 15)
  'SPOR_COLLECTOR_IP_RATE_LIMIT',
  'SPOR_QUERY_IP_RATE_LIMIT',
  'SPOR_CLIENT_MAX_BACKDATE_HOURS',
  'SPOR_DETECT_MAX_KEYS_PER_TENANT',
  'SPOR_TENANT_MAX_EXPORTS',
  'SPOR_TENANT_MAX_RAW_STATS',
  'SPOR_HTTP_REQUEST_TIMEOUT_MS',
  'SPOR_OPS_TOKEN',
  // read by `npm run bench`, listed so a shell that exports them can still start services
  'SPOR_BENCH_ENRICH_EVENTS',
  'SPOR_BENCH_INGEST_EVENTS',
  'SPOR_BENCH_BASELINE_ROOT',
  'SPOR_BENCH_LATENCY_SECONDS',
  'SPOR_BENCH_STATS_ES_URL',
  'SPOR_BENCH_STATS_EVENTS',
  'SPOR_BENCH_DETECT_ATTACKS',
  'SPOR_BENCH_DETECT_IPS',
  // read by stack/stack.sh, listed so they are not rejected as typos
  'SPOR_CACHE_DIR',
  'SPOR_STACK_DIR',
  'SPOR_KAFKA_PORT',
  'SPOR_KAFKA_CONTROLLER_PORT',
  'SPOR_ES_PORT',
  'SPOR_ES_TRANSPORT_PORT',
  'SPOR_KAFKA_HEAP',
  'SPOR_ES_HEAP',
  'SPOR_ES_JAVA_HOME',
  // secured Kafka / Elasticsearch, compression, replicas (core/connection-config.ts)
  ...CONNECTION_ENV_KEYS,
] as const

export type SporEnv = Partial<Record<(typeof ENV_KEYS)[number], string>>

const compiled = Compile(ConfigSchema)

function int(env: Record<string, string | undefined>, key: string, fallback: number): number {
  const raw = env[key]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value))
    throw new SporError('SPOR_ERR_CONFIG', `${key} must be an integer, got "${raw}"`)
  return value
}

function num(env: Record<string, string | undefined>, key: string, fallback: number): number {
  const raw = env[key]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value)) throw new SporError('SPOR_ERR_CONFIG', `${key} must be a number, got "${raw}"`)
  return value
}

interface SchemaProblem {
  keyword: string
  instancePath: string
  message: string
  params: Record<string, unknown>
}

/**
 * Schema errors as lines, one path at a time; a value outside a choice (a union of literals:
 * only `const` and `anyOf` errors at its path) as its choices.
 */
export function describeProblems(errors: Iterable<SchemaProblem>): string[] {
  const byPath = new Map<string, SchemaProblem[]>()
  for (const e of errors) {
    if (e.keyword === 'boolean') continue
    const path = e.instancePath || '/'
    byPath.set(path, [...(byPath.get(path) ?? []), e])
  }
  const lines: string[] = []
  for (const [path, problems] of byPath) {
    const choices = new Set(problems.filter((e) => e.keyword === 'const').map((e) => e.params.allowedValue))
    if (choices.size > 0 && problems.every((e) => e.keyword === 'const' || e.keyword === 'anyOf'))
      lines.push(`${path} must be one of ${[...choices].join(', ')}`)
    else for (const e of problems) lines.push(`${path} ${e.message}`)
  }
  return lines
}

function list(raw: string | undefined, fallback: string[]): string[] {
  if (raw === undefined || raw.trim() === '') return fallback
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

function loadEventTypes(file: string | undefined): EventTypeTable {
  if (!file) return DEFAULT_EVENT_TYPES
  let table: unknown
  try {
    table = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw new SporError('SPOR_ERR_CONFIG', `SPOR_EVENT_TYPES_FILE ${file}: ${(error as Error).message}`)
  }
  if (typeof table !== 'object' || table === null || Array.isArray(table)) {
    throw new SporError(
      'SPOR_ERR_CONFIG',
      `SPOR_EVENT_TYPES_FILE ${file}: expected an object of type → class`,
    )
  }
  for (const [type, cls] of Object.entries(table)) {
    if (cls !== 'short' && cls !== 'long') {
      throw new SporError(
        'SPOR_ERR_CONFIG',
        `SPOR_EVENT_TYPES_FILE ${file}: ${type} has class "${cls}" (short|long)`,
      )
    }
  }
  return Object.freeze(table as EventTypeTable)
}

/**
 * Builds and validates the configuration from an environment. Throws SporError
 * SPOR_ERR_CONFIG with every problem listed.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): SporConfig {
  const unknown = Object.keys(env).filter(
    (k) => k.startsWith('SPOR_') && !(ENV_KEYS as readonly string[]).includes(k),
  )
  if (unknown.length > 0) {
    throw new SporError('SPOR_ERR_CONFIG', `unknown variable(s) ${unknown.join(', ')}`)
  }
  const topicPrefix = env.SPOR_TOPIC_PREFIX ?? 'spor'
  const kafkaPort = env.SPOR_KAFKA_PORT ?? '9092'
  const esPort = env.SPOR_ES_PORT ?? '9200'
  // Read once: the warm-up's default follows it.
  const statsMaxRangeDays = int(env, 'SPOR_STATS_MAX_RANGE_DAYS', 800)
  const candidate = {
    logLevel: env.SPOR_LOG_LEVEL ?? 'info',
    kafka: {
      brokers: list(env.SPOR_KAFKA_BROKERS, [`127.0.0.1:${kafkaPort}`]),
      clientId: env.SPOR_KAFKA_CLIENT_ID ?? 'spor',
      eventsTopic: `${topicPrefix}.events.v1`,
      dlqTopic: `${topicPrefix}.dlq.v1`,
      alertsTopic: `${topicPrefix}.alerts.v1`,
      ingestGroup: `${topicPrefix}.ingest`,
      detectGroup: `${topicPrefix}.detect`,
      partitions: int(env, 'SPOR_KAFKA_PARTITIONS', 3),
      topicRetentionMs: int(env, 'SPOR_TOPIC_RETENTION_HOURS', 7 * 24) * 3_600_000,
      sessionTimeoutMs: int(env, 'SPOR_KAFKA_SESSION_TIMEOUT_MS', 30_000),
    },
    es: {
      url: env.SPOR_ES_URL ?? `http://127.0.0.1:${esPort}`,
      username: env.SPOR_ES_USERNAME,
      password: env.SPOR_ES_PASSWORD,
      indexPrefix: env.SPOR_INDEX_PREFIX ?? 'spor',
      requestTimeoutMs: int(env, 'SPOR_ES_TIMEOUT_MS', 30_000),
    },
    // secured Kafka / Elasticsearch, compression, replicas (core/connection-config.ts)
    kafkaConnection: kafkaConnectionFromEnv(env),
    esConnection: esConnectionFromEnv(env),
    retentionDays: {
      short: int(env, 'SPOR_RETENTION_SHORT_DAYS', DEFAULT_RETENTION_DAYS.short),
      long: int(env, 'SPOR_RETENTION_LONG_DAYS', DEFAULT_RETENTION_DAYS.long),
      alerts: int(env, 'SPOR_RETENTION_ALERTS_DAYS', DEFAULT_RETENTION_DAYS.alerts),
      stats: int(env, 'SPOR_RETENTION_STATS_DAYS', DEFAULT_RETENTION_DAYS.stats),
      // Profiles are derived from short-class data and never outlive it.
      profiles: int(env, 'SPOR_RETENTION_SHORT_DAYS', DEFAULT_RETENTION_DAYS.profiles),
    },
    ingest: {
      maxEventBytes: int(env, 'SPOR_MAX_EVENT_BYTES', 32 * 1024),
      maxFutureSkewMs: int(env, 'SPOR_MAX_FUTURE_SKEW_MS', 10 * 60_000),
      bulkMaxBytes: int(env, 'SPOR_BULK_MAX_BYTES', 5 * 1024 * 1024),
      // Batches of different partitions overlap enrichment (CPU) with bulk requests (I/O); each
      // commits only its own partition, so concurrency cannot commit another batch's offsets.
      partitionsConcurrently: int(env, 'SPOR_PARTITIONS_CONCURRENTLY', 3),
      retryBaseMs: int(env, 'SPOR_RETRY_BASE_MS', 200),
      retryMaxMs: int(env, 'SPOR_RETRY_MAX_MS', 30_000),
      itemMaxAttempts: int(env, 'SPOR_ITEM_MAX_ATTEMPTS', 8),
      maxRestarts: int(env, 'SPOR_MAX_RESTARTS', 5),
      restartWindowMs: int(env, 'SPOR_RESTART_WINDOW_MS', 5 * 60_000),
      enforceEveryMs: int(env, 'SPOR_ENFORCE_EVERY_MS', 60 * 60_000),
      segmentsEveryMs: int(env, 'SPOR_SEGMENTS_EVERY_MS', 60 * 60_000),
      uaCacheSize: int(env, 'SPOR_UA_CACHE_SIZE', 5000),
      httpPort: int(env, 'SPOR_INGEST_HTTP_PORT', 9464),
      // ingest throughput, memory and geo data (issue 16)
      maxInFlightBytes: int(env, 'SPOR_INGEST_MAX_INFLIGHT_BYTES', DEFAULT_INGEST_MAX_INFLIGHT_BYTES),
      bulkConcurrency: int(env, 'SPOR_BULK_CONCURRENCY', 4),
      geoDbFiles: list(env.SPOR_GEOIP_DB, []),
      geoCheckMs: int(env, 'SPOR_GEOIP_CHECK_MS', 60_000),
      geoMaxAgeDays: int(env, 'SPOR_GEOIP_MAX_AGE_DAYS', 60),
      // ingest memory (issue 16, third session)
      heapMb: int(env, 'SPOR_INGEST_HEAP_MB', defaultIngestHeapMb(env)),
    },
    collector: {
      host: env.SPOR_COLLECTOR_HOST ?? '127.0.0.1',
      port: int(env, 'SPOR_COLLECTOR_PORT', 8080),
      bodyLimitBytes: int(env, 'SPOR_COLLECTOR_BODY_LIMIT', 1024 * 1024),
      maxEventsPerRequest: int(env, 'SPOR_COLLECTOR_MAX_EVENTS', 500),
      trustedProxies: list(env.SPOR_TRUSTED_PROXIES, []),
      rateLimitPerMinute: int(env, 'SPOR_COLLECTOR_RATE_LIMIT', 6000),
      keyCacheMs: int(env, 'SPOR_KEY_CACHE_MS', 30_000),
      kafkaRetries: int(env, 'SPOR_COLLECTOR_KAFKA_RETRIES', 2),
    },
    query: {
      host: env.SPOR_QUERY_HOST ?? '127.0.0.1',
      port: int(env, 'SPOR_QUERY_PORT', 8081),
      kAnonymity: int(env, 'SPOR_K_ANONYMITY', 5),
      rateLimitPerHour: int(env, 'SPOR_QUERY_RATE_LIMIT', 600),
      statsNoiseSd: num(env, 'SPOR_STATS_NOISE_SD', 1),
      statsMaxRangeDays,
      statsRawDays: int(env, 'SPOR_STATS_RAW_DAYS', 3),
      rollupEveryMs: int(env, 'SPOR_ROLLUP_EVERY_MS', 60 * 60_000),
      // statistics question budget and answer cache (issue 13)
      statsBudgetQuestions: int(env, 'SPOR_STATS_BUDGET_QUESTIONS', 1000),
      statsBudgetWindowHours: int(env, 'SPOR_STATS_BUDGET_WINDOW_HOURS', 24),
      statsCacheMs: int(env, 'SPOR_STATS_CACHE_MS', 60_000),
      statsClientUserTenants: list(env.SPOR_STATS_CLIENT_USER_TENANTS, []),
      // statistics read latency: cache of decoded rollup rows (issue 13)
      statsRowCacheMb: int(env, 'SPOR_STATS_ROW_CACHE_MB', 128),
      // Unset: 30 days, or the longest range the API answers if that is shorter.
      statsWarmUpDays: int(env, 'SPOR_STATS_WARM_UP_DAYS', Math.min(30, statsMaxRangeDays)),
    },
    privacy: {
      tombstoneRefreshMs: int(env, 'SPOR_TOMBSTONE_REFRESH_MS', 5_000),
      eraseGraceMs: int(env, 'SPOR_ERASE_GRACE_MS', 5_000),
    },
    pseudonymKey: env.SPOR_PSEUDONYM_KEY,
    detect: {
      rulesFile: env.SPOR_DETECT_RULES_FILE || undefined,
      lookbackMs: int(env, 'SPOR_DETECT_LOOKBACK_HOURS', 14 * 24) * 3_600_000,
      maxKeys: int(env, 'SPOR_DETECT_MAX_KEYS', 200_000),
      repartitionRetentionMs: int(env, 'SPOR_DETECT_REPARTITION_RETENTION_HOURS', 15 * 24) * 3_600_000,
      webhookUrl: env.SPOR_DETECT_WEBHOOK_URL || undefined,
      webhookSecret: env.SPOR_DETECT_WEBHOOK_SECRET || undefined,
      webhookMaxAttempts: int(env, 'SPOR_DETECT_WEBHOOK_MAX_ATTEMPTS', 8),
      httpPort: int(env, 'SPOR_DETECT_HTTP_PORT', 9466),
    },
    // start-up retries and pseudonym-key rotation (ops)
    startup: {
      timeoutMs: int(env, 'SPOR_STARTUP_TIMEOUT_MS', 60_000),
      baseMs: int(env, 'SPOR_STARTUP_BACKOFF_BASE_MS', 250),
      maxMs: int(env, 'SPOR_STARTUP_BACKOFF_MAX_MS', 5_000),
    },
    pseudonymKeysPrevious: list(env.SPOR_PSEUDONYM_KEY_PREVIOUS, []),
    hostile: {
      collectorIpRatePerMinute: int(env, 'SPOR_COLLECTOR_IP_RATE_LIMIT', 20_000),
      queryIpRatePerMinute: int(env, 'SPOR_QUERY_IP_RATE_LIMIT', 600),
      clientMaxBackdateMs: int(env, 'SPOR_CLIENT_MAX_BACKDATE_HOURS', 6) * 3_600_000,
      detectMaxKeysPerTenant: int(env, 'SPOR_DETECT_MAX_KEYS_PER_TENANT', 50_000),
      tenantMaxExports: int(env, 'SPOR_TENANT_MAX_EXPORTS', 1),
      tenantMaxRawStats: int(env, 'SPOR_TENANT_MAX_RAW_STATS', 2),
      httpRequestTimeoutMs: int(env, 'SPOR_HTTP_REQUEST_TIMEOUT_MS', 30_000),
      opsToken: env.SPOR_OPS_TOKEN || undefined,
    },
  }
  if (!compiled.Check(candidate)) {
    throw new SporError('SPOR_ERR_CONFIG', describeProblems(compiled.Errors(candidate)).join('; '))
  }
  const connection = connectionProblems(
    candidate.kafkaConnection,
    { ...candidate.esConnection, ...candidate.es, urlSet: Boolean(env.SPOR_ES_URL) },
    canCompressZstd,
  )
  if (connection.length > 0) throw new SporError('SPOR_ERR_CONFIG', connection.join('; '))
  // Ingest memory (issue 16): the capped heap holds code, caches and every in-flight byte several
  // times over (fetched records, enriched documents, bulk bodies); too small a cap would end in an
  // out-of-memory exit under load instead of a clear refusal at start.
  const heapMb = candidate.ingest.heapMb
  const inFlightMb = Math.ceil(candidate.ingest.maxInFlightBytes / (1024 * 1024))
  const heapMinMb = minimumIngestHeapMb(candidate.ingest.maxInFlightBytes)
  if (heapMb > 0 && heapMb < heapMinMb) {
    throw new SporError(
      'SPOR_ERR_CONFIG',
      `SPOR_INGEST_HEAP_MB=${heapMb} is too small for SPOR_INGEST_MAX_INFLIGHT_BYTES (${inFlightMb} MB): give at least ${heapMinMb} (${INGEST_HEAP_MB_MIN} + 4 × the in-flight MB), or 0 for Node's own limits`,
    )
  }
  if (candidate.query.statsWarmUpDays > candidate.query.statsMaxRangeDays) {
    throw new SporError(
      'SPOR_ERR_CONFIG',
      'SPOR_STATS_WARM_UP_DAYS must not exceed SPOR_STATS_MAX_RANGE_DAYS (the warmed view is a range the API answers)',
    )
  }
  if (candidate.retentionDays.short > candidate.retentionDays.long) {
    throw new SporError('SPOR_ERR_CONFIG', 'short retention must not exceed long retention')
  }
  // + one day of segment rolling + the broker's 5-minute deletion check: the longest a record can
  // stay (detect/topics.ts; the retention audit checks the same bound).
  if (
    candidate.detect.repartitionRetentionMs + 86_400_000 + 300_000 >
    candidate.retentionDays.short * 86_400_000
  ) {
    throw new SporError(
      'SPOR_ERR_CONFIG',
      'SPOR_DETECT_REPARTITION_RETENTION_HOURS plus one day of segment rolling must stay inside the short retention class: the detect topic holds IPs',
    )
  }
  if (candidate.detect.lookbackMs > candidate.detect.repartitionRetentionMs) {
    throw new SporError(
      'SPOR_ERR_CONFIG',
      'SPOR_DETECT_LOOKBACK_HOURS must not exceed SPOR_DETECT_REPARTITION_RETENTION_HOURS (state is rebuilt from that topic)',
    )
  }
  // + one day + 5 min: topics roll a segment daily, Kafka deletes whole segments and checks
  // every 5 minutes (ingest/topics.ts; the retention auditor counts the same).
  if (candidate.kafka.topicRetentionMs + 86_400_000 + 300_000 > candidate.retentionDays.short * 86_400_000) {
    throw new SporError(
      'SPOR_ERR_CONFIG',
      'SPOR_TOPIC_RETENTION_HOURS must stay inside the short retention class: the topics hold raw personal data',
    )
  }
  // Alerts name people: they leave the machine only encrypted (S8); plain HTTP only on loopback.
  const webhook = candidate.detect.webhookUrl
  if (
    webhook &&
    !/^https:\/\//.test(webhook) &&
    !/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/.test(webhook)
  ) {
    throw new SporError(
      'SPOR_ERR_CONFIG',
      'SPOR_DETECT_WEBHOOK_URL must use https:// (plain http only to loopback)',
    )
  }
  const config = { ...candidate, eventTypes: loadEventTypes(env.SPOR_EVENT_TYPES_FILE) } as SporConfig
  return deepFreeze(config)
}

/**
 * The effective configuration for people to read (`spor config`): secrets replaced by whether
 * they are set, so the output can be pasted into a ticket.
 */
export function redactedConfig(config: SporConfig): Record<string, unknown> {
  const secret = (value: string | undefined) => (value ? '(set)' : '(not set)')
  const connections = redactConnections(config.kafkaConnection, config.esConnection)
  return redactUrls({
    ...config,
    kafkaConnection: connections.kafka,
    esConnection: connections.es,
    pseudonymKey: secret(config.pseudonymKey),
    pseudonymKeysPrevious: config.pseudonymKeysPrevious.map(() => '(set)'),
    es: { ...config.es, password: secret(config.es.password) },
    detect: { ...config.detect, webhookSecret: secret(config.detect.webhookSecret) },
    hostile: { ...config.hostile, opsToken: secret(config.hostile.opsToken) },
  })
}

/** The pseudonym master key; services that derive pseudonyms refuse to start without it. */
export function requirePseudonymKey(config: SporConfig): Buffer {
  if (!config.pseudonymKey) {
    throw new SporError(
      'SPOR_ERR_CONFIG',
      'SPOR_PSEUDONYM_KEY is not set (a secret of at least 32 characters; `spor demo` generates one into .spor/secrets.env)',
    )
  }
  return Buffer.from(config.pseudonymKey, 'utf8')
}

/**
 * Every key an erasure tombstone may have been made under: the current pseudonym key first, then
 * the keys it replaced (SPOR_PSEUDONYM_KEY_PREVIOUS). A rotation must not bring erased people back.
 */
export function requireTombstoneKeys(config: SporConfig): Buffer[] {
  const current = requirePseudonymKey(config)
  const previous = config.pseudonymKeysPrevious.map((key) => Buffer.from(key, 'utf8'))
  return [current, ...previous.filter((key) => !key.equals(current))]
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
