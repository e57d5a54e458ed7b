import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Command, CommanderError } from 'commander'
import { SporError } from '../core/errors.ts'
import { REPO_ROOT, registerCoreCommands } from './core-commands.ts'
import { registerDemoCommand } from './demo.ts'
import { registerDetectCommands } from './detect-commands.ts'
import { registerDlqCommands } from './dlq-commands.ts'
import { registerPrivacyCommands } from './privacy-commands.ts'
import { registerRetentionCommands } from './retention-commands.ts'
import { loadSecretsFile } from './secrets-file.ts'
import { registerSegmentsCommands } from './segments-commands.ts'
import { registerServiceCommands } from './service-commands.ts'
import { registerStatsCommands } from './stats-commands.ts'

/**
 * The `spor` command. Each command group lives next to what it drives; this file only wires them.
 *
 * Exit codes: 0 ok; 1 a failure or a violation found (e.g. `retention audit`); 2 a usage or
 * configuration error (unknown option, bad argument, invalid `SPOR_*` variable). A closed pipe
 * (`spor subject export … | head`) ends the command quietly.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

const USAGE_CODES = new Set(['SPOR_ERR_CONFIG', 'SPOR_ERR_BAD_REQUEST'])
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
  .version

let pipeClosed = false
// `| head` closes our stdout early: that is the reader being done, not an error worth a trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error
  pipeClosed = true
})

function fail(message: string, code: number): never {
  process.stderr.write(`spor: ${message}\n`)
  process.exit(code)
}

const program = new Command()
  .name('spor')
  .description('usage and device telemetry pipeline: Kafka → enrich → Elasticsearch → anonymised statistics')
  .version(`spor ${VERSION}`, '-v, --version', 'print the version')
  .showHelpAfterError()
  // Commander's own errors (unknown option, missing argument) become exit 2 below, not 1.
  .exitOverride()

registerCoreCommands(program)
registerDemoCommand(program)
registerServiceCommands(program)
registerDetectCommands(program)
registerStatsCommands(program)
registerRetentionCommands(program)
registerPrivacyCommands(program)
registerSegmentsCommands(program)
registerDlqCommands(program)

try {
  // Secrets `spor demo` generated; variables already in the environment win.
  loadSecretsFile(join(REPO_ROOT, '.spor', 'secrets.env'))
  await program.parseAsync(process.argv)
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code
  if (pipeClosed || code === 'EPIPE') process.exit(EXIT.ok)
  if (error instanceof CommanderError) {
    // Help and --version are successful exits; everything else commander raises is usage.
    process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage)
  }
  if (error instanceof SporError) fail(`${error.code}: ${error.message}`, USAGE_CODES.has(error.code) ? 2 : 1)
  // Not a spor error: a bug or an unexpected failure, where the stack is what a report needs.
  fail(error instanceof Error ? (error.stack ?? error.message) : String(error), EXIT.failure)
}
