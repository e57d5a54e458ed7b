import type { Command } from 'commander'
import { loadConfig } from '../core/config.ts'
import { SporError } from '../core/errors.ts'
import { createEsClient, waitForEs } from '../core/es.ts'
import { isoDay } from '../core/retention.ts'
import { installIndexSetup } from '../ilm-policies/install.ts'
import { daysDue, rollupDays } from '../query/rollups/job.ts'
import { purgeRowsBelowK } from '../query/rollups/store.ts'
import { countingRules } from '../query/stats/raw-rows.ts'
import { daysBetween } from '../query/stats/time.ts'
import { progress } from './progress.ts'

const DAY = /^\d{4}-\d{2}-\d{2}$/

function checkDay(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined
  if (!DAY.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)))
    throw new SporError('SPOR_ERR_BAD_REQUEST', `${flag} must be a date YYYY-MM-DD, got "${value}"`)
  return value
}

/** `spor rollup run`: write the anonymous daily rollups (what `spor query` also does hourly). */
export function registerStatsCommands(program: Command): void {
  const rollup = program.command('rollup').description('anonymous daily statistics rollups (spor-stats-*)')
  rollup
    .command('run')
    .description('roll up one day, a range, or (default) every day that is due; idempotent')
    .option('--day <YYYY-MM-DD>', 'one UTC day')
    .option('--from <YYYY-MM-DD>', 'first day of a range')
    .option('--to <YYYY-MM-DD>', 'last day of a range (default yesterday)')
    .option('--json', 'print the per-day result as JSON')
    .action(async (options: { day?: string; from?: string; to?: string; json?: boolean }) => {
      const config = loadConfig()
      const es = createEsClient(config)
      try {
        await waitForEs(es, 30_000)
        await installIndexSetup(es, config)
        const now = new Date()
        const single = checkDay(options.day, '--day')
        const from = checkDay(options.from, '--from')
        const to = checkDay(options.to, '--to') ?? isoDay(new Date(now.getTime() - 86_400_000))
        if (single && from) throw new SporError('SPOR_ERR_BAD_REQUEST', 'use either --day or --from/--to')
        if (from && from > to) throw new SporError('SPOR_ERR_BAD_REQUEST', '--from must not be after --to')
        // Rows below k left by an earlier version go first, also on days that cannot be recomputed.
        await purgeRowsBelowK(es, config.es.indexPrefix, config.query.kAnonymity)
        const days = single ? [single] : from ? daysBetween(from, to) : await daysDue(es, config, now)
        const bar = progress('rollup days', days.length)
        const results = await rollupDays(
          es,
          config.es.indexPrefix,
          days,
          now,
          countingRules(config),
          (_result, done) => bar.update(done),
        )
        bar.done(`rolled up ${results.length} day(s), ${results.reduce((s, r) => s + r.rows, 0)} rows`)
        if (options.json) console.log(JSON.stringify(results, null, 2))
        else
          for (const r of results)
            console.log(
              r.skipped
                ? `${r.day}  skipped: no raw index (an existing rollup is kept)`
                : `${r.day}  ${String(r.rows).padStart(7)} rows  ${r.ms} ms`,
            )
      } finally {
        await es.close()
      }
    })
}
