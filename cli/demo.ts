import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { loadConfig, type SporConfig } from '../core/config.ts'
import { createEsClient, waitForEs } from '../core/es.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { createKafka, createProducer, waitForKafka } from '../core/kafka.ts'
import { KeyStore } from '../core/keys.ts'
import { createLogger } from '../core/logger.ts'
import { redactUrl } from '../core/redact.ts'
import { attackScenarios } from '../generate/attacks.ts'
import { postEvents, produceEvents } from '../generate/produce.ts'
import { generateTraffic } from '../generate/traffic.ts'
import { installIndexSetup } from '../ilm-policies/install.ts'
import { ensureTopics } from '../ingest/topics.ts'
import { REPO_ROOT } from './core-commands.ts'
import { progress } from './progress.ts'
import { supervise } from './supervisor.ts'

const STATE = join(REPO_ROOT, '.spor')
const SECRETS = join(STATE, 'secrets.env')
const LOGS = join(STATE, 'logs')
const SERVICES = ['ingest', 'collector', 'query', 'detect'] as const
const TENANTS = ['acme', 'globex', 'initech', 'umbrella']

/** The pseudonym key is a secret: generated once per checkout into a git-ignored file. */
function ensureSecrets(): Record<string, string> {
  mkdirSync(STATE, { recursive: true })
  if (!existsSync(SECRETS)) {
    writeFileSync(SECRETS, `SPOR_PSEUDONYM_KEY=${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 })
  }
  return Object.fromEntries(
    readFileSync(SECRETS, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  )
}

function startService(name: string, env: NodeJS.ProcessEnv): ChildProcess {
  mkdirSync(LOGS, { recursive: true })
  // The service writes straight to its log file, so its last lines survive the demo exiting.
  const out = openSync(join(LOGS, `${name}.log`), 'a')
  // Own process group: Ctrl-C reaches only the demo, which then stops each service once,
  // gracefully (a second signal would make a service exit without draining).
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'spor.js'), name], {
    env,
    stdio: ['ignore', out, out],
    detached: true,
  })
  closeSync(out)
  return child
}

async function waitForHttp(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return
    await new Promise((r) => setTimeout(r, 300))
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms (see .spor/logs/)`)
}

/** Waits until ingest has counted `expected` events (indexed, dead-lettered or dropped). */
async function waitForIngested(metricsUrl: string, expected: number, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let seen = 0
  while (Date.now() < deadline) {
    const text = await fetch(metricsUrl).then(
      (r) => r.text(),
      () => '',
    )
    seen = text
      .split('\n')
      .filter((line) => line.startsWith('spor_ingest_events_total{'))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0)
    if (seen >= expected) return
    await new Promise((r) => setTimeout(r, 500))
  }
  throw new Error(
    `ingest processed ${seen} of ${expected} events within ${timeoutMs} ms (see .spor/logs/ingest.log)`,
  )
}

/** History (produced as if collected earlier), attacks, and a live trickle through the collector. */
async function sendSampleTraffic(
  config: SporConfig,
  collectorUrl: string,
  ingestKey: string,
): Promise<number> {
  const log = createLogger('demo', 'warn')
  const kafka = createKafka(config, log)
  const producer = createProducer(kafka)
  await producer.connect()
  const end = new Date()
  const history = [...generateTraffic({ seed: 2026, tenants: TENANTS, usersPerTenant: 60, days: 14, end })]
  const attacks = attackScenarios({ seed: 7, tenant: 'acme', end }).flatMap((s) => s.events)
  const bar = progress('sample traffic → kafka', history.length + attacks.length)
  const sent = await produceEvents(producer, config.kafka.eventsTopic, [...history, ...attacks], {
    onProgress: bar.update,
  })
  bar.done(
    `sample traffic: ${sent} events (14 days, ${TENANTS.length} tenants, scripted attacks on acme) produced to ${config.kafka.eventsTopic}`,
  )
  await producer.disconnect()
  // And a batch the way a browser sends it, through the collector.
  const live: SporEvent[] = Array.from({ length: 20 }, (_, i) => ({
    v: 1,
    id: `demo-live-${Date.now()}-${i}`,
    type: 'page.view',
    ts: new Date().toISOString(),
    tenant: 'acme',
    user: `u${String(i % 5).padStart(4, '0')}`,
    session: 'demo-live',
    module: 'crm',
    function: 'contacts.view',
  }))
  const posted = await postEvents(collectorUrl, ingestKey, live)
  console.log(`collector: ${posted.accepted} events accepted through POST ${collectorUrl}/v1/events`)
  return sent + posted.accepted
}

/**
 * The commands the demo suggests, for a shell in the checkout (the CLI finds the pseudonym key in
 * .spor/secrets.env). test/demo.integration.test.ts runs each of them as pasted.
 */
export function demoSuggestions(urls: { queryUrl: string; productKey: string; tenantKey: string }): string[] {
  return [
    `curl -s -H 'authorization: Bearer ${urls.productKey}' '${urls.queryUrl}/v1/stats/summary'`,
    `curl -s -H 'authorization: Bearer ${urls.tenantKey}' '${urls.queryUrl}/v1/alerts?limit=3'`,
    'node bin/spor.js retention audit',
    'node bin/spor.js subject export --tenant acme --user u0001 | head -3',
    'node bin/spor.js dlq replay --since "$(date -u -d \'-1 hour\' +%FT%TZ)" --dry-run',
  ]
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'start the local stack and every spor service, send sample traffic, and print where to look (Ctrl-C stops)',
    )
    .option('--no-traffic', 'start everything without sending sample traffic')
    .action(async (options: { traffic: boolean }) => {
      const up = spawnSync('bash', [join(REPO_ROOT, 'stack', 'stack.sh'), 'up'], { stdio: 'inherit' })
      if (up.status !== 0) process.exit(up.status ?? 1)
      // The environment wins over the generated secrets, as for every spor command.
      const env = {
        ...ensureSecrets(),
        ...process.env,
        SPOR_TRUSTED_PROXIES: process.env.SPOR_TRUSTED_PROXIES ?? '127.0.0.1',
      }
      const config = loadConfig(env)
      const es = createEsClient(config)
      const kafka = createKafka(config, createLogger('demo', 'warn'))
      await Promise.all([waitForEs(es), waitForKafka(kafka)])
      await installIndexSetup(es, config)
      await ensureTopics(kafka, config)
      const keys = new KeyStore(es, config.es.indexPrefix, 0)
      const ingestKey =
        // A server key: the sample traffic includes logins and jobs, which only a backend may send.
        (
          await keys.create({
            kind: 'ingest',
            scope: 'tenant',
            tenant: 'acme',
            name: 'demo backend',
            scopes: { profile: 'server' },
          })
        ).key
      const productKey = (await keys.create({ kind: 'api', scope: 'product', name: 'demo product team' })).key
      const tenantKey = (
        await keys.create({ kind: 'api', scope: 'tenant', tenant: 'acme', name: 'demo acme admin' })
      ).key

      // Supervised: an exit is reported with the service's last log lines and restarted within
      // the same budget the consumers use; past it the demo stops everything and exits 1.
      const supervisors = SERVICES.map((name) =>
        supervise({
          name,
          start: () => startService(name, env),
          logFile: join(LOGS, `${name}.log`),
          maxRestarts: config.ingest.maxRestarts,
          windowMs: config.ingest.restartWindowMs,
          print: (line) => console.error(line),
          onGiveUp: () => void stop(1),
        }),
      )
      let stopping = false
      const stop = async (code = 0) => {
        if (stopping) return
        stopping = true
        console.log('stopping spor services (in-flight batches finish first)…')
        await Promise.all(supervisors.map((s) => s.stop()))
        process.exit(code)
      }
      process.once('SIGINT', () => void stop())
      process.once('SIGTERM', () => void stop())
      const collectorUrl = `http://${config.collector.host}:${config.collector.port}`
      const queryUrl = `http://${config.query.host}:${config.query.port}`
      await waitForHttp(`${collectorUrl}/health`)
      await waitForHttp(`${queryUrl}/health`)
      await waitForHttp(`http://127.0.0.1:${config.ingest.httpPort}/health`)
      if (options.traffic) {
        const sent = await sendSampleTraffic(config, collectorUrl, ingestKey)
        // The suggestions below read what ingest wrote: wait until it has taken every event.
        await waitForIngested(`http://127.0.0.1:${config.ingest.httpPort}/metrics`, sent)
        console.log(`ingest: all ${sent} events processed`)
      }
      await es.close()

      console.log(`
spor is running (logs in .spor/logs/, Ctrl-C stops the services; \`spor stack down\` stops Kafka and Elasticsearch)

  dashboard      ${queryUrl}/dashboard        (paste the product-wide API key)
  API + docs     ${queryUrl}/docs
  collector      POST ${collectorUrl}/v1/events   (Authorization: Bearer <ingest key>)
  metrics        ${collectorUrl}/metrics  ${queryUrl}/metrics  http://127.0.0.1:${config.ingest.httpPort}/metrics  http://127.0.0.1:${config.detect.httpPort}/metrics
  elasticsearch  ${redactUrl(config.es.url)}/_cat/indices/${config.es.indexPrefix}-*?v
  kafka          ${config.kafka.brokers.join(',')}  topics ${config.kafka.eventsTopic}, ${config.kafka.dlqTopic}, ${config.kafka.alertsTopic}

  ingest key (acme, server) ${ingestKey}
  API key (product-wide)   ${productKey}
  API key (acme admin)     ${tenantKey}

${demoSuggestions({ queryUrl, productKey, tenantKey })
  .map((command, i) => `  ${i === 0 ? 'try:' : '    '} ${command}`)
  .join('\n')}
`)
      await new Promise(() => {})
    })
}
