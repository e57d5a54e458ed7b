import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JobLeases } from '../core/lease.ts'
import { type Schedule, startSchedule } from '../core/schedule.ts'
import { createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * Periodic jobs (retention enforcement, rollups, segments) run inside every instance of their
 * service; leases in Elasticsearch make one instance run each job per interval.
 */
describe('job leases for periodic jobs across instances', () => {
  let t: TestEnv
  beforeAll(async () => {
    t = await createTestEnv('leases')
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  const instance = (name: string, now?: () => number) =>
    new JobLeases(t.es, t.config.es.indexPrefix, { holder: name, ...(now ? { now } : {}) })

  it('of eight instances racing for a job, exactly one gets it', async () => {
    const racers = Array.from({ length: 8 }, (_, i) => instance(`racer-${i}`))
    const attempts = await Promise.all(racers.map((r) => r.acquire('race', 60_000)))
    expect(attempts.filter((a) => a.acquired)).toHaveLength(1)
    const winner = racers[attempts.findIndex((a) => a.acquired)]!
    for (const a of attempts) if (!a.acquired) expect(a.holder).toBe(winner.holder)
  })

  it('a held lease is refused to others until released or expired, and a lost lease cannot be renewed', async () => {
    const a = instance('a')
    const b = instance('b')
    expect(await a.acquire('job', 60_000)).toEqual({ acquired: true })
    expect(await b.acquire('job', 60_000)).toMatchObject({ acquired: false, holder: 'a' })
    expect(await a.acquire('job', 60_000)).toEqual({ acquired: true })
    await a.release('job')
    expect(await b.acquire('job', 60_000)).toEqual({ acquired: true })

    // b stops renewing (crashed); two minutes later c takes the expired lease, and b's late
    // renewal fails instead of stealing it back.
    const later = instance('c', () => Date.now() + 120_000)
    expect(await later.acquire('job', 60_000)).toEqual({ acquired: true })
    expect(await b.renew('job', 60_000)).toBe(false)
    expect(await b.acquire('job', 60_000)).toMatchObject({ acquired: false, holder: 'c' })
  })

  it('two instances of a schedule: runs never overlap, one instance runs per interval, the other takes over when it stops', async () => {
    const runs: { holder: string; start: number; end: number }[] = []
    const start = (holder: string): Schedule =>
      startSchedule({
        name: 'sched',
        everyMs: 200,
        log: t.log,
        lease: { leases: instance(holder), ttlMs: 10_000 },
        run: async () => {
          const started = Date.now()
          await new Promise((r) => setTimeout(r, 120))
          runs.push({ holder, start: started, end: Date.now() })
        },
      })
    const first = start('first')
    const second = start('second')
    await waitFor(
      async () => runs.length,
      (n) => n >= 4,
      { what: 'four runs' },
    )
    const owner = runs[0]!.holder
    const other = owner === 'first' ? second : first
    const stillRunning = owner === 'first' ? first : second
    expect(runs.length).toBeGreaterThanOrEqual(4)
    expect(new Set(runs.map((r) => r.holder))).toEqual(new Set([owner]))

    // The owner stops (releasing its lease); the other instance goes on from its next turn.
    await stillRunning.stop()
    const before = runs.length
    await waitFor(
      async () => runs.length - before,
      (n) => n >= 2,
      { what: 'two runs by the other instance' },
    )
    await other.stop()
    expect(runs.slice(before).every((r) => r.holder !== owner)).toBe(true)

    const sorted = [...runs].sort((x, y) => x.start - y.start)
    for (let i = 1; i < sorted.length; i++)
      expect(sorted[i]!.start).toBeGreaterThanOrEqual(sorted[i - 1]!.end)
  })
})
