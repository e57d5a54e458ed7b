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

describe('webhook delivery', () => {
  it('never follows a redirect (it could lead to plain http or an internal address)', async () => {
    const { createServer } = await import('node:http')
    const { pino } = await import('pino')
    const { WebhookSender } = await import('./webhook.ts')
    let landed = 0
    const target = createServer((_req, res) => {
      landed++
      res.end('ok')
    })
    let redirects = 0
    const redirector = createServer((_req, res) => {
      redirects++
      const port = (target.address() as { port: number }).port
      res.writeHead(307, { location: `http://127.0.0.1:${port}/internal` }).end()
    })
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r))
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r))
    const port = (redirector.address() as { port: number }).port
    const sender = new WebhookSender(
      {
        url: `http://127.0.0.1:${port}/hook`,
        secret: 'a-secret-of-some-length',
        maxAttempts: 2,
        backoff: { baseMs: 1, maxMs: 5 },
      },
      pino({ level: 'silent' }),
    )
    try {
      sender.enqueue({ change: 'raised' })
      // Evidence, not time: the queue empties once both attempts were refused.
      while (sender.pending > 0) await new Promise((r) => setTimeout(r, 10))
      expect(redirects).toBe(2)
      expect(landed).toBe(0)
    } finally {
      await sender.close()
      target.close()
      redirector.close()
    }
  })
})
