import type { Command } from 'commander'
import { loadConfig } from '../core/config.ts'
import { SporError } from '../core/errors.ts'
import { createEsClient } from '../core/es.ts'
import type { IngestProfile } from '../core/key-scopes.ts'
import { type KeyKind, type KeyScope, KeyStore } from '../core/keys.ts'
import { createLogger } from '../core/logger.ts'
import { runCollector } from '../ingest/collector/run.ts'
import { runQuery } from '../query/run.ts'

/** collector, query and keys: the HTTP services and their access keys. */
export function registerServiceCommands(program: Command): void {
  program
    .command('collector')
    .description('HTTP endpoint POST /v1/events in front of the events topic')
    .action(async () => {
      const config = loadConfig()
      await runCollector(config, createLogger('collector', config.logLevel))
    })

  program
    .command('query')
    .description('statistics, alerts and subject-rights API with OpenAPI docs at /docs')
    .action(async () => {
      const config = loadConfig()
      await runQuery(config, createLogger('query', config.logLevel))
    })

  const keys = program.command('keys').description('create, list and revoke access keys (stored hashed)')
  keys
    .command('create')
    .description('create a key; the key is printed once and never stored')
    .requiredOption('--kind <kind>', 'ingest (collector) | api (query API)')
    .option('--tenant <tenant>', 'bind the key to one tenant (required for ingest keys)')
    .option('--product-wide', 'an api key across all tenants (aggregates only)')
    .option('--name <name>', 'what the key is for', 'unnamed')
    .option(
      '--profile <profile>',
      'ingest keys: browser (client-observable types only; default) | server (the product backend: logins, jobs, messages, admin, privacy)',
    )
    .option(
      '--event-types <types>',
      'ingest keys: comma-separated allow-list narrowing the profile, e.g. page.view,feature.*',
    )
    .option(
      '--allowed-origin <origin...>',
      'ingest keys: web origins (https://app.example.com) whose pages may send with this key from a browser',
    )
    .option('--json', 'print the key and its record as JSON')
    .action(
      async (options: {
        kind: string
        tenant?: string
        productWide?: boolean
        name: string
        profile?: string
        eventTypes?: string
        allowedOrigin?: string[]
        json?: boolean
      }) => {
        if (options.kind !== 'ingest' && options.kind !== 'api')
          throw new SporError('SPOR_ERR_BAD_REQUEST', '--kind is ingest or api')
        const scope: KeyScope = options.productWide ? 'product' : 'tenant'
        if (scope === 'tenant' && !options.tenant)
          throw new SporError('SPOR_ERR_BAD_REQUEST', 'give --tenant, or --product-wide for an api key')
        if (scope === 'product' && options.kind === 'ingest')
          throw new SporError('SPOR_ERR_BAD_REQUEST', 'ingest keys are always bound to a tenant')
        const store = keyStore()
        const created = await store.create({
          kind: options.kind as KeyKind,
          scope,
          tenant: options.tenant,
          name: options.name,
          scopes:
            options.kind === 'ingest' || options.profile || options.eventTypes
              ? {
                  profile: options.profile as IngestProfile | undefined,
                  eventTypes: options.eventTypes?.split(','),
                }
              : undefined,
          allowedOrigins: options.allowedOrigin,
        })
        if (options.json) console.log(JSON.stringify(created))
        else
          console.log(
            `${created.key}\n(id ${created.record.id}, ${scope}${options.tenant ? ` ${options.tenant}` : ''}${created.record.ingest_profile ? `, ${created.record.ingest_profile} key` : ''}; shown once, store it now)`,
          )
      },
    )
  keys
    .command('list')
    .description('list keys (ids, scopes, allowed origins; never secrets)')
    .option('--json', 'one JSON object per key')
    .action(async (options: { json?: boolean }) => {
      for (const k of await keyStore().list()) {
        if (options.json) console.log(JSON.stringify(k))
        else
          console.log(
            `${k.id}  ${k.kind.padEnd(6)} ${k.scope.padEnd(7)} ${(k.tenant ?? '*').padEnd(16)} ${k.kind === 'ingest' ? `${k.ingest_profile ?? 'browser'}${k.event_types ? `[${k.event_types.join(',')}]` : ''} ` : ''}${k.name}${k.allowed_origins?.length ? `  origins ${k.allowed_origins.join(' ')}` : ''}${k.revoked_at ? `  revoked ${k.revoked_at}` : ''}`,
          )
      }
    })
  keys
    .command('revoke')
    .argument('<id>', 'key id')
    .description('revoke a key (effective within SPOR_KEY_CACHE_MS)')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      if (!(await keyStore().revoke(id))) throw new SporError('SPOR_ERR_NOT_FOUND', `no key ${id}`)
      console.log(options.json ? JSON.stringify({ revoked: id }) : `revoked ${id}`)
    })
}

function keyStore(): KeyStore {
  const config = loadConfig()
  return new KeyStore(createEsClient(config), config.es.indexPrefix, 0)
}
