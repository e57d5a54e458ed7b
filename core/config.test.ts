import { type TSchema, Type } from 'typebox'
import { Compile } from 'typebox/compile'
import { describe, expect, it } from 'vitest'
import { describeProblems, loadConfig, redactedConfig } from './config.ts'
import { SporError } from './errors.ts'

describe('loadConfig', () => {
  it('fills defaults and freezes the result', () => {
    const config = loadConfig({})
    expect(config.kafka.brokers).toEqual(['127.0.0.1:9092'])
    expect(config.es.url).toBe('http://127.0.0.1:9200')
    expect(config.retentionDays).toMatchObject({ short: 21, long: 365 })
    expect(config.kafka.topicRetentionMs).toBeLessThan(21 * 86_400_000)
    expect(Object.isFrozen(config.kafka)).toBe(true)
  })

  it.each([
    [{ SPOR_KAFKA_BROKERZ: 'x' }, /unknown variable\(s\) SPOR_KAFKA_BROKERZ/],
    [{ SPOR_COLLECTOR_PORT: 'eighty' }, /SPOR_COLLECTOR_PORT must be an integer/],
    [{ SPOR_ES_URL: 'localhost:9200' }, /\/es\/url/],
    [{ SPOR_INDEX_PREFIX: 'Spor' }, /indexPrefix/],
    [{ SPOR_PSEUDONYM_KEY: 'short' }, /pseudonymKey/],
    [{ SPOR_TOPIC_RETENTION_HOURS: String(30 * 24) }, /inside the short retention class/],
    // 21 days of retention plus a day of segment rolling would overshoot the short class.
    [{ SPOR_TOPIC_RETENTION_HOURS: String(21 * 24) }, /inside the short retention class/],
    [{ SPOR_RETENTION_SHORT_DAYS: '400' }, /short retention must not exceed long/],
    [{ SPOR_DETECT_WEBHOOK_URL: 'http://hooks.example.com/spor' }, /must use https/],
    // secured Kafka / Elasticsearch (core/connection-config.ts)
    [{ SPOR_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' }, /needs SPOR_KAFKA_SASL_MECHANISM/],
    [{ SPOR_KAFKA_SECURITY_PROTOCOL: 'TLS' }, /securityProtocol/],
    [{ SPOR_KAFKA_SASL_USERNAME: 'u' }, /SECURITY_PROTOCOL is not SASL/],
    [
      {
        SPOR_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
        SPOR_KAFKA_SASL_MECHANISM: 'GSSAPI',
        SPOR_KAFKA_SASL_USERNAME: 'u',
        SPOR_KAFKA_SASL_PASSWORD: 'p',
      },
      /saslMechanism/,
    ],
    [
      { SPOR_KAFKA_SECURITY_PROTOCOL: 'SSL', SPOR_KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' },
      /cannot be read \(ENOENT\)/,
    ],
    [{ SPOR_KAFKA_SSL_CA_FILE: import.meta.filename }, /SECURITY_PROTOCOL is not SSL/],
    [
      { SPOR_KAFKA_SECURITY_PROTOCOL: 'SSL', SPOR_KAFKA_SSL_CERT_FILE: import.meta.filename },
      /set both or neither/,
    ],
    [{ SPOR_KAFKA_SSL_CHECK_HOSTNAME: 'maybe' }, /must be true or false/],
    [{ SPOR_KAFKA_COMPRESSION: 'brotli' }, /compression/],
    [{ SPOR_ES_PASSWORD: 'only-a-password' }, /SPOR_ES_USERNAME and SPOR_ES_PASSWORD go together/],
    [{ SPOR_ES_USERNAME: 'only-a-user' }, /go together/],
    [{ SPOR_ES_API_KEY: 'k', SPOR_ES_USERNAME: 'u', SPOR_ES_PASSWORD: 'p' }, /not both/],
    [
      { SPOR_ES_CLOUD_ID: 'dep:dXMtZWFzdC0xJGFiYyRkZWY=', SPOR_ES_URL: 'https://es:9200' },
      /SPOR_ES_CLOUD_ID or SPOR_ES_URL/,
    ],
    [{ SPOR_ES_CA_FINGERPRINT: 'AB:CD' }, /caFingerprint/],
    [{ SPOR_ES_REPLICAS: 'two' }, /replicas/],
    [{ SPOR_SEGMENTS_EVERY_MS: '-1' }, /segmentsEveryMs/],
    // A value outside a choice: the choices, once, not one "must be equal to constant" per choice.
    [
      { SPOR_LOG_LEVEL: 'verbose' },
      /: \/logLevel must be one of fatal, error, warn, info, debug, trace, silent$/,
    ],
    [
      { SPOR_STATS_MAX_RANGE_DAYS: '14', SPOR_STATS_WARM_UP_DAYS: '30' },
      /SPOR_STATS_WARM_UP_DAYS must not exceed SPOR_STATS_MAX_RANGE_DAYS/,
    ],
  ])('rejects %j with a clear message', (env, message) => {
    expect(() => loadConfig(env)).toThrow(SporError)
    expect(() => loadConfig(env)).toThrow(message)
  })

  it('warms at most the longest range the API answers when SPOR_STATS_WARM_UP_DAYS is unset', () => {
    expect(loadConfig({}).query.statsWarmUpDays).toBe(30)
    expect(loadConfig({ SPOR_STATS_MAX_RANGE_DAYS: '14' }).query.statsWarmUpDays).toBe(14)
  })
})

describe('connection settings', () => {
  it('default to plaintext, no compression and one auto-expanding replica', () => {
    const config = loadConfig({})
    expect(config.kafkaConnection).toMatchObject({
      securityProtocol: 'PLAINTEXT',
      compression: 'none',
      sslCheckHostname: true,
    })
    expect(config.esConnection.replicas).toBe('0-1')
  })

  it('accept a managed Kafka with SCRAM over TLS and an Elastic Cloud deployment with an API key', () => {
    const config = loadConfig({
      SPOR_KAFKA_BROKERS: 'b-1.kafka.example.com:9096,b-2.kafka.example.com:9096',
      SPOR_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      SPOR_KAFKA_SASL_MECHANISM: 'scram-sha-512',
      SPOR_KAFKA_SASL_USERNAME: 'spor',
      SPOR_KAFKA_SASL_PASSWORD: 'secret',
      SPOR_KAFKA_COMPRESSION: 'lz4',
      SPOR_ES_CLOUD_ID: 'spor-prod:ZXUtd2VzdC0xLmF3cy5mb3VuZC5pbyRhYmMkZGVm',
      SPOR_ES_API_KEY: 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==',
      SPOR_ES_REPLICAS: '1',
    })
    expect(config.kafkaConnection).toMatchObject({
      securityProtocol: 'SASL_SSL',
      saslMechanism: 'SCRAM-SHA-512',
      compression: 'lz4',
    })
    expect(config.esConnection).toMatchObject({
      cloudId: 'spor-prod:ZXUtd2VzdC0xLmF3cy5mb3VuZC5pbyRhYmMkZGVm',
      replicas: '1',
    })
  })
})

describe('redactedConfig', () => {
  it('shows every setting but no secret', () => {
    const secrets = {
      SPOR_PSEUDONYM_KEY: 'pseudonym-key-0123456789abcdefghijkl',
      SPOR_ES_PASSWORD: 'es-password-42',
      SPOR_DETECT_WEBHOOK_SECRET: 'webhook-secret-0123',
      SPOR_KAFKA_SASL_PASSWORD: 'kafka-sasl-password-77',
      SPOR_KAFKA_SSL_KEY_PASSWORD: 'kafka-key-password-78',
    }
    const shown = redactedConfig(
      loadConfig({
        ...secrets,
        SPOR_ES_USERNAME: 'spor',
        SPOR_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
        SPOR_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
        SPOR_KAFKA_SASL_USERNAME: 'spor',
        SPOR_KAFKA_SSL_CERT_FILE: import.meta.filename,
        SPOR_KAFKA_SSL_KEY_FILE: import.meta.filename,
        SPOR_K_ANONYMITY: '7',
      }),
    )
    const text = JSON.stringify(shown)
    for (const value of Object.values(secrets)) expect(text).not.toContain(value)
    expect(shown).toMatchObject({
      pseudonymKey: '(set)',
      es: { password: '(set)', url: 'http://127.0.0.1:9200' },
      detect: { webhookSecret: '(set)' },
      query: { kAnonymity: 7 },
      kafkaConnection: { saslPassword: '(set)', sslKeyPassword: '(set)', saslUsername: 'spor' },
    })
    expect(redactedConfig(loadConfig({})).pseudonymKey).toBe('(not set)')
    const withKey = redactedConfig(loadConfig({ SPOR_ES_API_KEY: 'id-1:secret-api-key-99' }))
    expect(JSON.stringify(withKey)).not.toContain('secret-api-key-99')
    expect(withKey.esConnection).toMatchObject({ apiKey: '(set)' })
  })
})

describe('configuration errors', () => {
  const problems = (schema: TSchema, value: unknown) => describeProblems(Compile(schema).Errors(value))

  it('gives a choice as its choices, and every other error as it is', () => {
    const level = Type.Union([Type.Literal('a'), Type.Literal('b')])
    expect(problems(Type.Object({ level }), { level: 'c' })).toEqual(['/level must be one of a, b'])
    expect(problems(Type.Object({ level: Type.Literal('a') }), { level: 'c' })).toEqual([
      '/level must be one of a',
    ])
    // Not only literals: each error, none left out.
    const mixed = problems(
      Type.Object({ v: Type.Union([Type.Literal('auto'), Type.String({ minLength: 5 })]) }),
      {
        v: 'x',
      },
    )
    expect(mixed).toHaveLength(3)
    expect(mixed.join('; ')).toMatch(/fewer than 5/)
    expect(problems(Type.Object({ n: Type.Integer(), level }), { n: 1.5, level: 'a' })).toEqual([
      '/n must be integer',
    ])
  })
})
