import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Child process of the statistics bench: runs the statistics bench of an older checkout of spor
 * (SPOR_BENCH_BASELINE_ROOT, e.g. the pre-issue-13 commit 3775516) on the same data set, read
 * through per-day aliases, and writes its figures as JSON to SPOR_BENCH_BASELINE_OUT. A separate
 * process so that the old and the new code never share module state (metric registries).
 * The long-range questions the old code is known to refuse are asked too and their outcome noted.
 */
const root = process.env.SPOR_BENCH_BASELINE_ROOT as string
const out = process.env.SPOR_BENCH_BASELINE_OUT as string
const options = JSON.parse(process.env.SPOR_BENCH_BASELINE_OPTIONS ?? '{}') as {
  esUrl: string
  events: number
  days: number
  prefix: string
  rawRuns: number
  rollupRuns: number
  longQueries: [string, string][]
}

const load = (path: string) => import(join(root, path))
const bench = await load('bench/stats.ts')
const print = console.table
console.table = () => {}
const result = await bench.runStatsBench({ ...options, reuse: true })
console.table = print

// The long-range questions, against the old query service on the same rollups.
const { loadConfig } = await load('core/config.ts')
const { createEsClient } = await load('core/es.ts')
const { KeyStore } = await load('core/keys.ts')
const { createLogger } = await load('core/logger.ts')
const { fixedClock } = await load('core/clock.ts')
const { buildQueryApp } = await load('query/app.ts')
const config = loadConfig({
  SPOR_ES_URL: options.esUrl,
  SPOR_INDEX_PREFIX: options.prefix,
  SPOR_PSEUDONYM_KEY: 'bench-only-pseudonym-key-0123456789abcdef',
  SPOR_LOG_LEVEL: 'warn',
  SPOR_ES_TIMEOUT_MS: String(30 * 60_000),
  SPOR_ROLLUP_EVERY_MS: '0',
  SPOR_QUERY_RATE_LIMIT: '1000000',
})
const es = createEsClient(config)
const keys = new KeyStore(es, options.prefix, 60_000)
await keys.ensureIndex()
const { key } = await keys.create({ kind: 'api', scope: 'product', name: 'bench-baseline' })
const app = await buildQueryApp({
  config,
  es,
  keys,
  log: createLogger('bench-stats-baseline', 'warn'),
  clock: fixedClock(new Date().toISOString()),
})
const long: { name: string; samples: number[]; status: number; error?: string }[] = []
for (const [name, url] of options.longQueries) {
  const samples: number[] = []
  let status = 0
  for (let i = 0; i < options.rollupRuns; i++) {
    const started = performance.now()
    const response = await app.inject({ url, headers: { authorization: `Bearer ${key}` } })
    status = response.statusCode
    if (status !== 200) {
      long.push({ name, samples, status, error: (response.json() as { code?: string }).code ?? '' })
      break
    }
    samples.push(performance.now() - started)
  }
  if (status === 200) long.push({ name, samples, status })
}
await app.close()
await es.close()
writeFileSync(out, JSON.stringify({ result, long }))
process.exit(0)
