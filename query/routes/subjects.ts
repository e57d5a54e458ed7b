import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { SporError } from '../../core/errors.ts'
import { IDENTIFIER_PATTERN } from '../../core/event-schema.ts'
import { ErrorBodySchema } from '../../core/http-errors.ts'
import { chargedScope, limitPerTenant, TenantConcurrency } from '../../core/tenant-limiter.ts'
import { EXPORT_FORMATS, type ExportFormat, exportText } from '../../privacy/export-stream.ts'
import { PrivacyService } from '../../privacy/service.ts'
import { requireTenantKey } from '../auth.ts'

const params = {
  type: 'object',
  properties: {
    tenant: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9_-]*$' },
    user: { type: 'string', minLength: 1, maxLength: 128, pattern: IDENTIFIER_PATTERN },
  },
  required: ['tenant', 'user'],
} as const

const requestedBy = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  pattern: IDENTIFIER_PATTERN,
  description: "the administrator's own user id in the tenant; the request then appears in their own export",
} as const

const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  // Elasticsearch unreachable, or an erasure whose sweeps still found documents (retry it).
  503: ErrorBodySchema,
}

interface SubjectParams {
  tenant: string
  user: string
}

/**
 * Data-subject rights (S9) for a tenant's administrators: export everything spor holds on one of
 * their users, and erase them. A product-wide key gets 403; another tenant's user, and an unknown
 * user of the own tenant, get the same 404 (no hint of who exists elsewhere, S11).
 */
export async function subjectRoutes(app: FastifyInstance): Promise<void> {
  const { es, config, log, clock } = app.deps
  const privacy = new PrivacyService({ es, config, log, now: clock })
  // Each export holds point-in-time views until its last byte: a few per tenant at a time.
  const exports = new TenantConcurrency('export', config.hostile.tenantMaxExports)
  limitPerTenant(
    app,
    exports,
    (request) => (request.routeOptions.url?.endsWith('/export') ? chargedScope(request) : undefined),
    'exports',
  )

  app.get<{ Params: SubjectParams; Querystring: { format: ExportFormat; requested_by?: string } }>(
    '/tenants/:tenant/subjects/:user/export',
    {
      schema: {
        summary: 'Export everything held on one user (NDJSON with a manifest line, or CSV)',
        description:
          'Streams every document of the user across all classes and days. NDJSON: the first line is {"manifest": …}. CSV: dotted columns; the manifest is in the X-Spor-Manifest header.',
        params,
        querystring: {
          type: 'object',
          properties: {
            format: { type: 'string', enum: [...EXPORT_FORMATS], default: 'ndjson' },
            requested_by: requestedBy,
          },
          additionalProperties: false,
        },
        response: errors,
      },
    },
    async (request, reply) => {
      const { tenant, user } = request.params
      requireTenantKey(request, tenant)
      const requester = privacy.requester(request.apiKey!.id, tenant, request.query.requested_by)
      const exp = await privacy.openExport(tenant, user, requester)
      if (!exp) throw new SporError('SPOR_ERR_NOT_FOUND')
      const format = request.query.format
      reply
        .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header(
          'content-disposition',
          `attachment; filename="spor-export-${tenant}-${user.replace(/[^A-Za-z0-9._-]/g, '_')}.${format}"`,
        )
        .header('x-spor-manifest', JSON.stringify(exp.manifest))
        .header('cache-control', 'no-store')
      return reply.send(Readable.from(exportText(exp, format)))
    },
  )

  app.post<{ Params: SubjectParams; Querystring: { requested_by?: string } }>(
    '/tenants/:tenant/subjects/:user/erase',
    {
      schema: {
        summary:
          'Erase one user: delete raw data and profiles, strip identifiers from kept history, block replays',
        description:
          'Idempotent: repeating or retrying the request completes an interrupted erasure. Takes a few seconds (waits until every ingest consumer has seen the tombstone).',
        params,
        querystring: {
          type: 'object',
          properties: { requested_by: requestedBy },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            description: 'the erasure receipt: what was deleted, what was kept, why, and until when',
            additionalProperties: true,
            properties: {
              subject: { type: 'object', additionalProperties: true },
              requested_at: { type: 'string' },
              completed_at: { type: 'string' },
              tombstone: { type: 'object', additionalProperties: true },
              deleted: { type: 'object', additionalProperties: true },
              anonymised: { type: 'object', additionalProperties: true },
              kept: { type: 'array', items: { type: 'object', additionalProperties: true } },
            },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const { tenant, user } = request.params
      requireTenantKey(request, tenant)
      const requester = privacy.requester(request.apiKey!.id, tenant, request.query.requested_by)
      const receipt = await privacy.erase(tenant, user, requester)
      if (!receipt) throw new SporError('SPOR_ERR_NOT_FOUND')
      return receipt
    },
  )
}
