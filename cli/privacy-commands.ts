import { createWriteStream, writeFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import { loadConfig } from '../core/config.ts'
import { SporError } from '../core/errors.ts'
import { createEsClient, waitForEs } from '../core/es.ts'
import { createLogger } from '../core/logger.ts'
import { startupOptions } from '../core/startup.ts'
import { tombstoneSettleMs } from '../privacy/erase.ts'
import { EXPORT_FORMATS, type ExportFormat, exportText } from '../privacy/export-stream.ts'
import { PrivacyService } from '../privacy/service.ts'
import { progress } from './progress.ts'

interface SubjectOptions {
  tenant: string
  user: string
  requestedBy?: string
}

/** `spor subject export|erase`: data-subject rights from the operator's shell (audited as `cli`). */
export function registerPrivacyCommands(program: Command): void {
  const subject = program
    .command('subject')
    .description('data-subject rights: export everything held on a user, or erase them (audited)')

  subject
    .command('export')
    .description('export every document held on a user across all classes and days, with a manifest')
    .requiredOption('--tenant <tenant>', 'the customer (tenant) id')
    .requiredOption('--user <user>', 'the user id within the tenant')
    .option('--format <format>', 'ndjson | csv', 'ndjson')
    .option('--out <file>', 'write to a file (and the manifest to <file>.manifest.json) instead of stdout')
    .option('--requested-by <user>', "the administrator's own user id, recorded in the audit event")
    .action(async (options: SubjectOptions & { format: string; out?: string }) => {
      if (!EXPORT_FORMATS.includes(options.format as ExportFormat))
        throw new SporError('SPOR_ERR_BAD_REQUEST', `--format is ${EXPORT_FORMATS.join(' or ')}`)
      const format = options.format as ExportFormat
      const { service, close } = await privacyService()
      try {
        const requester = service.requester('cli', options.tenant, options.requestedBy)
        const exp = await service.openExport(options.tenant, options.user, requester)
        if (!exp)
          throw new SporError(
            'SPOR_ERR_NOT_FOUND',
            `nothing is held on user ${options.user} of tenant ${options.tenant}`,
          )
        const counts = Object.entries(exp.manifest.classes)
          .map(([cls, s]) => `${cls} ${s.count}`)
          .join(', ')
        process.stderr.write(`exporting ${exp.manifest.total} documents (${counts})\n`)
        const bar = progress('exported', exp.manifest.total)
        const text = Readable.from(exportText(exp, format, (done) => bar.update(done)))
        if (options.out) {
          await pipeline(text, createWriteStream(options.out))
          writeFileSync(`${options.out}.manifest.json`, `${JSON.stringify(exp.manifest, null, 2)}\n`)
          bar.done(
            `exported ${exp.manifest.total} documents to ${options.out} (manifest: ${options.out}.manifest.json)`,
          )
        } else {
          await pipeline(text, process.stdout, { end: false })
          if (format === 'csv') process.stderr.write(`${JSON.stringify({ manifest: exp.manifest })}\n`)
          bar.done(`exported ${exp.manifest.total} documents`)
        }
      } finally {
        await close()
      }
    })

  subject
    .command('erase')
    .description(
      'erase a user: delete raw data and profiles, strip identifiers from kept history, block replays',
    )
    .requiredOption('--tenant <tenant>', 'the customer (tenant) id')
    .requiredOption('--user <user>', 'the user id within the tenant')
    .option('--requested-by <user>', "the administrator's own user id, recorded in the audit event")
    .action(async (options: SubjectOptions) => {
      const { service, close, config } = await privacyService()
      try {
        process.stderr.write(
          `erasing ${options.user} of ${options.tenant} (after the tombstone, waits ${Math.round(tombstoneSettleMs(config) / 1000)} s until every ingest consumer has seen it)…\n`,
        )
        const receipt = await service.erase(
          options.tenant,
          options.user,
          service.requester('cli', options.tenant, options.requestedBy),
        )
        if (!receipt)
          throw new SporError(
            'SPOR_ERR_NOT_FOUND',
            `nothing is held on user ${options.user} of tenant ${options.tenant}`,
          )
        process.stdout.write(`${JSON.stringify(receipt, null, 2)}\n`)
      } finally {
        await close()
      }
    })
}

async function privacyService() {
  const config = loadConfig()
  const log = createLogger('privacy', config.logLevel)
  const es = createEsClient(config)
  await waitForEs(es, startupOptions(config, log))
  return { config, service: new PrivacyService({ es, config, log }), close: () => es.close() }
}
