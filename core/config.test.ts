import { describe, expect, it } from 'vitest'
import { loadConfig, redactedConfig } from './config.ts'
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
  ])('rejects %j with a clear message', (env, message) => {
    expect(() => loadConfig(env)).toThrow(SporError)
    expect(() => loadConfig(env)).toThrow(message)
  })
})

describe('redactedConfig', () => {
  it('shows every setting but no secret', () => {
    const secrets = {
      SPOR_PSEUDONYM_KEY: 'pseudonym-key-0123456789abcdefghijkl',
      SPOR_ES_PASSWORD: 'es-password-42',
      SPOR_DETECT_WEBHOOK_SECRET: 'webhook-secret-0123',
    }
    const shown = redactedConfig(loadConfig({ ...secrets, SPOR_K_ANONYMITY: '7' }))
    const text = JSON.stringify(shown)
    for (const value of Object.values(secrets)) expect(text).not.toContain(value)
    expect(shown).toMatchObject({
      pseudonymKey: '(set)',
      es: { password: '(set)', url: 'http://127.0.0.1:9200' },
      detect: { webhookSecret: '(set)' },
      query: { kAnonymity: 7 },
    })
    expect(redactedConfig(loadConfig({})).pseudonymKey).toBe('(not set)')
  })
})
