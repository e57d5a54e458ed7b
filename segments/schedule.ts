import type { Client } from '@elastic/elasticsearch'
import type { SporConfig } from '../core/config.ts'
import type { Logger } from '../core/logger.ts'
import { DAY_MS } from '../core/retention.ts'
import { isoDay, runSegmentsJob } from './job.ts'
import { loadSegmentTable } from './rules.ts'

/**
 * The daily segments job inside a service: checks every `everyMs` (default hourly) and computes
 * yesterday's profiles once per day (at start too, so a restart catches up). A failed run is
 * retried at the next check; the job's idempotence makes a repeated day harmless.
 */
export function startSegmentsSchedule(
  es: Client,
  config: SporConfig,
  log: Logger,
  everyMs = 3_600_000,
): { stop: () => Promise<void> } {
  const table = loadSegmentTable()
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  let running: Promise<unknown> = Promise.resolve()
  let lastDay: string | undefined
  const tick = () => {
    const day = new Date(Date.now() - DAY_MS)
    const dayText = isoDay(day)
    running = (lastDay === dayText ? Promise.resolve() : runSegmentsJob({ es, config, log, table }, day))
      .then(() => {
        lastDay = dayText
      })
      // Any failure (also a failed tombstone load) is logged and retried at the next check: the
      // timer below is re-armed whatever happened.
      .catch((error) => log.error({ err: error }, 'segments job failed; retrying next interval'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, everyMs)
      })
  }
  tick()
  return {
    stop: async () => {
      stopped = true
      if (timer) clearTimeout(timer)
      await running
    },
  }
}
