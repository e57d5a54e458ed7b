import type { Client } from '@elastic/elasticsearch'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Clock } from '../core/clock.ts'
import type { SporConfig } from '../core/config.ts'
import { installErrorHandler, REQUEST_ID_OPTIONS } from '../core/http-errors.ts'
import { slowClientServerOptions } from '../core/http-server.ts'
import { installIpRateLimit } from '../core/ip-rate-limit.ts'
import type { KeyStore } from '../core/keys.ts'
import type { Logger } from '../core/logger.ts'
import { quietRequestLogs, registerOpsRoutes } from '../core/ops-plugin.ts'
import { apiKeyAuth } from './auth.ts'
import { dashboardRoutes } from './dashboard/plugin.ts'
import { alertRoutes } from './routes/alerts.ts'
import { segmentRoutes } from './routes/segments.ts'
import { statsRoutes } from './routes/stats.ts'
import { subjectRoutes } from './routes/subjects.ts'
import type { RowCacheWarmUp } from './stats/warm-up.ts'

export interface QueryDeps {
  config: SporConfig
  es: Client
  keys: KeyStore
  log: Logger
  clock: Clock
  /** The row-cache warm-up `spor query` starts after listening (readiness waits for it). */
  warmUp?: RowCacheWarmUp
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: QueryDeps
  }
}

/**
 * `spor query`: statistics, alerts, subject-rights and admin APIs, each route group an
 * encapsulated plugin under /v1 with its JSON schemas, behind API-key auth and a per-key rate
 * limit. OpenAPI at /docs/json, its UI at /docs.
 */
export async function buildQueryApp(deps: QueryDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'query' }) as FastifyBaseLogger,
    logController: quietRequestLogs(),
    ...REQUEST_ID_OPTIONS,
    ...slowClientServerOptions(deps.config.hostile.httpRequestTimeoutMs),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  })
  app.decorate('deps', deps)
  installErrorHandler(app)
  await registerOpsRoutes(
    app,
    async () => {
      const health = await deps.es.cluster.health({ timeout: '2s' }).catch(() => undefined)
      return {
        ready: health !== undefined && health.status !== 'red' && (deps.warmUp?.settled ?? true),
        elasticsearch: health?.status ?? 'unreachable',
        ...(deps.warmUp ? { statsWarmUp: deps.warmUp.state } : {}),
      }
    },
    { token: deps.config.hostile.opsToken },
  )
  await app.register(swagger, {
    openapi: {
      info: { title: 'spor query API', version: '1' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  await app.register(dashboardRoutes)
  await app.register(
    async (v1) => {
      // Per address before authentication: an unauthenticated request costs a key lookup too.
      installIpRateLimit(v1, { max: deps.config.hostile.queryIpRatePerMinute, windowMs: 60_000 })
      await v1.register(apiKeyAuth, { keys: deps.keys })
      await v1.register(rateLimit, {
        max: deps.config.query.rateLimitPerHour,
        timeWindow: 3_600_000,
        hook: 'preHandler',
        keyGenerator: (request) => request.apiKey?.id ?? request.ip,
      })
      // Route groups register here, one plugin each (statistics, alerts, subjects, segments).
      await v1.register(subjectRoutes)
      await v1.register(alertRoutes)
      await v1.register(segmentRoutes)
      await v1.register(statsRoutes)
    },
    { prefix: '/v1' },
  )
  return app
}
