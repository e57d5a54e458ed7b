import type { Command } from 'commander'
import { fixedClock, systemClock } from '../core/clock.ts'
import { loadConfig } from '../core/config.ts'
import { SporError } from '../core/errors.ts'
import { createKafka } from '../core/kafka.ts'
import { RETENTION_CLASSES } from '../core/retention.ts'
import { type AuditReport, auditRetention } from '../ilm-policies/auditor.ts'
import { type EnforceReport, enforceRetention } from '../ilm-policies/enforcer.ts'
import { GENERATED_DIR, readPolicyFiles, writeGeneratedFiles } from '../ilm-policies/generated.ts'
import { EMPTIED_GRACE_MS, legacyIndices, migrateLayout } from '../ilm-policies/migrate.ts'
import { lifecyclePolicy, policyName } from '../ilm-policies/policies.ts'
import { validateWithElasticsearch } from '../ilm-policies/validate/validate-policies.ts'
import { tombstoneLifetimeMs } from '../privacy/tombstones.ts'
import { withEs } from './es-session.ts'

/** `spor retention enforce` and `spor retention audit`: the retention promise (S10), by hand. */
export function registerRetentionCommands(program: Command): void {
  const retention = program
    .command('retention')
    .description('delete expired indices and documents and audit what is stored against the retention table')

  retention
    .command('enforce')
    .description(
      'delete every index whose whole period is past its class retention and sweep expired documents out of the monthly and yearly ones (idempotent)',
    )
    .option('--dry-run', 'list what would be deleted, delete nothing')
    .option('--now <iso>', 'evaluate as of this instant (a future instant needs --dry-run)')
    .option('--json', 'print the report as JSON')
    .action(async (options: { dryRun?: boolean; now?: string; json?: boolean }) => {
      const clock = options.now ? parseNow(options.now, options.dryRun ?? false) : systemClock
      await withEs('retention', async ({ config, log, es }) => {
        const report = await enforceRetention(es, {
          prefix: config.es.indexPrefix,
          retentionDays: config.retentionDays,
          clock,
          log,
          dryRun: options.dryRun,
          tombstoneLifetimeMs: tombstoneLifetimeMs(config),
        })
        if (options.json) console.log(JSON.stringify(report, null, 2))
        else printEnforceReport(report)
        if (report.failed.length > 0) process.exitCode = 1
      })
    })

  retention
    .command('audit')
    .description(
      'report the oldest event per class and every document or topic setting that breaks retention; exit 1 on a violation',
    )
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      await withEs('retention', async ({ config, log, es }) => {
        const report = await auditRetention(es, config, { now: new Date(), kafka: createKafka(config, log) })
        if (options.json) console.log(JSON.stringify(report, null, 2))
        else printAuditReport(report)
        if (report.violations.length > 0) process.exitCode = 1
      })
    })

  retention
    .command('check-policies')
    .description(
      "check spor's lifecycle policies (this configuration's and the JSON files under ilm-policies/generated, or --dir) with Elasticsearch's own ILM code (needs the distribution from spor stack up)",
    )
    .option('--dir <dir>', 'directory of generated JSON files to check', GENERATED_DIR)
    .option('--json', 'print the verdicts as JSON')
    .action(async (options: { dir: string; json?: boolean }) => {
      const config = loadConfig()
      const configured = Object.fromEntries(
        RETENTION_CLASSES.map((cls) => [
          policyName(config.es.indexPrefix, cls),
          lifecyclePolicy(cls, config.retentionDays),
        ]),
      )
      // File policies are checked under a `file:` label so a file and the configuration with the
      // same name are both reported (the policy name itself is validated through the file name).
      const files = await readPolicyFiles(options.dir)
      const verdicts = await validateWithElasticsearch(configured)
      const fileVerdicts = await validateWithElasticsearch(files)
      const fileLabelled = fileVerdicts.map((v) => ({ ...v, name: `${options.dir}/policies/${v.name}.json` }))
      if (options.json) console.log(JSON.stringify([...verdicts, ...fileLabelled], null, 2))
      else
        for (const v of [...verdicts, ...fileLabelled])
          console.log(v.valid ? `OK ${v.name}` : `INVALID ${v.name}: ${v.message}`)
      const expected = RETENTION_CLASSES.length + Object.keys(files).length
      const all = [...verdicts, ...fileVerdicts]
      if (all.length !== expected || Object.keys(files).length === 0 || all.some((v) => !v.valid)) {
        process.exitCode = 1
      }
    })

  program
    .command('migrate')
    .description(
      'move indices of the first layout (daily indices; event documents before ECS field names) into the current ones, renaming fields to ECS (idempotent, resumable, safe with ingest running)',
    )
    .option('--dry-run', 'list the daily indices that would be moved')
    .option('--limit <n>', 'move at most this many indices this run', (v) => Number.parseInt(v, 10))
    .option('--json', 'print the report as JSON')
    .action(async (options: { dryRun?: boolean; limit?: number; json?: boolean }) => {
      await withEs('migrate', async ({ config, log, es }) => {
        if (options.dryRun) {
          const { pending, expired } = await legacyIndices(es, config, new Date())
          for (const p of pending) console.log(`would move ${p.name}`)
          console.log(`${pending.length} to move; ${expired.length} past retention (left to the enforcer)`)
          return
        }
        if (options.limit !== undefined && !(options.limit > 0)) {
          throw new SporError('SPOR_ERR_BAD_REQUEST', '--limit must be a positive integer')
        }
        const report = await migrateLayout(es, config, { now: new Date(), log, limit: options.limit })
        if (options.json) console.log(JSON.stringify(report, null, 2))
        else {
          for (const m of report.migrated) {
            const state = m.deleted
              ? 'deleted'
              : m.emptied
                ? 'emptied, deleted by a run after the grace period'
                : 'not empty yet'
            console.log(
              `  ${m.index} -> ${m.target}: ${m.moved} moved, ${m.reconciled} reconciled (${state})`,
            )
          }
          const left = report.legacy - report.migrated.length + report.incomplete.length
          console.log(
            `moved ${report.migrated.length} of ${report.legacy} daily indices; ${left} left${left > 0 ? ' (run again)' : ''}; ${report.awaitingDeletion.length} emptied, deleted by a run ${EMPTIED_GRACE_MS / 60_000} minutes from now`,
          )
        }
        if (report.incomplete.length > 0) process.exitCode = 1
      })
    })

  retention
    .command('write-json')
    .description(
      'write the lifecycle policies and index templates of this configuration as JSON files to review and apply',
    )
    .option('--dir <dir>', 'output directory', GENERATED_DIR)
    .action(async (options: { dir: string }) => {
      const config = loadConfig()
      const written = await writeGeneratedFiles(options.dir, config.es.indexPrefix, config.retentionDays)
      for (const file of written) console.log(file)
    })
}

/**
 * `--now` exists to preview or replay enforcement. Deleting as of a future instant would delete
 * data before its time, so that is only allowed as a dry run.
 */
function parseNow(iso: string, dryRun: boolean) {
  const at = new Date(iso)
  if (Number.isNaN(at.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(iso)) {
    throw new SporError('SPOR_ERR_BAD_REQUEST', `--now "${iso}" is not an ISO 8601 instant`)
  }
  if (at.getTime() > Date.now() && !dryRun) {
    throw new SporError('SPOR_ERR_BAD_REQUEST', '--now in the future deletes data early: add --dry-run')
  }
  return fixedClock(at.toISOString())
}

function printEnforceReport(report: EnforceReport): void {
  const verb = report.dryRun ? 'would delete' : 'deleted'
  console.log(`retention enforce as of ${report.now}${report.dryRun ? ' (dry run)' : ''}`)
  for (const d of report.deleted) console.log(`  ${verb} ${d.index} (${d.cls}, expired ${d.expiresAt})`)
  for (const s of report.swept) {
    console.log(
      `  ${report.dryRun ? 'would sweep' : 'swept'} ${s.deleted} expired document(s) from ${s.index} (${s.cls})`,
    )
  }
  for (const f of report.failed) console.log(`  FAILED ${f.index} (${f.cls}): ${f.error}`)
  console.log(
    `${verb} ${report.deleted.length}, failed ${report.failed.length}, kept ${report.kept}, not spor indices (untouched) ${report.ignored.length}`,
  )
  console.log(`${verb} ${report.tombstonesExpired} erasure tombstones past their lifetime`)
}

function printAuditReport(report: AuditReport): void {
  console.log(`retention audit of ${report.prefix}-* as of ${report.now}`)
  for (const c of report.classes) {
    const age = c.oldestAgeSeconds === null ? '' : ` (${(c.oldestAgeSeconds / 86_400).toFixed(1)} days old)`
    console.log(`  ${c.cls.padEnd(8)} retention ${c.retentionDays} d, oldest event ${c.oldest ?? '-'}${age}`)
    for (const v of c.violations)
      console.log(`    VIOLATION ${v.index}: ${v.count} document(s), oldest ${v.oldest}`)
    if (c.expiredIndices.length > 0) {
      console.log(`    expired, awaiting deletion: ${c.expiredIndices.join(', ')}`)
    }
  }
  if (report.ilm.present) {
    console.log('  ILM present: policies and templates checked below; spor enforcer is the second lock')
    for (const p of report.ilm.policies) {
      console.log(`    policy ${p.name}: ${p.installed ? `delete after ${p.deleteAfter}` : 'missing'}`)
    }
  } else {
    console.log('  no ILM on this cluster: spor retention enforce (run by spor ingest) is what deletes')
  }
  const cap = report.capacity
  const limit = cap.cluster.limit === null ? 'unknown' : String(cap.cluster.limit)
  console.log(
    `  shards: ${cap.primaries} primaries now, ${cap.projectedPrimaries} at steady state (budget ${cap.budget}); cluster ${cap.cluster.shards} shards of a limit of ${limit}`,
  )
  for (const c of cap.classes) {
    const legacy = c.legacy > 0 ? `, ${c.legacy} legacy daily` : ''
    console.log(
      `    ${c.cls.padEnd(8)} ${c.period.padEnd(5)} indices: ${c.indices} (${c.primaries} primaries${legacy}), steady state <= ${c.projected}`,
    )
  }
  for (const note of cap.notes) console.log(`    note: ${note}`)
  for (const t of report.topics ?? []) {
    const retention = t.retentionMs === null ? '-' : `${(t.retentionMs / 86_400_000).toFixed(2)} d`
    console.log(
      `  topic ${t.topic} (${t.role}): ${t.exists ? `retention.ms ${retention}` : 'does not exist'}`,
    )
  }
  if (report.violations.length === 0) console.log('OK: nothing is kept longer than its class allows')
  else {
    console.log(`${report.violations.length} violation(s):`)
    for (const line of report.violations) console.log(`  - ${line}`)
  }
}
