import { accessSync, constants } from 'node:fs'
import { type Static, Type } from 'typebox'
import { SporError } from './errors.ts'

/**
 * How spor reaches a secured Kafka and Elasticsearch (managed services, clusters with TLS and
 * authentication). Part of the validated configuration (core/config.ts); every service and the
 * CLI build their clients from it (core/kafka.ts, core/es.ts). Secrets come only from the
 * environment and are redacted by `redactedConfig`.
 */

const File = Type.String({ minLength: 1 })

export const KafkaConnectionSchema = Type.Object({
  /** Kafka's own names: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL. */
  securityProtocol: Type.Union([
    Type.Literal('PLAINTEXT'),
    Type.Literal('SSL'),
    Type.Literal('SASL_PLAINTEXT'),
    Type.Literal('SASL_SSL'),
  ]),
  /** PEM file(s) of the CA(s) to trust; absent = the system's CAs. */
  sslCaFile: Type.Optional(File),
  /** Client certificate and key (PEM) for mutual TLS: both or neither. */
  sslCertFile: Type.Optional(File),
  sslKeyFile: Type.Optional(File),
  sslKeyPassword: Type.Optional(Type.String({ minLength: 1 })),
  /** Check that the broker's certificate names the host connected to (off only for testing). */
  sslCheckHostname: Type.Boolean(),
  saslMechanism: Type.Optional(
    Type.Union([Type.Literal('PLAIN'), Type.Literal('SCRAM-SHA-256'), Type.Literal('SCRAM-SHA-512')]),
  ),
  saslUsername: Type.Optional(Type.String({ minLength: 1 })),
  saslPassword: Type.Optional(Type.String({ minLength: 1 })),
  /** compression.type of spor's own producers. */
  compression: Type.Union([
    Type.Literal('none'),
    Type.Literal('gzip'),
    Type.Literal('snappy'),
    Type.Literal('lz4'),
    Type.Literal('zstd'),
  ]),
})

export const EsConnectionSchema = Type.Object({
  /** An API key, either "id:api_key" or the base64 "encoded" form Kibana shows. */
  apiKey: Type.Optional(Type.String({ minLength: 1 })),
  /** Elastic Cloud deployment id (replaces SPOR_ES_URL). */
  cloudId: Type.Optional(Type.String({ pattern: '^[^:]*:[A-Za-z0-9+/=_-]+$' })),
  caFile: Type.Optional(File),
  /** SHA-256 fingerprint of the CA (or server) certificate, hex with or without colons. */
  caFingerprint: Type.Optional(Type.String({ pattern: '^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$' })),
  /**
   * Replicas of spor's index templates and single indices (keys, tombstones, leases): a count
   * ("1") or an auto-expand range ("0-1", "0-all"). The default 0-1 keeps one node green and gives
   * a multi-node cluster a copy of each.
   */
  replicas: Type.String({ pattern: '^(\\d{1,2}|\\d{1,2}-(\\d{1,2}|all))$' }),
})

export type KafkaConnection = Static<typeof KafkaConnectionSchema>
export type EsConnection = Static<typeof EsConnectionSchema>

export const CONNECTION_ENV_KEYS = [
  'SPOR_KAFKA_SECURITY_PROTOCOL',
  'SPOR_KAFKA_SSL_CA_FILE',
  'SPOR_KAFKA_SSL_CERT_FILE',
  'SPOR_KAFKA_SSL_KEY_FILE',
  'SPOR_KAFKA_SSL_KEY_PASSWORD',
  'SPOR_KAFKA_SSL_CHECK_HOSTNAME',
  'SPOR_KAFKA_SASL_MECHANISM',
  'SPOR_KAFKA_SASL_USERNAME',
  'SPOR_KAFKA_SASL_PASSWORD',
  'SPOR_KAFKA_COMPRESSION',
  'SPOR_ES_API_KEY',
  'SPOR_ES_CLOUD_ID',
  'SPOR_ES_CA_FILE',
  'SPOR_ES_CA_FINGERPRINT',
  'SPOR_ES_REPLICAS',
  // read by stack/stack.sh: the local broker's SASL_SSL listener
  'SPOR_KAFKA_SASL_PORT',
] as const

type Env = Record<string, string | undefined>

const set = (value: string | undefined) => (value === undefined || value === '' ? undefined : value)

function bool(env: Env, key: string, fallback: boolean): boolean {
  const raw = set(env[key])
  if (raw === undefined) return fallback
  if (/^(true|1|yes)$/i.test(raw)) return true
  if (/^(false|0|no)$/i.test(raw)) return false
  throw new SporError('SPOR_ERR_CONFIG', `${key} must be true or false, got "${raw}"`)
}

export function kafkaConnectionFromEnv(env: Env): KafkaConnection {
  return {
    securityProtocol: (set(env.SPOR_KAFKA_SECURITY_PROTOCOL)?.toUpperCase() ??
      'PLAINTEXT') as KafkaConnection['securityProtocol'],
    sslCaFile: set(env.SPOR_KAFKA_SSL_CA_FILE),
    sslCertFile: set(env.SPOR_KAFKA_SSL_CERT_FILE),
    sslKeyFile: set(env.SPOR_KAFKA_SSL_KEY_FILE),
    sslKeyPassword: set(env.SPOR_KAFKA_SSL_KEY_PASSWORD),
    sslCheckHostname: bool(env, 'SPOR_KAFKA_SSL_CHECK_HOSTNAME', true),
    saslMechanism: set(env.SPOR_KAFKA_SASL_MECHANISM)?.toUpperCase() as KafkaConnection['saslMechanism'],
    saslUsername: set(env.SPOR_KAFKA_SASL_USERNAME),
    saslPassword: set(env.SPOR_KAFKA_SASL_PASSWORD),
    compression: (set(env.SPOR_KAFKA_COMPRESSION)?.toLowerCase() ?? 'none') as KafkaConnection['compression'],
  }
}

export function esConnectionFromEnv(env: Env): EsConnection {
  return {
    apiKey: set(env.SPOR_ES_API_KEY),
    cloudId: set(env.SPOR_ES_CLOUD_ID),
    caFile: set(env.SPOR_ES_CA_FILE),
    caFingerprint: set(env.SPOR_ES_CA_FINGERPRINT),
    replicas: set(env.SPOR_ES_REPLICAS) ?? '0-1',
  }
}

function readable(key: string, file: string | undefined): string | undefined {
  if (!file) return undefined
  try {
    accessSync(file, constants.R_OK)
    return undefined
  } catch (error) {
    return `${key} ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`
  }
}

/**
 * Rules across settings, each broken one named: SASL needs a SASL protocol and both credentials,
 * TLS files only with a TLS protocol, a client certificate comes with its key, basic auth is
 * both or neither and not together with an API key, a cloud id replaces the URL.
 */
export function connectionProblems(
  kafka: KafkaConnection,
  es: EsConnection & { username?: string; password?: string; urlSet: boolean },
  canCompressZstd: boolean,
): string[] {
  const problems: string[] = []
  const sasl = kafka.securityProtocol.startsWith('SASL_')
  const tls = kafka.securityProtocol.endsWith('SSL')
  if (sasl && !(kafka.saslMechanism && kafka.saslUsername && kafka.saslPassword)) {
    problems.push(
      `SPOR_KAFKA_SECURITY_PROTOCOL=${kafka.securityProtocol} needs SPOR_KAFKA_SASL_MECHANISM, SPOR_KAFKA_SASL_USERNAME and SPOR_KAFKA_SASL_PASSWORD`,
    )
  }
  if (!sasl && (kafka.saslMechanism || kafka.saslUsername || kafka.saslPassword)) {
    problems.push(
      'SPOR_KAFKA_SASL_* is set but SPOR_KAFKA_SECURITY_PROTOCOL is not SASL_SSL or SASL_PLAINTEXT',
    )
  }
  if (!tls && (kafka.sslCaFile || kafka.sslCertFile || kafka.sslKeyFile)) {
    problems.push('SPOR_KAFKA_SSL_* files are set but SPOR_KAFKA_SECURITY_PROTOCOL is not SSL or SASL_SSL')
  }
  if (Boolean(kafka.sslCertFile) !== Boolean(kafka.sslKeyFile)) {
    problems.push('SPOR_KAFKA_SSL_CERT_FILE and SPOR_KAFKA_SSL_KEY_FILE go together: set both or neither')
  }
  if (kafka.sslKeyPassword && !kafka.sslKeyFile) {
    problems.push('SPOR_KAFKA_SSL_KEY_PASSWORD is set without SPOR_KAFKA_SSL_KEY_FILE')
  }
  if (kafka.compression === 'zstd' && !canCompressZstd) {
    problems.push(
      'SPOR_KAFKA_COMPRESSION=zstd: this Node.js has no zstd encoder (Node >= 22.15 has); spor reads zstd batches but produces gzip, snappy, lz4 or none',
    )
  }
  if (Boolean(es.username) !== Boolean(es.password)) {
    problems.push('SPOR_ES_USERNAME and SPOR_ES_PASSWORD go together: set both or neither')
  }
  if (es.apiKey && es.username) {
    problems.push('set SPOR_ES_API_KEY or SPOR_ES_USERNAME/SPOR_ES_PASSWORD, not both')
  }
  if (es.cloudId && es.urlSet) problems.push('set SPOR_ES_CLOUD_ID or SPOR_ES_URL, not both')
  if (es.caFile && es.caFingerprint) problems.push('set SPOR_ES_CA_FILE or SPOR_ES_CA_FINGERPRINT, not both')
  for (const [key, file] of [
    ['SPOR_KAFKA_SSL_CA_FILE', kafka.sslCaFile],
    ['SPOR_KAFKA_SSL_CERT_FILE', kafka.sslCertFile],
    ['SPOR_KAFKA_SSL_KEY_FILE', kafka.sslKeyFile],
    ['SPOR_ES_CA_FILE', es.caFile],
  ] as const) {
    const problem = readable(key, file)
    if (problem) problems.push(problem)
  }
  return problems
}

/** What `spor config` shows: whether each secret is set, never its value. */
export function redactConnections<K extends KafkaConnection, E extends EsConnection>(
  kafka: K,
  es: E,
): { kafka: K; es: E } {
  const secret = (value: string | undefined) => (value ? '(set)' : '(not set)')
  return {
    kafka: {
      ...kafka,
      sslKeyPassword: secret(kafka.sslKeyPassword),
      saslPassword: secret(kafka.saslPassword),
    },
    es: { ...es, apiKey: secret(es.apiKey) },
  }
}
