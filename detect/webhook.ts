import { createHmac, timingSafeEqual } from 'node:crypto'
import { backoffDelay, sleep } from '../core/backoff.ts'
import type { Logger } from '../core/logger.ts'
import { detectMetrics } from './metrics.ts'

/**
 * Optional webhook: each raised alert is POSTed as JSON with an HMAC-SHA256 signature of
 * `<timestamp>.<body>` in `x-spor-signature: t=<timestamp>,v1=<hex>` (Stripe's scheme, so a
 * receiver can reject replays). Deliveries run off the detection path: `enqueue` only queues,
 * a bounded queue drops the oldest (counted) rather than grow, and failures retry with backoff.
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')
  return `t=${timestamp},v1=${mac}`
}

export function verifyWebhook(secret: string, header: string | undefined, body: string): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '')
  if (!match) return false
  const expected = Buffer.from(signWebhook(secret, Number(match[1]), body))
  const given = Buffer.from(header!)
  // Constant-time comparison: a receiver copying this must not leak how much of a guess matched.
  return expected.length === given.length && timingSafeEqual(expected, given)
}

export interface WebhookOptions {
  url: string
  secret: string
  maxAttempts: number
  backoff: { baseMs: number; maxMs: number }
  maxQueue?: number
  timeoutMs?: number
}

export class WebhookSender {
  readonly #options: WebhookOptions
  readonly #log: Logger
  readonly #queue: { body: string; attempt: number }[] = []
  readonly #stop = new AbortController()
  #wake: (() => void) | undefined
  #loop: Promise<void>

  constructor(options: WebhookOptions, log: Logger) {
    this.#options = options
    this.#log = log.child({ component: 'detect-webhook' })
    this.#loop = this.#run()
  }

  enqueue(payload: unknown): void {
    if (this.#queue.length >= (this.#options.maxQueue ?? 10_000)) {
      this.#queue.shift()
      detectMetrics.webhook.inc({ outcome: 'dropped' })
    }
    this.#queue.push({ body: JSON.stringify(payload), attempt: 0 })
    this.#wake?.()
  }

  get pending(): number {
    return this.#queue.length
  }

  async close(): Promise<void> {
    this.#stop.abort()
    this.#wake?.()
    await this.#loop
  }

  async #run(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      const item = this.#queue[0]
      if (!item) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve
        })
        this.#wake = undefined
        continue
      }
      const ok = await this.#post(item.body)
      if (ok) {
        this.#queue.shift()
        detectMetrics.webhook.inc({ outcome: 'delivered' })
        continue
      }
      item.attempt++
      if (item.attempt >= this.#options.maxAttempts) {
        this.#queue.shift()
        detectMetrics.webhook.inc({ outcome: 'gave_up' })
        this.#log.error(
          { attempts: item.attempt },
          'webhook delivery failed; alert stays in Elasticsearch and the alerts topic',
        )
        continue
      }
      detectMetrics.webhook.inc({ outcome: 'retried' })
      await sleep(Math.max(backoffDelay(this.#options.backoff, item.attempt), 10), this.#stop.signal)
    }
  }

  async #post(body: string): Promise<boolean> {
    const timestamp = Math.floor(Date.now() / 1000)
    try {
      const response = await fetch(this.#options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-spor-signature': signWebhook(this.#options.secret, timestamp, body),
        },
        body,
        // Never follow a redirect: the https-only rule (core/config.ts) is checked on the
        // configured URL, and a 30x could send alerts to plain http or an internal address.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 5_000),
      })
      await response.arrayBuffer().catch(() => undefined)
      if (response.status >= 300 && response.status < 400) {
        detectMetrics.webhook.inc({ outcome: 'redirect_refused' })
        this.#log.warn(
          { status: response.status },
          'webhook answered with a redirect; not followed, retrying',
        )
        return false
      }
      if (response.ok) return true
      this.#log.warn({ status: response.status }, 'webhook answered with an error; retrying')
      return false
    } catch (error) {
      this.#log.warn({ err: (error as Error).message }, 'webhook unreachable; retrying')
      return false
    }
  }
}
