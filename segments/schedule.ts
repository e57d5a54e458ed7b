import type { Client } from '@elastic/elasticsearch'
import type { SporConfig } from '../core/config.ts'
import { JobLeases } from '../core/lease.ts'
import type { Logger } from '../core/logger.ts'
import { DAY_MS, isoDay } from '../core/retention.ts'
import { LEASE_TTL_MS, type Schedule, startSchedule } from '../core/schedule.ts'
import { runSegmentsJob } from './job.ts'
import { loadSegmentTable } from './rules.ts'

/**
 * The daily segments job inside a service: checks every `everyMs` (default
 * `ingest.segmentsEveryMs`, hourly) and computes yesterday's profiles once per day (at start too,
 * so a restart catches up). A failed run is retried at the next check; the job's idempotence makes
 * a repeated day harmless. Among several instances, one runs it per interval (lease). 0 = not in
 * this process (undefined): a scheduler runs `spor segments run` instead.
 */
export function startSegmentsSchedule(
  es: Client,
  config: SporConfig,
  log: Logger,
  options: { everyMs?: number; leases?: JobLeases } = {},
): Schedule | undefined {
  const { everyMs = config.ingest.segmentsEveryMs, leases = new JobLeases(es, config.es.indexPrefix) } =
    options
  if (everyMs === 0) {
    log.warn(
      'segments job disabled here (SPOR_SEGMENTS_EVERY_MS=0): `spor segments run` must compute the profiles',
    )
    return undefined
  }
  const table = loadSegmentTable()
  let lastDay: string | undefined
  return startSchedule({
    name: 'segments',
    everyMs,
    log,
    lease: { leases, ttlMs: LEASE_TTL_MS },
    // Any failure (also a failed tombstone load) is logged and retried at the next check.
    run: async () => {
      const day = new Date(Date.now() - DAY_MS)
      const dayText = isoDay(day)
      if (lastDay === dayText) return
      await runSegmentsJob({ es, config, log, table }, day)
      lastDay = dayText
    },
  })
}
