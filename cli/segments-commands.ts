import type { Command } from 'commander'
import { SporError } from '../core/errors.ts'
import { DAY_MS } from '../core/retention.ts'
import { runSegmentsJob } from '../segments/job.ts'
import { loadSegmentTable } from '../segments/rules.ts'
import { withEs } from './es-session.ts'

/** `spor segments run|list`: automatic user categorisation (S5). */
export function registerSegmentsCommands(program: Command): void {
  const segments = program.command('segments').description('automatic user categorisation from usage (S5)')
  segments
    .command('run')
    .description('compute every active user’s segments for a day and write their profiles (idempotent)')
    .option('--day <YYYY-MM-DD>', 'the profile day (default: yesterday, UTC)')
    .action(async (options: { day?: string }) => {
      const day = options.day ? parseDay(options.day) : new Date(Date.now() - DAY_MS)
      await withEs('segments', async ({ config, log, es }) => {
        const report = await runSegmentsJob({ es, config, log, table: loadSegmentTable() }, day)
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
      })
    })
  segments
    .command('list')
    .description('print the segment table (names, descriptions, conditions)')
    .option('--json', 'print the table as JSON')
    .action((options: { json?: boolean }) => {
      if (options.json) {
        console.log(JSON.stringify(loadSegmentTable(), null, 2))
        return
      }
      for (const s of loadSegmentTable().segments) {
        const when = s.all
          .map((c) =>
            [
              c.at_least !== undefined ? `${c.figure} ≥ ${c.at_least}` : '',
              c.at_most !== undefined ? `${c.figure} ≤ ${c.at_most}` : '',
            ]
              .filter(Boolean)
              .join(' and '),
          )
          .join(' and ')
        console.log(`${s.name.padEnd(22)} ${s.description}\n${' '.repeat(23)}when ${when}`)
      }
    })
}

function parseDay(text: string): Date {
  const date = new Date(`${text}T00:00:00Z`)
  if (
    !/^\d{4}-\d{2}-\d{2}$/.test(text) ||
    Number.isNaN(date.getTime()) ||
    date.toISOString().slice(0, 10) !== text
  )
    throw new SporError('SPOR_ERR_BAD_REQUEST', `--day must be a date YYYY-MM-DD, got "${text}"`)
  return date
}
