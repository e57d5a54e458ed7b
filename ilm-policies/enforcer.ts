import type { Client } from '@elastic/elasticsearch'
import type { Clock } from '../core/clock.ts'
import { classPattern, type IndexPeriod, type ParsedIndex, parseClassIndex } from '../core/indices.ts'
import type { Logger } from '../core/logger.ts'
import { DAY_MS, RETENTION_CLASSES, type RetentionClass, type RetentionDays } from '../core/retention.ts'
import { expireTombstones } from '../privacy/tombstones.ts'
import { retentionMetrics } from './retention-metrics.ts'
import { countExpired, needsSweep, type SweepResult, sweepIndex } from './sweep.ts'

/**
 * spor's own retention lock, in two parts. (1) Deletes every index whose whole period is past its
 * class's retention: a daily index at its date plus the retention, a monthly or yearly one when
 * its last day is. (2) Sweeps the coarse indices still kept: deletes by id each document past
 * retention (sweep.ts), so no document outlives its day's expiry by more than the interval
 * between runs. It runs whether or not the cluster has ILM (a second lock where ILM exists, the
 * only one where it does not). It only ever deletes by exact name, and only names that parse
 * exactly as one of spor's layouts (core/indices.ts) with this installation's prefix: a restored
 * copy, another installation's prefix or a similar-looking foreign index is never touched.
 */

export interface IndexState {
  index: string
  cls: RetentionClass
  period: IndexPeriod
  layout: ParsedIndex['layout']
  /** First day of the index's period (YYYY-MM-DD). */
  date: string
  /** When the last day of the period is past retention: the whole index goes. */
  expiresAt: string
}

export interface IndexSelection {
  expired: IndexState[]
  kept: IndexState[]
  /** Names matched by the class patterns that are not exactly spor's own indices. */
  ignored: string[]
}

/** When an index's last day is past retention (for a daily index: its date plus retention). */
export function indexExpiresAt(index: ParsedIndex, retentionDays: number): Date {
  return new Date(index.end.getTime() - DAY_MS + retentionDays * DAY_MS)
}

/** Pure: sorts listed index names into expired, kept and ignored (not ours). */
export function selectExpired(
  names: readonly string[],
  prefix: string,
  retentionDays: RetentionDays,
  now: Date,
): IndexSelection {
  const selection: IndexSelection = { expired: [], kept: [], ignored: [] }
  for (const name of [...new Set(names)].sort()) {
    const parsed = parseClassIndex(name)
    if (!parsed || parsed.prefix !== prefix) {
      selection.ignored.push(name)
      continue
    }
    const expiry = indexExpiresAt(parsed, retentionDays[parsed.cls])
    const state: IndexState = {
      index: name,
      cls: parsed.cls,
      period: parsed.period,
      layout: parsed.layout,
      date: parsed.start.toISOString().slice(0, 10),
      expiresAt: expiry.toISOString(),
    }
    if (expiry.getTime() <= now.getTime()) selection.expired.push(state)
    else selection.kept.push(state)
  }
  return selection
}

/** Every index (open or closed) matching the exact class patterns `<prefix>-<class>-*`. */
export async function listClassIndices(es: Client, prefix: string): Promise<string[]> {
  const rows = await es.cat.indices({
    index: RETENTION_CLASSES.map((cls) => classPattern(prefix, cls)),
    format: 'json',
    h: 'index',
    expand_wildcards: ['open', 'closed'],
  })
  return (rows as { index?: string }[]).flatMap((row) => (row.index ? [row.index] : []))
}

export interface EnforceOptions {
  prefix: string
  retentionDays: RetentionDays
  clock: Clock
  log: Logger
  dryRun?: boolean
  /** Erasure tombstones older than this are deleted too (`tombstoneLifetimeMs`); unset = kept. */
  tombstoneLifetimeMs?: number
}

export interface EnforceReport {
  now: string
  dryRun: boolean
  deleted: IndexState[]
  /** Documents past retention deleted by id inside kept coarse indices (dry run: would be). */
  swept: (SweepResult & { cls: RetentionClass })[]
  /** Expired indices that could not be deleted this run (the next run tries again). */
  failed: { index: string; cls: RetentionClass; error: string }[]
  kept: number
  ignored: string[]
  /** Erasure tombstones past their lifetime, deleted (or, dry run, that would be). */
  tombstonesExpired: number
}

/**
 * One enforcement run. Idempotent: an index already gone (another replica, ILM) counts as done.
 * Deletes one index per request so a failure is attributed to its index and the URL stays short
 * on a first run over a long backlog.
 */
export async function enforceRetention(es: Client, options: EnforceOptions): Promise<EnforceReport> {
  const now = options.clock()
  const dryRun = options.dryRun ?? false
  const log = options.log.child({ component: 'retention-enforcer' })
  const selection = selectExpired(
    await listClassIndices(es, options.prefix),
    options.prefix,
    options.retentionDays,
    now,
  )
  const report: EnforceReport = {
    now: now.toISOString(),
    dryRun,
    deleted: [],
    swept: [],
    failed: [],
    kept: selection.kept.length,
    ignored: selection.ignored,
    tombstonesExpired: 0,
  }
  for (const state of selection.expired) {
    if (dryRun) {
      report.deleted.push(state)
      continue
    }
    try {
      await es.indices.delete({ index: state.index, ignore_unavailable: true })
      report.deleted.push(state)
      retentionMetrics.deletedIndices.inc({ class: state.cls })
      log.info({ index: state.index, class: state.cls, expiresAt: state.expiresAt }, 'deleted expired index')
    } catch (error) {
      const message = (error as Error).message
      report.failed.push({ index: state.index, cls: state.cls, error: message })
      retentionMetrics.deleteFailures.inc({ class: state.cls })
      log.error({ index: state.index, class: state.cls, err: message }, 'failed to delete expired index')
    }
  }
  const candidates = selection.kept.flatMap((state) => {
    const parsed = parseClassIndex(state.index)!
    const retentionDays = options.retentionDays[state.cls]
    return needsSweep(parsed, retentionDays, now) ? [{ ...parsed, name: state.index, retentionDays }] : []
  })
  let expiredCounts: (number | Error)[] = []
  try {
    expiredCounts = await countExpired(es, candidates, now)
  } catch (error) {
    expiredCounts = candidates.map(() => error as Error)
  }
  for (const [i, candidate] of candidates.entries()) {
    const expired = expiredCounts[i] ?? 0
    if (expired instanceof Error) {
      report.failed.push({ index: candidate.name, cls: candidate.cls, error: expired.message })
      retentionMetrics.deleteFailures.inc({ class: candidate.cls })
      log.error(
        { err: expired.message, index: candidate.name },
        'failed to count expired documents for the sweep',
      )
      continue
    }
    if (expired === 0) continue
    if (dryRun) {
      report.swept.push({ index: candidate.name, deleted: expired, cls: candidate.cls })
      continue
    }
    try {
      const result = await sweepIndex(es, candidate, candidate.retentionDays, now)
      report.swept.push({ ...result, cls: candidate.cls })
      retentionMetrics.sweptDocuments.inc({ class: candidate.cls }, result.deleted)
      log.info(
        { index: candidate.name, class: candidate.cls, deleted: result.deleted },
        'swept expired documents',
      )
    } catch (error) {
      const message = (error as Error).message
      report.failed.push({ index: candidate.name, cls: candidate.cls, error: message })
      retentionMetrics.deleteFailures.inc({ class: candidate.cls })
      log.error(
        { index: candidate.name, class: candidate.cls, err: message },
        'failed to sweep expired documents',
      )
    }
  }
  if (options.tombstoneLifetimeMs !== undefined) {
    const cutoff = new Date(now.getTime() - options.tombstoneLifetimeMs)
    report.tombstonesExpired = await expireTombstones(es, options.prefix, cutoff, dryRun)
    if (!dryRun && report.tombstonesExpired > 0) {
      retentionMetrics.expiredTombstones.inc(report.tombstonesExpired)
      log.info(
        { count: report.tombstonesExpired, erasedBefore: cutoff.toISOString() },
        'deleted expired erasure tombstones',
      )
    }
  }
  if (selection.ignored.length > 0) {
    log.debug({ ignored: selection.ignored }, 'indices matching class patterns that are not spor indices')
  }
  return report
}
