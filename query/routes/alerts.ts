import type { estypes } from '@elastic/elasticsearch'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { SporError } from '../../core/errors.ts'
import { IDENTIFIER_PATTERN } from '../../core/event-schema.ts'
import { ErrorBodySchema } from '../../core/http-errors.ts'
import { classPattern, MISSING_INDICES_ARE_EMPTY } from '../../core/indices.ts'
import type { AlertDocument } from '../../detect/incidents.ts'
import { RULE_NAMES } from '../../detect/rule-config.ts'
import { requireTenantKey } from '../auth.ts'

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema }

const AlertSchema = {
  type: 'object',
  properties: {
    alert_id: { type: 'string' },
    rule: { type: 'string' },
    severity: { type: 'string' },
    tenant: { type: 'string' },
    subject: { type: 'object', properties: { kind: { type: 'string' }, value: { type: 'string' } } },
    related_users: { type: 'array', items: { type: 'string' } },
    window: { type: 'object', properties: { start: { type: 'string' }, end: { type: 'string' } } },
    counts: { type: 'object', additionalProperties: { type: 'number' } },
    evidence_event_ids: { type: 'array', items: { type: 'string' } },
    evidence_total: { type: 'integer' },
    explanation: { type: 'string' },
    status: { type: 'string', enum: ['open', 'acknowledged'] },
    first_seen: { type: 'string' },
    last_seen: { type: 'string' },
    raised_at: { type: 'string' },
    updated_at: { type: 'string' },
    acknowledged_by: { type: 'string' },
    acknowledged_at: { type: 'string' },
    announced_at: { type: 'string', description: 'when the raised message reached the alerts topic' },
  },
} as const

interface ListQuery {
  tenant?: string
  rule?: string
  status?: 'open' | 'acknowledged'
  severity?: 'low' | 'medium' | 'high'
  user?: string
  since?: string
  limit: number
}

/**
 * The tenant whose alerts a request may touch. Alerts hold IPs, usernames and user ids (S7), and
 * product-wide keys are for anonymous aggregates only, so they are refused (403); a tenant key
 * asking for another tenant gets the same 404 as an unknown one (S11).
 */
function alertTenant(request: FastifyRequest, requested?: string): string {
  const own = request.apiKey?.scope === 'tenant' ? request.apiKey.tenant : undefined
  requireTenantKey(request, requested ?? own ?? '')
  return own!
}

/**
 * Misuse alerts (S7): list and filter, read one, acknowledge; tenant administrator keys only,
 * each seeing its own tenant's alerts (see `alertTenant`).
 */
export async function alertRoutes(app: FastifyInstance): Promise<void> {
  const { es, config, clock } = app.deps
  const index = classPattern(config.es.indexPrefix, 'alerts')

  async function findAlert(id: string, tenant: string) {
    const result = await es.search<AlertDocument>({
      index,
      ...MISSING_INDICES_ARE_EMPTY,
      size: 1,
      seq_no_primary_term: true,
      query: { bool: { filter: [{ term: { alert_id: id } }, { term: { tenant } }] } },
    })
    const hit = result.hits.hits[0]
    if (!hit?._source) throw new SporError('SPOR_ERR_NOT_FOUND')
    return hit
  }

  app.get<{ Querystring: ListQuery }>(
    '/alerts',
    {
      schema: {
        summary: 'List misuse alerts, newest activity first',
        querystring: {
          type: 'object',
          properties: {
            tenant: {
              type: 'string',
              maxLength: 64,
              pattern: '^[a-z0-9][a-z0-9_-]*$',
              description: "optional: the key's own tenant (another tenant is a 404)",
            },
            rule: { type: 'string', enum: [...RULE_NAMES] },
            status: { type: 'string', enum: ['open', 'acknowledged'] },
            severity: { type: 'string', enum: ['low', 'medium', 'high'] },
            user: {
              type: 'string',
              maxLength: 128,
              pattern: IDENTIFIER_PATTERN,
              description: 'alerts concerning this user id',
            },
            since: { type: 'string', format: 'date-time', description: 'last activity at or after' },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: { total: { type: 'integer' }, alerts: { type: 'array', items: AlertSchema } },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const q = request.query
      const tenant = alertTenant(request, q.tenant || undefined)
      const filter: estypes.QueryDslQueryContainer[] = [{ term: { tenant } }]
      if (q.rule) filter.push({ term: { rule: q.rule } })
      if (q.status) filter.push({ term: { status: q.status } })
      if (q.severity) filter.push({ term: { severity: q.severity } })
      if (q.user) filter.push({ term: { related_users: q.user } })
      if (q.since) filter.push({ range: { last_seen: { gte: q.since } } })
      const result = await es.search<AlertDocument>({
        index,
        ...MISSING_INDICES_ARE_EMPTY,
        size: q.limit,
        track_total_hits: true,
        sort: [{ last_seen: 'desc' }, { alert_id: 'asc' }],
        query: { bool: { filter } },
      })
      const total = result.hits.total
      return {
        total: typeof total === 'number' ? total : (total?.value ?? 0),
        alerts: result.hits.hits.map((h) => h._source!),
      }
    },
  )

  app.get<{ Params: { id: string }; Querystring: { tenant?: string } }>(
    '/alerts/:id',
    {
      schema: {
        summary: 'One alert with its evidence event ids',
        params: {
          type: 'object',
          properties: { id: { type: 'string', maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' } },
          required: ['id'],
        },
        response: { 200: AlertSchema, ...errors },
      },
    },
    async (request) => {
      const tenant = alertTenant(request)
      return (await findAlert(request.params.id, tenant))._source!
    },
  )

  app.post<{ Params: { id: string }; Body: { by?: string } }>(
    '/alerts/:id/acknowledge',
    {
      schema: {
        summary: 'Acknowledge an alert (it stays updated while the incident goes on)',
        params: {
          type: 'object',
          properties: { id: { type: 'string', maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' } },
          required: ['id'],
        },
        body: {
          type: 'object',
          properties: {
            by: {
              type: 'string',
              minLength: 1,
              maxLength: 128,
              pattern: IDENTIFIER_PATTERN,
              description: 'who acknowledges',
            },
          },
          additionalProperties: false,
        },
        response: { 200: AlertSchema, ...errors },
      },
    },
    async (request) => {
      const tenant = alertTenant(request)
      const hit = await findAlert(request.params.id, tenant)
      const by = request.body?.by ?? `key:${request.apiKey!.id}`
      const now = clock().toISOString()
      await es.update({
        index: hit._index,
        id: hit._id!,
        doc: { status: 'acknowledged', acknowledged_by: by, acknowledged_at: now },
        if_seq_no: hit._seq_no,
        if_primary_term: hit._primary_term,
        refresh: 'wait_for',
      })
      return { ...hit._source!, status: 'acknowledged', acknowledged_by: by, acknowledged_at: now }
    },
  )
}
