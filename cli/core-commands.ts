import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { loadConfig, redactedConfig } from '../core/config.ts'
import { SporError } from '../core/errors.ts'
import { createEsClient, waitForEs } from '../core/es.ts'
import { eventJsonSchema } from '../core/event-schema.ts'
import { createKafka, waitForKafka } from '../core/kafka.ts'
import { createLogger } from '../core/logger.ts'
import { startupOptions, startupSteps } from '../core/startup.ts'
import { describeGeoDatabase } from '../enrich/geo-database.ts'
import { installIndexSetup } from '../ilm-policies/install.ts'
import { legacyIndices } from '../ilm-policies/migrate.ts'
import { SKIPPABLE_CONSUMERS, type SkippableConsumer, skipPoisonBatch } from '../ingest/poison-skip.ts'
import { runIngest } from '../ingest/run.ts'
import { ensureTopics } from '../ingest/topics.ts'

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

/** stack, setup, ingest, schema: the commands that bring the pipeline up. */
export function registerCoreCommands(program: Command): void {
  program
    .command('stack')
    .description('download, start and stop the local Kafka and Elasticsearch (cached under .spor/)')
    .argument('<action>', 'up | down | status | wipe')
    .argument('[service]', 'kafka | es | all', 'all')
    .action((action: string, service: string) => {
      if (!['up', 'down', 'status', 'wipe'].includes(action)) {
        throw new SporError('SPOR_ERR_STACK', `unknown action "${action}" (up | down | status | wipe)`)
      }
      const result = spawnSync('bash', [join(REPO_ROOT, 'stack', 'stack.sh'), action, service], {
        stdio: 'inherit',
      })
      process.exitCode = result.status ?? 1
    })

  program
    .command('config')
    .description(
      'print the effective configuration (defaults filled in, secrets redacted); fails with the exact problem when it is invalid',
    )
    .action(() => {
      const config = loadConfig()
      const geoDatabase = describeGeoDatabase(config)
      console.log(JSON.stringify({ ...redactedConfig(config), geoDatabase }, null, 2))
      if (geoDatabase.tooOld) {
        console.error(
          `warning: the geo database was built ${geoDatabase.buildDate.slice(0, 10)} (${geoDatabase.ageDays} days ago, more than SPOR_GEOIP_MAX_AGE_DAYS=${geoDatabase.maxAgeDays}); replace it (SPOR_GEOIP_DB) or update the package`,
        )
      }
    })

  program
    .command('setup')
    .description('create topics and install index templates and lifecycle policies (idempotent)')
    .option('--json', 'print what was installed as JSON')
    .action(async (options: { json?: boolean }) => {
      const config = loadConfig()
      const log = createLogger('setup', config.logLevel)
      const es = createEsClient(config)
      const kafka = createKafka(config, log)
      try {
        const startup = startupOptions(config, log)
        await Promise.all([waitForEs(es, startup), waitForKafka(kafka, startup)])
        // Every step is idempotent, so a transient failure midway is retried as a whole step.
        const step = startupSteps(config, log)
        const indices = await step('index templates and policies', () => installIndexSetup(es, config))
        const topics = await step('topics', () => ensureTopics(kafka, config))
        const legacy = await step('legacy index check', () => legacyIndices(es, config, new Date()))
        if (options.json) {
          console.log(JSON.stringify({ indices, topics, legacyIndices: legacy.pending.length }, null, 2))
          return
        }
        console.log(
          indices.ilm
            ? `lifecycle policies installed: ${indices.policies.join(', ')} (spor's own enforcer keeps running as a second lock)`
            : 'this cluster has no ILM: retention is enforced by spor itself (`spor retention enforce`, also run by `spor ingest`)',
        )
        console.log(`index templates: ${indices.templates.join(', ')}`)
        if (legacy.pending.length > 0) {
          console.log(
            `${legacy.pending.length} indices of the first layout (daily, or event documents before ECS field names): run \`spor migrate\` to move them into the current indices (readers see both meanwhile)`,
          )
        }
        console.log(
          `topics created: ${topics.created.join(', ') || '-'}; updated: ${topics.updated.join(', ') || '-'}`,
        )
      } finally {
        await es.close()
      }
    })

  const ingest = program
    .command('ingest')
    .description('consume events from Kafka, enrich them and index them into daily retention-classed indices')
    .action(async () => {
      const config = loadConfig()
      await runIngest(config, createLogger('ingest', config.logLevel))
    })
  registerSkipCommand(ingest)

  program
    .command('schema')
    .description('print the event contract v1 as JSON Schema')
    .option('--out <file>', 'write to a file instead of stdout')
    .action((options: { out?: string }) => {
      const text = `${JSON.stringify(eventJsonSchema(), null, 2)}\n`
      if (options.out) writeFileSync(options.out, text)
      else process.stdout.write(text)
    })
}

/**
 * `spor ingest skip`: after a consumer stopped with SPOR_ERR_POISON_BATCH, moves its group past
 * that one batch and records it in the dead-letter topic (ingest/poison-skip.ts).
 */
function registerSkipCommand(ingest: Command): void {
  ingest
    .command('skip')
    .description(
      'move a stopped consumer group past an undecodable batch (SPOR_ERR_POISON_BATCH), recording it in the dead-letter topic',
    )
    .requiredOption('--partition <n>', 'partition named by the SPOR_ERR_POISON_BATCH line')
    .requiredOption('--offset <n>', 'first offset of the batch, as named by that line')
    .option('--consumer <name>', `whose group: ${SKIPPABLE_CONSUMERS.join(' | ')}`, 'ingest')
    .action(async (options: { partition: string; offset: string; consumer: string }) => {
      if (!(SKIPPABLE_CONSUMERS as readonly string[]).includes(options.consumer))
        throw new SporError('SPOR_ERR_BAD_REQUEST', `--consumer is one of ${SKIPPABLE_CONSUMERS.join(', ')}`)
      if (!/^\d{1,9}$/.test(options.partition) || !/^\d{1,19}$/.test(options.offset))
        throw new SporError('SPOR_ERR_BAD_REQUEST', '--partition and --offset are non-negative integers')
      const config = loadConfig()
      const log = createLogger('skip', config.logLevel)
      const kafka = createKafka(config, log)
      await waitForKafka(kafka, startupOptions(config, log))
      const report = await skipPoisonBatch(kafka, config, {
        consumer: options.consumer as SkippableConsumer,
        partition: Number(options.partition),
        offset: options.offset,
      })
      log.warn({ ...report }, 'poison batch skipped and dead-lettered')
      console.log(
        `skipped ${report.records} record(s) at offsets ${report.from}..${report.to} of ${report.topic} partition ${report.partition} for group ${report.groupId} (${report.codec}: ${report.error}); recorded in ${config.kafka.dlqTopic}`,
      )
    })
}
