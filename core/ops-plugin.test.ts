import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
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
