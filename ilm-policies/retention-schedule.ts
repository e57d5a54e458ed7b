import type { Client } from '@elastic/elasticsearch'
import type { Clock } from '../core/clock.ts'
import type { SporConfig } from '../core/config.ts'
import type { Logger } from '../core/logger.ts'
import { auditRetention, recordAuditMetrics } from './auditor.ts'
import { type EnforceOptions, enforceRetention } from './enforcer.ts'
import { retentionMetrics } from './retention-metrics.ts'

export interface ScheduleOptions extends EnforceOptions {
  everyMs: number
  /** Runs after each enforcement (the ingest service refreshes the audit gauges here). */
  afterRun?: () => Promise<void>
}

export interface RetentionSchedule {
  stop: () => Promise<void>
}

/**
 * Runs the enforcer at start and then every `everyMs`, never two runs at once. A failed run is
 * logged and counted and does not stop the schedule or the service hosting it.
 */
export function startRetentionSchedule(es: Client, options: ScheduleOptions): RetentionSchedule {
  const log = options.log.child({ component: 'retention-schedule' })
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  let running: Promise<void> = Promise.resolve()

  const runOnce = async (): Promise<void> => {
    try {
      const report = await enforceRetention(es, options)
      retentionMetrics.enforceRuns.inc({ outcome: report.failed.length > 0 ? 'failed' : 'ok' })
      if (report.deleted.length > 0 || report.failed.length > 0) {
        log.info(
          { deleted: report.deleted.length, failed: report.failed.length, kept: report.kept },
          'retention enforcement run',
        )
      }
      await options.afterRun?.()
    } catch (error) {
      retentionMetrics.enforceRuns.inc({ outcome: 'failed' })
      log.error({ err: (error as Error).message }, 'retention enforcement run failed; retrying next interval')
    }
  }
  const tick = (): void => {
    running = runOnce().finally(() => {
      if (!stopped) timer = setTimeout(tick, options.everyMs)
    })
  }
  tick()
  log.info({ everyMs: options.everyMs }, 'retention enforcer scheduled')
  return {
    stop: async () => {
      stopped = true
      if (timer) clearTimeout(timer)
      await running
    },
  }
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
): RetentionSchedule | undefined {
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
    afterRun: async () => recordAuditMetrics(await auditRetention(es, config, { now: clock() })),
  })
}
