import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { SporError } from '../core/errors.ts'
import type { KeyStore, VerifiedKey } from '../core/keys.ts'

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: VerifiedKey
  }
}

/**
 * API-key authentication for every route of `spor query` except health, metrics and docs.
 * Keys are tenant-scoped (a customer administrator: own tenant only) or product-wide (the
 * product team: across tenants, aggregates only).
 */
export const apiKeyAuth = fp(async (app: FastifyInstance, options: { keys: KeyStore }) => {
  app.decorateRequest('apiKey', undefined)
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization
    const plain = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined
    const key = await options.keys.verify(plain, 'api')
    if (!key)
      throw new SporError('SPOR_ERR_UNAUTHORIZED', 'send a valid API key as "Authorization: Bearer <key>"')
    request.apiKey = key
  })
})

/**
 * The tenant a request may see. A tenant-scoped key asking for another tenant gets the same 404
 * as for a tenant that does not exist: no hint of what exists (S11). Returns undefined for a
 * product-wide key that asked for no tenant (all tenants).
 */
export function scopedTenant(request: FastifyRequest, requested: string | undefined): string | undefined {
  const key = request.apiKey
  if (!key) throw new SporError('SPOR_ERR_UNAUTHORIZED')
  if (key.scope === 'tenant') {
    if (requested !== undefined && requested !== key.tenant) throw new SporError('SPOR_ERR_NOT_FOUND')
    return key.tenant
  }
  return requested
}

/**
 * Routes that handle one person's data (exports, erasure) are for that tenant's administrators
 * only: a product-wide key is refused outright, another tenant's key sees a plain 404.
 */
export function requireTenantKey(request: FastifyRequest, tenant: string): void {
  const key = request.apiKey
  if (!key) throw new SporError('SPOR_ERR_UNAUTHORIZED')
  if (key.scope !== 'tenant')
    throw new SporError('SPOR_ERR_FORBIDDEN', 'personal data needs a tenant administrator key')
  if (key.tenant !== tenant) throw new SporError('SPOR_ERR_NOT_FOUND')
}
