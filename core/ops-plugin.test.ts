import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { installErrorHandler } from './http-errors.ts'
import { registerOpsRoutes } from './ops-plugin.ts'

const readyValue = (body: string) => Number(/^spor_ready (\S+)$/m.exec(body)?.[1])

describe('spor_ready', () => {
  it('follows the readiness verdict, and a check that hangs counts as not ready instead of hanging /metrics', async () => {
    let state: 'ready' | 'not ready' | 'hanging' = 'ready'
    const app = Fastify()
    await registerOpsRoutes(app, () =>
      state === 'hanging' ? new Promise(() => {}) : Promise.resolve({ ready: state === 'ready' }),
    )
    const scrape = async () => readyValue((await app.inject({ url: '/metrics' })).body)
    expect(await scrape()).toBe(1)
    state = 'not ready'
    expect(await scrape()).toBe(0)
    state = 'hanging'
    expect(await scrape()).toBe(0)
    state = 'ready'
    expect(await scrape()).toBe(1)
    await app.close()
  })
})

describe('operational endpoints behind the ops token', () => {
  it('/metrics needs the token when one is configured; /health stays open', async () => {
    const app = Fastify()
    installErrorHandler(app)
    await registerOpsRoutes(app, async () => ({ ready: true }), { token: 'ops-token-0123456789abcdef' })
    app.get('/docs/json', async () => ({ openapi: '3' }))
    try {
      expect((await app.inject('/health')).statusCode).toBe(200)
      for (const url of ['/metrics', '/docs/json', '/metrics?x=1']) {
        expect((await app.inject(url)).statusCode).toBe(401)
        const wrong = await app.inject({ url, headers: { authorization: 'Bearer nope' } })
        expect(wrong.statusCode).toBe(401)
        const ok = await app.inject({ url, headers: { authorization: 'Bearer ops-token-0123456789abcdef' } })
        expect(ok.statusCode).toBe(200)
      }
    } finally {
      await app.close()
    }
  })
})
