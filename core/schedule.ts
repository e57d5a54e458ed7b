import type { JobLeases } from './lease.ts'
import type { Logger } from './logger.ts'

/** Lease time to live of a running job; renewed every third of it while the job runs. */
export const LEASE_TTL_MS = 10 * 60_000

export interface ScheduleOptions {
  /** Job name: in logs, and the lease's id. */
  name: string
  everyMs: number
  /** Delay before the first run (default: run at start). */
  firstAfterMs?: number
  log: Logger
  /**
   * With leases, the job runs in one instance per interval (the others skip their turn). While
   * the job runs, its lease lives `ttlMs` and is renewed every third of it.
   */
  lease?: { leases: JobLeases; ttlMs: number }
  run: () => Promise<void>
}

export interface Schedule {
  /** Stops the timer and waits for a running job to finish. */
  stop: () => Promise<void>
}

/**
 * A periodic job inside a service: the next run is armed when the previous one ended (never two
 * at once), a failed run is logged and retried at the next interval, and stop() waits for it.
 */
export function startSchedule(options: ScheduleOptions): Schedule {
  const { name, everyMs, log, lease } = options
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  let running: Promise<void> = Promise.resolve()

  const runOnce = async (): Promise<void> => {
    if (!lease) return options.run()
    const attempt = await lease.leases.acquire(name, lease.ttlMs)
    if (!attempt.acquired) {
      log.debug(
        { job: name, holder: attempt.holder, until: attempt.expiresAt },
        'job runs in another instance',
      )
      return
    }
    const renewal = setInterval(
      () => {
        lease.leases
          .renew(name, lease.ttlMs)
          .then((kept) => {
            if (!kept)
              log.warn({ job: name }, 'job lease lost while running (the run was slower than its lease)')
          })
          .catch((error) =>
            log.warn({ job: name, err: (error as Error).message }, 'job lease renewal failed'),
          )
      },
      Math.max(1, Math.floor(lease.ttlMs / 3)),
    )
    try {
      await options.run()
    } catch (error) {
      // Failed: free the job for whichever instance comes next.
      await lease.leases.release(name).catch(() => {})
      throw error
    } finally {
      clearInterval(renewal)
    }
    // Done: keep the lease for the interval, so the other instances skip this turn and the job
    // runs once per interval across all of them (if this instance dies, another takes over).
    await lease.leases.renew(name, Math.max(lease.ttlMs, everyMs)).catch(() => {})
  }

  const tick = (): void => {
    running = runOnce()
      .catch((error) => log.error({ job: name, err: error }, `${name} job failed; retrying next interval`))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, everyMs)
      })
  }
  if (options.firstAfterMs) timer = setTimeout(tick, options.firstAfterMs)
  else tick()
  return {
    stop: async () => {
      stopped = true
      if (timer) clearTimeout(timer)
      await running
      await lease?.leases.release(name).catch(() => {})
    },
  }
}
