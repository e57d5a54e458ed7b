import type { FastifyInstance } from 'fastify'
import { SporError } from '../../core/errors.ts'
import { ErrorBodySchema } from '../../core/http-errors.ts'
import { DAY_MS } from '../../core/retention.ts'
import { loadSegmentTable } from '../../segments/rules.ts'
import { segmentSizes } from '../../segments/stats.ts'
import { statsNoiseSecret } from '../anonymity.ts'
import { scopedTenant } from '../auth.ts'

const DATE = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' } as const
const MAX_DAYS = 90
const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 404: ErrorBodySchema, 429: ErrorBodySchema }

/**
 * Segment sizes and trends (S5) under the k rule: a tenant key sees its own tenant, a product-wide
 * key all tenants together or one tenant. The table itself (names, descriptions, conditions) is
 * public to every key, so dashboards can label the segments.
 */
export async function segmentRoutes(app: FastifyInstance): Promise<void> {
  const { es, config } = app.deps
  const table = loadSegmentTable()
  const noiseSecret = statsNoiseSecret(config)

  app.get(
    '/segments/definitions',
    {
      schema: {
        summary: 'The segment table: names, descriptions and conditions',
        response: {
          200: {
            type: 'object',
            properties: {
              version: { type: 'string' },
              window_days: { type: 'integer' },
              segments: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    name: { type: 'string' },
                    description: { type: 'string' },
                    all: {
                      type: 'array',
                      items: {
                        type: 'object',
                        properties: {
                          figure: { type: 'string' },
                          at_least: { type: 'number' },
                          at_most: { type: 'number' },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
          ...errors,
        },
      },
    },
    async () => table,
  )

  app.get<{ Querystring: { from?: string; to?: string; tenant?: string } }>(
    '/segments/sizes',
    {
      schema: {
        summary: 'Users per segment and day (groups below k suppressed, sizes with sticky noise)',
        querystring: {
          type: 'object',
          properties: {
            from: { ...DATE, description: 'first day (UTC), default 6 days before `to`' },
            to: { ...DATE, description: 'last day (UTC, inclusive), default yesterday' },
            tenant: { type: 'string', maxLength: 64, pattern: '^([a-z0-9][a-z0-9_-]*)?$' },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              tenant: { type: ['string', 'null'] },
              k: { type: 'integer' },
              days: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    day: { type: 'string' },
                    active_users: { type: ['integer', 'null'] },
                    suppressed: { type: 'integer' },
                    segments: {
                      type: 'array',
                      items: {
                        type: 'object',
                        properties: { segment: { type: 'string' }, users: { type: 'integer' } },
                      },
                    },
                  },
                },
              },
              rows: {
                description:
                  'The shown sizes as flat rows (day, segment, users), for table-shaped dashboards',
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    day: { type: 'string' },
                    segment: { type: 'string' },
                    users: { type: 'integer' },
                  },
                },
              },
            },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const tenant = scopedTenant(request, request.query.tenant || undefined)
      const to = request.query.to ? new Date(`${request.query.to}T00:00:00Z`) : new Date(Date.now() - DAY_MS)
      const from = request.query.from
        ? new Date(`${request.query.from}T00:00:00Z`)
        : new Date(to.getTime() - 6 * DAY_MS)
      if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from > to)
        throw new SporError('SPOR_ERR_BAD_REQUEST', 'from and to must be dates with from ≤ to')
      if ((to.getTime() - from.getTime()) / DAY_MS >= MAX_DAYS)
        throw new SporError('SPOR_ERR_BAD_REQUEST', `at most ${MAX_DAYS} days per request`)
      const k = config.query.kAnonymity
      const noise = { secret: noiseSecret, sd: config.query.statsNoiseSd }
      const days = await segmentSizes(es, config.es.indexPrefix, { tenant, from, to, k, noise })
      const rows = days.flatMap((d) => d.segments.map((s) => ({ day: d.day, ...s })))
      return { tenant: tenant ?? null, k, days, rows }
    },
  )
}
