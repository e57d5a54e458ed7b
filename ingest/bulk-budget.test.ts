import { describe, expect, it } from 'vitest'
import { BulkBudget } from './bulk-budget.ts'

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false
  p.then(() => {
    done = true
  })
  await new Promise((r) => setImmediate(r))
  return done
}

describe('BulkBudget', () => {
  it('admits requests while bytes and request slots last, then queues in arrival order', async () => {
    const budget = new BulkBudget({ maxBytes: 100, maxRequests: 3 })
    const a = await budget.acquire(40)
    const b = await budget.acquire(40)
    const c = budget.acquire(40) // 120 > 100: waits
    const d = budget.acquire(10) // would fit, but must not overtake c
    expect(await settled(c)).toBe(false)
    expect(await settled(d)).toBe(false)
    expect(budget.inFlightBytes).toBe(80)
    a()
    expect(await settled(c)).toBe(true)
    expect(await settled(d)).toBe(true)
    expect(budget.inFlightBytes).toBe(90)
    expect(budget.inFlightRequests).toBe(3)
    b()
    ;(await c)()
    ;(await d)()
    expect(budget.inFlightBytes).toBe(0)
    expect(budget.inFlightRequests).toBe(0)
  })

  it('bounds the number of requests even when bytes remain', async () => {
    const budget = new BulkBudget({ maxBytes: 1000, maxRequests: 2 })
    const a = await budget.acquire(1)
    await budget.acquire(1)
    const third = budget.acquire(1)
    expect(await settled(third)).toBe(false)
    a()
    expect(await settled(third)).toBe(true)
  })

  it('a request larger than the whole budget runs alone instead of waiting forever', async () => {
    const budget = new BulkBudget({ maxBytes: 100, maxRequests: 4 })
    const small = await budget.acquire(10)
    const huge = budget.acquire(500)
    expect(await settled(huge)).toBe(false)
    small()
    const release = await huge
    expect(budget.inFlightBytes).toBe(100)
    expect(await settled(budget.acquire(1))).toBe(false)
    release()
  })

  it('releasing twice gives the room back once', async () => {
    const budget = new BulkBudget({ maxBytes: 100, maxRequests: 4 })
    const a = await budget.acquire(30)
    await budget.acquire(30)
    a()
    a()
    expect(budget.inFlightBytes).toBe(30)
    expect(budget.inFlightRequests).toBe(1)
  })
})
