import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { installErrorHandler } from './http-errors.ts'
import { limitPerTenant, TenantConcurrency } from './tenant-limiter.ts'

describe('per-tenant concurrency of expensive work', () => {
  it('refuses a tenant over its limit, not another tenant, and frees the slot when the response is sent', async () => {
    const app = Fastify()
    installErrorHandler(app)
    const limiter = new TenantConcurrency('test', 1)
    limitPerTenant(app, limiter, (request) => (request.headers['x-tenant'] as string) || undefined, 'exports')
    let finish!: () => void
    const started = new Promise<void>((resolveStarted) => {
      app.get('/slow', async () => {
        resolveStarted()
        await new Promise<void>((resolve) => {
          finish = resolve
        })
        return { ok: true }
      })
    })
    app.get('/fast', async () => ({ ok: true }))
    try {
      const slow = app.inject({ url: '/slow', headers: { 'x-tenant': 'acme' } })
      await started
      expect(limiter.held('acme')).toBe(1)
      const refused = await app.inject({ url: '/fast', headers: { 'x-tenant': 'acme' } })
      expect(refused.statusCode).toBe(429)
      expect(refused.json().code).toBe('SPOR_ERR_RATE_LIMITED')
      expect((await app.inject({ url: '/fast', headers: { 'x-tenant': 'globex' } })).statusCode).toBe(200)
      expect((await app.inject({ url: '/fast' })).statusCode).toBe(200) // not expensive: not counted
      finish()
      expect((await slow).statusCode).toBe(200)
      expect(limiter.held('acme')).toBe(0)
      expect((await app.inject({ url: '/fast', headers: { 'x-tenant': 'acme' } })).statusCode).toBe(200)
    } finally {
      await app.close()
    }
  })
  it('release is idempotent', () => {
    const limiter = new TenantConcurrency('test2', 2)
    const release = limiter.tryAcquire('a')!
    release()
    release()
    expect(limiter.held('a')).toBe(0)
    expect(limiter.tryAcquire('a')).toBeDefined()
  })
})
