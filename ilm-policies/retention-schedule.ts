import type { Client } from '@elastic/elasticsearch'
import type { Clock } from '../core/clock.ts'
import type { SporConfig } from '../core/config.ts'
import { JobLeases } from '../core/lease.ts'
import type { Logger } from '../core/logger.ts'
import { LEASE_TTL_MS, type Schedule, startSchedule } from '../core/schedule.ts'
import { tombstoneLifetimeMs } from '../privacy/tombstones.ts'
import { auditRetention, recordAuditMetrics } from './auditor.ts'
import { type EnforceOptions, enforceRetention } from './enforcer.ts'
import { retentionMetrics } from './retention-metrics.ts'

export interface RetentionScheduleOptions extends EnforceOptions {
  everyMs: number
  /** Runs after each enforcement (the ingest service refreshes the audit gauges here). */
  afterRun?: () => Promise<void>
  /** Among several instances, one enforces per interval. */
  leases: JobLeases
}

/**
 * Runs the enforcer at start and then every `everyMs`, never two runs at once. A failed run is
 * logged and counted and does not stop the schedule or the service hosting it.
 */
export function startRetentionSchedule(es: Client, options: RetentionScheduleOptions): Schedule {
  const log = options.log.child({ component: 'retention-schedule' })
  log.info({ everyMs: options.everyMs }, 'retention enforcer scheduled')
  return startSchedule({
    name: 'retention-enforce',
    everyMs: options.everyMs,
    log,
    lease: { leases: options.leases, ttlMs: LEASE_TTL_MS },
    run: async () => {
      try {
        const report = await enforceRetention(es, options)
        retentionMetrics.enforceRuns.inc({ outcome: report.failed.length > 0 ? 'failed' : 'ok' })
        if (report.failed.length === 0) retentionMetrics.lastSuccess.setToCurrentTime()
        if (report.deleted.length > 0 || report.swept.length > 0 || report.failed.length > 0) {
          log.info(
            {
              deleted: report.deleted.length,
              sweptDocuments: report.swept.reduce((sum, s) => sum + s.deleted, 0),
              failed: report.failed.length,
              kept: report.kept,
            },
            'retention enforcement run',
          )
        }
      } catch (error) {
        retentionMetrics.enforceRuns.inc({ outcome: 'failed' })
        throw error
      }
      await options.afterRun?.()
    },
  })
}

/**
 * The retention work hosted by `spor ingest`: enforce every `ingest.enforceEveryMs` (0 = off), then
 * refresh the audit gauges (`spor_retention_oldest_age_seconds{class}` and violating documents)
 * from what Elasticsearch actually holds. Kafka topic settings are audited by `spor retention audit`.
 */
export function startIngestRetention(
  es: Client,
  config: SporConfig,
  log: Logger,
  clock: Clock,
  leases: JobLeases = new JobLeases(es, config.es.indexPrefix),
): Schedule | undefined {
  if (config.ingest.enforceEveryMs === 0) {
    log.warn('retention enforcer disabled (SPOR_ENFORCE_EVERY_MS=0): ILM or another process must delete')
    return undefined
  }
  return startRetentionSchedule(es, {
    prefix: config.es.indexPrefix,
    retentionDays: config.retentionDays,
    clock,
    log,
    everyMs: config.ingest.enforceEveryMs,
    tombstoneLifetimeMs: tombstoneLifetimeMs(config),
    leases,
    afterRun: async () => recordAuditMetrics(await auditRetention(es, config, { now: clock() })),
  })
}
