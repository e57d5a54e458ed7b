import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Gauge } from 'prom-client'
import { SporError } from './errors.ts'

const inFlight = new Gauge({
  name: 'spor_tenant_expensive_in_flight',
  help: 'Expensive requests (exports, raw statistics) in flight, by kind',
  labelNames: ['kind'] as const,
})

/**
 * At most `max` concurrent pieces of expensive work (a subject export holding point-in-time
 * views, a `source=raw` statistics request) per tenant. The cluster caps point-in-time contexts
 * globally, so without a per-tenant bound one tenant's administrators could take them all. A
 * request over the limit is refused at once (429, retry later) rather than queued: a queue would
 * hold its connection and memory while waiting.
 */
export class TenantConcurrency {
  readonly #max: number
  readonly #kind: string
  readonly #held = new Map<string, number>()

  constructor(kind: string, max: number) {
    this.#kind = kind
    this.#max = max
  }

  /** A release function (safe to call more than once), or undefined when the tenant is at its limit. */
  tryAcquire(scope: string): (() => void) | undefined {
    const held = this.#held.get(scope) ?? 0
    if (held >= this.#max) return undefined
    this.#held.set(scope, held + 1)
    inFlight.inc({ kind: this.#kind })
    let released = false
    return () => {
      if (released) return
      released = true
      inFlight.dec({ kind: this.#kind })
      const now = (this.#held.get(scope) ?? 1) - 1
      if (now <= 0) this.#held.delete(scope)
      else this.#held.set(scope, now)
    }
  }

  held(scope: string): number {
    return this.#held.get(scope) ?? 0
  }
}

const RELEASE = Symbol('spor.tenantRelease')
type WithRelease = FastifyRequest & { [RELEASE]?: () => void }

/**
 * Hooks that hold a slot of `limiter` from the handler until the response has been sent (a
 * streamed export: until its last byte) or the client went away. `scopeOf` names the tenant a
 * request's work is charged to, or undefined when the request is not expensive.
 */
export function limitPerTenant(
  app: FastifyInstance,
  limiter: TenantConcurrency,
  scopeOf: (request: FastifyRequest) => string | undefined,
  what: string,
): void {
  app.addHook('preHandler', async (request, reply) => {
    const scope = scopeOf(request)
    if (scope === undefined) return
    const release = limiter.tryAcquire(scope)
    if (!release) {
      reply.header('retry-after', '10')
      throw new SporError(
        'SPOR_ERR_RATE_LIMITED',
        `too many ${what} in progress for this tenant; retry later`,
      )
    }
    ;(request as WithRelease)[RELEASE] = release
  })
  const release = async (request: FastifyRequest) => {
    ;(request as WithRelease)[RELEASE]?.()
  }
  app.addHook('onResponse', release)
  app.addHook('onRequestAbort', release)
}

/** The tenant an API key's expensive work is charged to: its own tenant, or the product-wide key itself. */
export function chargedScope(request: FastifyRequest): string {
  const key = request.apiKey
  return key?.scope === 'tenant' && key.tenant ? `tenant:${key.tenant}` : `key:${key?.id ?? request.ip}`
}
