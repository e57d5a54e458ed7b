import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Logger } from './logger.ts'
import { startSchedule } from './schedule.ts'

/**
 * The scheduler on a fake clock: the interval is measured from the end of a run (never two at
 * once), a failed run is logged and retried one interval later, stop() waits for a running job.
 */
function recordingLog(): { log: Logger; errors: unknown[] } {
  const errors: unknown[] = []
  const log = {
    error: (fields: unknown) => errors.push(fields),
    warn: () => {},
    debug: () => {},
    info: () => {},
  }
  return { log: log as unknown as Logger, errors }
}

describe('startSchedule timing', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('runs at start, then everyMs after each run ends; a slow run never overlaps the next', async () => {
    const starts: number[] = []
    let active = 0
    let maxActive = 0
    const { log } = recordingLog()
    const schedule = startSchedule({
      name: 'job',
      everyMs: 1000,
      log,
      run: async () => {
        starts.push(Date.now())
        maxActive = Math.max(maxActive, ++active)
        // The second run takes 2.5 intervals.
        await new Promise((r) => setTimeout(r, starts.length === 2 ? 2500 : 100))
        active--
      },
    })
    await vi.advanceTimersByTimeAsync(6000)
    await schedule.stop()
    // 0 (+100) → 1100 (+2500) → 4600 (+100) → 5700
    expect(starts).toEqual([0, 1100, 4600, 5700])
    expect(maxActive).toBe(1)
  })

  it('waits firstAfterMs before the first run', async () => {
    const starts: number[] = []
    const { log } = recordingLog()
    const schedule = startSchedule({
      name: 'job',
      everyMs: 1000,
      firstAfterMs: 300,
      log,
      run: async () => {
        starts.push(Date.now())
      },
    })
    await vi.advanceTimersByTimeAsync(2500)
    await schedule.stop()
    expect(starts).toEqual([300, 1300, 2300])
  })

  it('logs a failed run and retries it one interval later', async () => {
    const starts: number[] = []
    const { log, errors } = recordingLog()
    const schedule = startSchedule({
      name: 'enforcer',
      everyMs: 1000,
      log,
      run: async () => {
        starts.push(Date.now())
        if (starts.length === 1) throw new Error('cluster said no')
      },
    })
    await vi.advanceTimersByTimeAsync(1500)
    await schedule.stop()
    expect(starts).toEqual([0, 1000])
    expect(errors).toEqual([expect.objectContaining({ job: 'enforcer', err: expect.any(Error) })])
  })

  it('stop() waits for the running job and no run starts after it', async () => {
    const starts: number[] = []
    let finished = false
    const { log } = recordingLog()
    const schedule = startSchedule({
      name: 'job',
      everyMs: 1000,
      log,
      run: async () => {
        starts.push(Date.now())
        await new Promise((r) => setTimeout(r, 500))
        finished = true
      },
    })
    const stopped = schedule.stop()
    await vi.advanceTimersByTimeAsync(500)
    await stopped
    expect(finished).toBe(true)
    await vi.advanceTimersByTimeAsync(5000)
    expect(starts).toEqual([0])
  })
})
