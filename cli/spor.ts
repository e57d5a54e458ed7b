import { Command } from 'commander'
import { SporError } from '../core/errors.ts'
import { registerCoreCommands } from './core-commands.ts'
import { registerDemoCommand } from './demo.ts'
import { registerDetectCommands } from './detect-commands.ts'
import { registerPrivacyCommands } from './privacy-commands.ts'
import { registerRetentionCommands } from './retention-commands.ts'
import { registerSegmentsCommands } from './segments-commands.ts'
import { registerServiceCommands } from './service-commands.ts'
import { registerStatsCommands } from './stats-commands.ts'

/**
 * The `spor` command. Each command group lives next to what it drives; this file only wires them.
 * Errors with a spor code print one clear line and exit 2 (configuration) or 1 (anything else).
 */
const program = new Command()
  .name('spor')
  .description('usage and device telemetry pipeline: Kafka → enrich → Elasticsearch → anonymised statistics')
  .showHelpAfterError()

registerCoreCommands(program)
registerDemoCommand(program)
registerServiceCommands(program)
registerDetectCommands(program)
registerStatsCommands(program)
registerRetentionCommands(program)
registerPrivacyCommands(program)
registerSegmentsCommands(program)

try {
  await program.parseAsync(process.argv)
} catch (error) {
  if (error instanceof SporError) {
    process.stderr.write(`spor: ${error.code}: ${error.message}\n`)
    process.exit(error.code === 'SPOR_ERR_CONFIG' ? 2 : 1)
  }
  throw error
}
