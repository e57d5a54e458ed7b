import { randomUUID } from 'node:crypto'
import { errors as esErrors } from '@elastic/elasticsearch'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { SporError } from '../../core/errors.ts'
import { ErrorBodySchema } from '../../core/http-errors.ts'
import { isoDay } from '../../core/retention.ts'
import { chargedScope, limitPerTenant, TenantConcurrency } from '../../core/tenant-limiter.ts'
import { statsNoiseSecret } from '../anonymity.ts'
import { scopedTenant } from '../auth.ts'
import { AnswerCache } from '../stats/answer-cache.ts'
import { PRODUCT_WIDE, questionBudget } from '../stats/budget.ts'
import {
  BREAKDOWNS,
  type Breakdown,
  breakdownStats,
  METRICS,
  type Metric,
  type Question,
  type StatsContext,
  type StatsFilter,
  summaryStats,
  timeseriesStats,
} from '../stats/engine.ts'
import type { StatsSource } from '../stats/load-rows.ts'
import { statsMetrics } from '../stats/metrics.ts'
import { RollupRowCache } from '../stats/row-cache.ts'
import { INTERVALS, type Interval } from '../stats/time.ts'

const DATE = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$', format: 'date' } as const
// Empty means "not set": Grafana sends empty template variables as `tenant=`.
const NAME = { type: 'string', maxLength: 64, pattern: '^([A-Za-z0-9][A-Za-z0-9._-]*)?$' } as const
const nullableInt = { type: ['integer', 'null'] } as const
const nullableNumber = { type: ['number', 'null'] } as const

const filterProperties = {
  from: { ...DATE, description: 'first day (UTC), default 29 days before `to`; snapped to whole units' },
  to: { ...DATE, description: 'last day (UTC, inclusive), default today' },
  tenant: { ...NAME, description: 'tenant id; a tenant key always sees only its own tenant' },
  module: { ...NAME, description: 'only events of this module' },
  source: {
    type: 'string',
    enum: ['auto', 'raw', 'rollup'],
    default: 'auto',
    description: 'auto: rollups for older days, raw events for recent ones',
  },
} as const

const rangeSchema = {
  type: 'object',
  properties: { from: { type: 'string' }, to: { type: 'string' } },
  required: ['from', 'to'],
} as const

const common = {
  range: rangeSchema,
  k: { type: 'integer', description: 'groups with fewer distinct users are not shown' },
  sources: {
    type: 'object',
    properties: { raw: { type: 'integer' }, rollup: { type: 'integer' } },
    description: 'days answered from raw events and from rollups',
  },
} as const

const figures = {
  type: ['object', 'null'],
  properties: {
    users: { type: 'integer' },
    events: { type: 'integer' },
    sessions: nullableInt,
    medianSessionSeconds: nullableNumber,
  },
} as const

const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  429: ErrorBodySchema,
  502: ErrorBodySchema,
  503: ErrorBodySchema,
}

interface FilterQuery {
  from?: string
  to?: string
  tenant?: string
  module?: string
  source: StatsSource
}

/**
 * Anonymised statistics (S4, S6). Every figure is a count over at least k distinct users (and a
 * noisy threshold) with sticky noise seeded by the data; groups below it are folded into "other"
 * (see query/anonymity.ts). A tenant key sees its own tenant only; cross-tenant comparison needs
 * a product-wide key. Each distinct question is charged to its data scope's budget
 * (query/stats/budget.ts); repeated ones are free and recent ones come from a cache.
 */
export async function statsRoutes(app: FastifyInstance): Promise<void> {
  const { es, config, clock } = app.deps
  const noiseSecret = statsNoiseSecret(config)
  const budget = questionBudget(es, config)
  const cache = new AnswerCache<object>(config.query.statsCacheMs)
  // Decoded rollup rows, validated per day by its completion marker (0 MB: every request reads
  // and decodes its rows).
  const rowCache =
    config.query.statsRowCacheMb > 0
      ? new RollupRowCache(config.query.statsRowCacheMb * 1024 * 1024)
      : undefined

  /**
   * Answers a request from the cache, or computes it and charges its question to the budget of
   * the data it covers before anything leaves. Any failure that is not spor's own (an
   * Elasticsearch error, a corrupt stored row) is logged with a request id and answered as
   * SPOR_ERR_ES carrying that id — the cluster's own text never reaches the client.
   */
  const answer = async <T extends object>(
    request: FastifyRequest,
    filter: StatsFilter,
    kind: string,
    compute: () => Promise<{ question: Question; body: T }>,
  ): Promise<T> => {
    const scope = filter.tenant ?? PRODUCT_WIDE
    const cacheKey = JSON.stringify([kind, scope, request.query])
    const cached = cache.get(cacheKey, Date.now())
    if (cached) return cached as T
    try {
      const { question, body } = await compute()
      await budget.chargeCovering(scope, question.text, question.tenants, clock())
      cache.set(cacheKey, body, Date.now())
      return body
    } catch (error) {
      if (error instanceof SporError && error.code !== 'SPOR_ERR_ES') throw error
      const requestId = randomUUID()
      request.log.error({ err: error, requestId }, 'statistics request failed')
      const fromCluster = error instanceof SporError || error instanceof esErrors.ElasticsearchClientError
      throw new SporError(
        fromCluster ? 'SPOR_ERR_ES' : 'SPOR_ERR_UNAVAILABLE',
        `the statistics could not be computed (request id ${requestId})`,
      )
    }
  }
  const context = (): StatsContext => ({
    es,
    prefix: config.es.indexPrefix,
    k: config.query.kAnonymity,
    noiseSd: config.query.statsNoiseSd,
    noiseSecret,
    rawDays: config.query.statsRawDays,
    maxRangeDays: config.query.statsMaxRangeDays,
    now: clock(),
    statsRetentionDays: config.retentionDays.stats,
    clientUserTenants: config.query.statsClientUserTenants,
    ...(rowCache ? { rowCache } : {}),
  })
  if (app.deps.warmUp && rowCache && config.query.statsWarmUpDays > 0)
    app.deps.warmUp.bind(context, config.query.statsWarmUpDays)
  const filterOf = (request: FastifyRequest, query: FilterQuery): StatsFilter => {
    const to = query.to ?? isoDay(clock())
    const from = query.from ?? isoDay(new Date(Date.parse(`${to}T00:00:00Z`) - 29 * 86_400_000))
    return {
      from,
      to,
      tenant: scopedTenant(request, query.tenant || undefined),
      module: query.module || undefined,
      source: query.source,
    }
  }

  // Raw statistics recompute from events: a bounded number per tenant at a time (issue 15).
  const raw = new TenantConcurrency('raw_stats', config.hostile.tenantMaxRawStats)
  limitPerTenant(
    app,
    raw,
    (request) =>
      (request.query as { source?: string }).source === 'raw' ? chargedScope(request) : undefined,
    'raw statistics requests',
  )

  app.addHook('onResponse', async (request, reply) => {
    statsMetrics.requestSeconds.observe(
      { route: request.routeOptions.url ?? 'unknown' },
      reply.elapsedTime / 1000,
    )
  })

  app.get<{ Querystring: FilterQuery }>(
    '/stats/summary',
    {
      schema: {
        tags: ['statistics'],
        summary: 'Totals over a range: distinct users, events, sessions, median session, logins',
        querystring: { type: 'object', properties: filterProperties, additionalProperties: false },
        response: {
          200: {
            type: 'object',
            properties: {
              ...common,
              suppressed: { type: 'boolean' },
              users: nullableInt,
              events: nullableInt,
              sessions: nullableInt,
              medianSessionSeconds: nullableNumber,
              logins: nullableInt,
              loginFailures: nullableInt,
            },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const ctx = context()
      const filter = filterOf(request, request.query)
      return answer(request, filter, 'summary', async () => {
        const result = await summaryStats(ctx, filter)
        return {
          question: result.question,
          body: {
            range: result.range,
            k: ctx.k,
            sources: result.sources,
            suppressed: result.figures === null,
            users: result.figures?.users ?? null,
            events: result.figures?.events ?? null,
            sessions: result.figures?.sessions ?? null,
            medianSessionSeconds: result.figures?.medianSessionSeconds ?? null,
            logins: result.logins,
            loginFailures: result.loginFailures,
          },
        }
      })
    },
  )

  app.get<{ Querystring: FilterQuery & { metric: Metric; interval: Interval } }>(
    '/stats/timeseries',
    {
      schema: {
        tags: ['statistics'],
        summary: 'One metric per hour, day, week or month (users = DAU / WAU / MAU)',
        querystring: {
          type: 'object',
          properties: {
            ...filterProperties,
            metric: { type: 'string', enum: [...METRICS], default: 'users' },
            interval: { type: 'string', enum: [...INTERVALS], default: 'day' },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              ...common,
              metric: { type: 'string' },
              interval: { type: 'string' },
              points: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    t: { type: 'string' },
                    value: nullableNumber,
                    suppressed: { type: 'boolean' },
                  },
                  required: ['t', 'value', 'suppressed'],
                },
              },
            },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const ctx = context()
      const { metric, interval } = request.query
      const filter = filterOf(request, request.query)
      return answer(request, filter, 'timeseries', async () => {
        const result = await timeseriesStats(ctx, filter, metric, interval)
        return {
          question: result.question,
          body: {
            range: result.range,
            k: ctx.k,
            sources: result.sources,
            metric,
            interval,
            points: result.points,
          },
        }
      })
    },
  )

  app.get<{ Querystring: FilterQuery & { by: Breakdown; limit: number; offset: number } }>(
    '/stats/breakdown',
    {
      schema: {
        tags: ['statistics'],
        summary:
          'Distinct users and events per module, function, browser, OS, device, country, hour, weekday or tenant',
        description: 'by=tenant (product-wide comparison) needs a product-wide key.',
        querystring: {
          type: 'object',
          properties: {
            ...filterProperties,
            by: { type: 'string', enum: [...BREAKDOWNS] },
            limit: { type: 'integer', minimum: 1, maximum: 100, default: 25 },
            offset: { type: 'integer', minimum: 0, maximum: 1000, default: 0 },
          },
          required: ['by'],
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              ...common,
              by: { type: 'string' },
              totalGroups: { type: 'integer' },
              suppressedGroups: { type: 'integer' },
              groups: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { key: { type: 'string' }, ...figures.properties },
                  required: ['key', 'users', 'events'],
                },
              },
              other: figures,
            },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const { by, limit, offset } = request.query
      if (by === 'tenant' && request.apiKey?.scope !== 'product')
        throw new SporError('SPOR_ERR_FORBIDDEN', 'comparing tenants needs a product-wide key')
      const ctx = context()
      const filter = filterOf(request, request.query)
      return answer(request, filter, 'breakdown', async () => {
        const { question, ...result } = await breakdownStats(ctx, filter, by, { limit, offset })
        return { question, body: { k: ctx.k, by, ...result } }
      })
    },
  )
}
