import { describe, expect, it } from 'vitest'
import { loadConfig, redactedConfig } from './config.ts'
import { redactUrl } from './redact.ts'

describe('redactUrl', () => {
  it.each([
    ['https://elastic:s3cret@es.example:9200', 'https://REDACTED@es.example:9200/'],
    ['https://hooks.example/a?token=abc&x=1', 'https://hooks.example/a?token=REDACTED&x=1'],
    [
      'https://hooks.example/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX',
      'https://hooks.example/services/T000/B000/REDACTED',
    ],
    ['http://127.0.0.1:9200', 'http://127.0.0.1:9200'],
    ['not a url user:pw@host', 'not a url user:pw@host'],
    ['weird://user:pw@[bad', 'weird://REDACTED@[bad'],
  ])('%s → %s', (raw, expected) => {
    expect(redactUrl(raw)).toBe(expected)
  })
})

describe('spor config output', () => {
  it('prints no password or webhook token found in a URL', () => {
    const config = loadConfig({
      SPOR_ES_URL: 'https://elastic:es-password-1@es.example:9200',
      SPOR_DETECT_WEBHOOK_URL: 'https://hooks.example/in?token=webhook-token-1',
      SPOR_DETECT_WEBHOOK_SECRET: 'webhook-secret-0123456789',
      SPOR_OPS_TOKEN: 'ops-token-0123456789abcdef',
    })
    const printed = JSON.stringify(redactedConfig(config))
    for (const secret of [
      'es-password-1',
      'webhook-token-1',
      'webhook-secret-0123456789',
      'ops-token-0123456789abcdef',
    ])
      expect(printed).not.toContain(secret)
    expect(printed).toContain('es.example')
  })
})
