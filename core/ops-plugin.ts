import { createHash, timingSafeEqual } from 'node:crypto'
import type {} from '@fastify/swagger' // adds `hide` to route schemas
import { type FastifyInstance, LogController } from 'fastify'
import { collectDefaultMetrics, Gauge, register } from 'prom-client'
import { SporError } from './errors.ts'

let defaultsCollected = false

// Every readiness check registered in this process; `spor_ready` is 1 only when all are ready
// (one service per process in production, several in tests).
const readinessChecks = new Set<ReadinessCheck>()
const READY_PROBE_MS = 2000
new Gauge({
  name: 'spor_ready',
  help: '1 when the service can do its job (the same verdict as /ready), 0 otherwise; alert SporNotReady',
  async collect() {
    // A check stuck on a dead dependency must not hang /metrics (the scrape would time out and
    // the service look down instead of not ready): past READY_PROBE_MS it counts as not ready.
    const states = await Promise.all(
      [...readinessChecks].map((check) =>
        Promise.race([
          check().catch(() => ({ ready: false })),
          new Promise<{ ready: boolean }>((resolve) =>
            setTimeout(() => resolve({ ready: false }), READY_PROBE_MS).unref(),
          ),
        ]),
      ),
    )
    this.set(states.length > 0 && states.every((s) => s.ready) ? 1 : 0)
  },
})

export type ReadinessCheck = () => Promise<Record<string, unknown> & { ready: boolean }>

/**
 * Health and metrics routes shared by every spor service: `/health` (alive), `/ready` (can do its
 * job: dependencies reachable, consumer joined) and `/metrics` (Prometheus text format).
 */
export async function registerOpsRoutes(
  app: FastifyInstance,
  readiness: ReadinessCheck,
  options: { token?: string } = {},
): Promise<void> {
  if (options.token) requireOpsToken(app, options.token)
  if (!defaultsCollected) {
    collectDefaultMetrics({ prefix: 'spor_' })
    defaultsCollected = true
  }
  readinessChecks.add(readiness)
  app.addHook('onClose', async () => {
    readinessChecks.delete(readiness)
  })
  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok' }))
  app.get('/ready', { schema: { hide: true } }, async (_request, reply) => {
    const state = await readiness()
    return reply.code(state.ready ? 200 : 503).send(state)
  })
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return reply.type(register.contentType).send(await register.metrics())
  })
}

/**
 * Per-request log lines off: every request is counted in metrics instead (pino's hot path stays
 * quiet); errors are still logged by the error handler.
 */
export function quietRequestLogs(): LogController {
  return new LogController({ disableRequestLogging: true })
}

/** Paths that tell an outsider about the service's internals: metrics and the API documentation. */
const PROTECTED_OPS_PATHS = /^\/(metrics|docs)(\/|\?|$)/

/**
 * With SPOR_OPS_TOKEN set, `/metrics` and `/docs` on a public port answer only to
 * `Authorization: Bearer <token>` (Prometheus sends it with `authorization.credentials`).
 * `/health` and `/ready` stay open for load balancers. Compared in constant time, as hashes so
 * the lengths do not leak either.
 */
export function requireOpsToken(app: FastifyInstance, token: string): void {
  const expected = createHash('sha256').update(token).digest()
  app.addHook('onRequest', async (request) => {
    if (!PROTECTED_OPS_PATHS.test(request.url)) return
    const header = request.headers.authorization
    const given = header?.startsWith('Bearer ') ? header.slice(7).trim() : ''
    const actual = createHash('sha256').update(given).digest()
    if (!timingSafeEqual(expected, actual))
      throw new SporError('SPOR_ERR_UNAUTHORIZED', 'operational endpoints need the ops token')
  })
}
