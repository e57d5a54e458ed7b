import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { signWebhook, verifyWebhook } from './webhook.ts'

describe('webhook signature', () => {
  const secret = 'a-secret-of-some-length'
  const body = '{"change":"raised","alert":{"rule":"brute_force"}}'
  const header = signWebhook(secret, 1764000000, body)

  it('is HMAC-SHA256 of "<timestamp>.<body>"', () => {
    const mac = createHmac('sha256', secret).update(`1764000000.${body}`).digest('hex')
    expect(header).toBe(`t=1764000000,v1=${mac}`)
  })
  it.each([
    ['the signed body', secret, header, body, true],
    ['a changed body', secret, header, body.replace('brute', 'spam'), false],
    ['another secret', 'another-secret-entirely', header, body, false],
    ['a changed timestamp', secret, header.replace('t=1764000000', 't=1764000001'), body, false],
    ['no header', secret, undefined, body, false],
    ['a malformed header', secret, 'sha256=abc', body, false],
  ])('verifies %s', (_name, key, sig, payload, expected) => {
    expect(verifyWebhook(key, sig, payload)).toBe(expected)
  })
})
