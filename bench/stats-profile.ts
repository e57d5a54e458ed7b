import { loadConfig } from '../core/config.ts'
import { createEsClient } from '../core/es.ts'
import { isoDay } from '../core/retention.ts'
import { statsNoiseSecret } from '../query/anonymity.ts'
import { readRollupRows } from '../query/rollups/store.ts'
import { summaryStats } from '../query/stats/engine.ts'

/**
 * Where a rollup-path statistics answer spends its time: Elasticsearch (`took`, the server's own
 * figure), the transfer and JSON parsing, and spor's decoding and merging. `node --import tsx
 * bench/stats-profile.ts --prefix benchstats` after a statistics bench run left its data set.
 */
const prefix = process.argv[process.argv.indexOf('--prefix') + 1] ?? 'benchstats'
const config = loadConfig({
  SPOR_ES_URL: process.env.SPOR_ES_URL ?? 'http://127.0.0.1:9200',
  SPOR_INDEX_PREFIX: prefix,
  SPOR_PSEUDONYM_KEY: 'bench-only-pseudonym-key-0123456789abcdef',
})
const es = createEsClient(config)
const now = new Date()
const days = Array.from({ length: 30 }, (_, i) => isoDay(new Date(now.getTime() - (30 - i) * 86_400_000)))
let took = 0
es.diagnostic.on('response', (_err, result) => {
  took += (result?.body as { took?: number } | undefined)?.took ?? 0
})
for (let run = 0; run < 5; run++) {
  took = 0
  let started = performance.now()
  const cpu = process.cpuUsage()
  // The rows a summary reads (engine.ts summaryStats): totals and the two login event types.
  const read = await readRollupRows(es, {
    prefix,
    days,
    dims: ['total', 'event_type'],
    modules: ['*'],
    keys: { event_type: ['session.login', 'session.login_failed'] },
    minUsers: 5,
  })
  const readMs = performance.now() - started
  const { user, system } = process.cpuUsage(cpu)
  const esMs = took
  took = 0
  started = performance.now()
  await summaryStats(
    {
      es,
      prefix,
      k: 5,
      noiseSd: 1,
      noiseSecret: statsNoiseSecret(config),
      rawDays: 3,
      maxRangeDays: 800,
      now,
      statsRetentionDays: 760,
      clientUserTenants: [],
    },
    { from: days[0]!, to: days.at(-1)!, source: 'rollup' },
  )
  const summaryMs = performance.now() - started
  console.log(
    `rows ${read.rows.length}: read ${readMs.toFixed(0)} ms (Elasticsearch took ${esMs} ms, spor CPU ${((user + system) / 1000).toFixed(0)} ms: parse, decode); ` +
      `whole summary, cold (no row cache) ${summaryMs.toFixed(0)} ms (Elasticsearch took ${took} ms)`,
  )
}
await es.close()
