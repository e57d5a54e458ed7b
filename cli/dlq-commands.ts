import type { Command } from 'commander'
import { loadConfig } from '../core/config.ts'
import { SporError } from '../core/errors.ts'
import { createKafka, waitForKafka } from '../core/kafka.ts'
import { createLogger } from '../core/logger.ts'
import { startupOptions } from '../core/startup.ts'
import {
  type ReplayRange,
  type ReplayReport,
  replayDeadLetters,
  validateRange,
} from '../ingest/dlq-replay.ts'

interface ReplayOptions {
  partition?: string
  fromOffset?: string
  toOffset?: string
  since?: string
  until?: string
  reason?: string[]
  dryRun?: boolean
  json?: boolean
}

/** `spor dlq replay`: the dead-letter topic back through the pipeline, after a fix. */
export function registerDlqCommands(program: Command): void {
  const dlq = program.command('dlq').description('the dead-letter topic: replay a bounded range after a fix')
  dlq
    .command('replay')
    .description(
      're-produce the original events of a range of dead letters to the events topic (idempotent: documents have deterministic ids)',
    )
    .option('--partition <n>', 'dead-letter partition (required with offsets; all partitions otherwise)')
    .option('--from-offset <n>', 'first offset, inclusive')
    .option('--to-offset <n>', 'last offset, inclusive')
    .option('--since <iso>', 'dead letters written at or after this instant')
    .option('--until <iso>', 'and before this instant (default: now)')
    .option('--reason <reason...>', 'only these reasons, e.g. unknown_type es_rejected')
    .option('--dry-run', 'count what would be replayed, produce nothing')
    .option('--json', 'print the report as JSON')
    .action(async (options: ReplayOptions) => {
      const config = loadConfig()
      const range: ReplayRange = {
        partitions: options.partition === undefined ? undefined : [integer('--partition', options.partition)],
        fromOffset:
          options.fromOffset === undefined ? undefined : BigInt(integer('--from-offset', options.fromOffset)),
        toOffset:
          options.toOffset === undefined ? undefined : BigInt(integer('--to-offset', options.toOffset)),
        since: options.since === undefined ? undefined : instant('--since', options.since),
        until:
          options.until !== undefined
            ? instant('--until', options.until)
            : options.since !== undefined
              ? new Date()
              : undefined,
        reasons: options.reason,
        dryRun: options.dryRun,
      }
      validateRange(range)
      const log = createLogger('dlq', config.logLevel)
      const kafka = createKafka(config, log)
      await waitForKafka(kafka, startupOptions(config, log))
      const report = await replayDeadLetters(kafka, config, range)
      if (options.json) console.log(JSON.stringify(report, null, 2))
      else printReport(report)
    })
}

function integer(name: string, value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new SporError('SPOR_ERR_BAD_REQUEST', `${name} "${value}" is not a non-negative integer`)
  return Number(value)
}

function instant(name: string, value: string): Date {
  const at = new Date(value)
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(at.getTime()))
    throw new SporError('SPOR_ERR_BAD_REQUEST', `${name} "${value}" is not an ISO 8601 instant`)
  return at
}

function printReport(report: ReplayReport): void {
  for (const p of report.partitions)
    console.log(`${report.topic} partition ${p.partition}: offsets ${p.from}..${p.to}, ${p.read} read`)
  const reasons = Object.entries(report.byReason).map(([r, n]) => `${r} ${n}`)
  const skipped = Object.entries(report.skipped).map(([r, n]) => `${r} ${n}`)
  console.log(
    `${report.dryRun ? 'would replay' : 'replayed'} ${report.dryRun ? Object.values(report.byReason).reduce((a, b) => a + b, 0) : report.replayed} to ${report.target}${reasons.length ? ` (${reasons.join(', ')})` : ''}; skipped ${skipped.join(', ') || 'none'}`,
  )
}
