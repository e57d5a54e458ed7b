import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { runEnrichBench } from './enrich.ts'
import type { SteadyWindow } from './indexing-window.ts'
import { AFTER, BEFORE, type IngestRun, median, runIngestBench } from './ingest.ts'
import type { ServerLoad } from './server-cpu.ts'
import { runStageBench, type StageAllocation } from './stages.ts'

/**
 * `npm run bench [-- --only enrich,stages,ingest,stats,detect]`: every figure is measured in one run on
 * this machine and reported next to its baseline as a ratio, because absolute numbers on a
 * shared 2-core machine say little on their own.
 */
const only =
  process.argv
    .find((a) => a.startsWith('--only='))
    ?.slice(7)
    .split(',') ??
  (process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1]!.split(',') : undefined)
const wants = (name: string) => !only || only.includes(name)
/** `--ingest-cpu-prof=DIR`: the `spor ingest` children of this code write V8 CPU profiles to DIR. */
const cpuProfDir = process.argv.find((a) => a.startsWith('--ingest-cpu-prof='))?.slice(18)
/** `--ingest-node-args="--max-semi-space-size=4 …"`: Node options for those children (to try GC settings). */
const ingestNodeArgs =
  process.argv
    .find((a) => a.startsWith('--ingest-node-args='))
    ?.slice(19)
    .split(' ')
    .filter(Boolean) ?? []
/** `--isolate-es`: the local Elasticsearch node on CPU 0 alone, everything else on the others. */
const isolateEs = process.argv.includes('--isolate-es')
/** `--rounds=N`: the before and after rows N times each, alternating; medians reported. */
const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 1)
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds=N needs a whole number of at least 1')
const fmt = (n: number) => Math.round(n).toLocaleString('en-US')

/** Where the servers' CPU went, for one row (empty when they are not processes on this host). */
function serverLine({ es, kafka }: ServerLoad): string {
  const parts: string[] = []
  if (es)
    parts.push(
      `Elasticsearch ${fmt(es.microsPerEvent)} µs CPU per document (${fmt(es.coreShare)} % of a core)`,
    )
  if (kafka) parts.push(`broker ${fmt(kafka.microsPerEvent)} µs per event (${fmt(kafka.coreShare)} %)`)
  return parts.join(', ')
}

/** The steady window of a row: its rate and how busy each process was in it. */
function windowLine(w: SteadyWindow): string {
  const names: Record<string, string> = { es: 'Elasticsearch', kafka: 'broker', spor: '`spor ingest`' }
  const busy = Object.entries(w.busy)
    .map(([name, share]) => `${names[name] ?? name} ${fmt(share)} %`)
    .join(', ')
  return `steady (${fmt(100 * w.from)}–${fmt(100 * w.to)} % of the documents indexed, by the node's count): ${fmt(w.perSecond)} events/s; busy: ${busy}`
}

/** Allocation per step, measured in a child with the GC exposed and a young generation that holds a round. */
function stageAllocations(): StageAllocation[] {
  const flags = ['--expose-gc', '--min-semi-space-size=256', '--max-semi-space-size=256', '--import', 'tsx']
  const script = fileURLToPath(new URL('./stages.ts', import.meta.url))
  const out = execFileSync(process.execPath, [...flags, script, 'alloc'], { encoding: 'utf8' })
  return JSON.parse(out.trim().split('\n').at(-1)!) as StageAllocation[]
}

if (wants('enrich')) {
  const r = runEnrichBench(Number(process.env.SPOR_BENCH_ENRICH_EVENTS ?? 50_000))
  console.log(`\nenrichment (${fmt(r.events)} events, one core)`)
  console.log(`  UA cache on   ${fmt(r.cachedPerSecond)} events/s`)
  console.log(`  UA cache off  ${fmt(r.uncachedPerSecond)} events/s`)
  console.log(`  ratio         ${(r.cachedPerSecond / r.uncachedPerSecond).toFixed(2)}× with the cache`)
}

if (wants('stages')) {
  const count = 30_000
  const allocations = stageAllocations()
  console.log(
    `\ningest hot path by step (${fmt(count)} events, one core, UA cache on): CPU and JS heap allocated per event`,
  )
  for (const s of runStageBench(count)) {
    const bytes = allocations.find((a) => a.stage === s.stage)?.bytesPerEvent
    console.log(
      `  ${s.stage.padEnd(48)} ${s.microsPerEvent.toFixed(2).padStart(7)} µs ${bytes === undefined ? '' : `${fmt(bytes).padStart(7)} bytes`}`,
    )
  }
}

if (wants('ingest')) {
  const r = await runIngestBench(Number(process.env.SPOR_BENCH_INGEST_EVENTS ?? 100_000), {
    nodeArgs: [...ingestNodeArgs, ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [])],
    isolateEs,
    rounds,
  })
  const pct = (n: number) => `${((100 * n) / r.rawBulkPerSecond).toFixed(0)}%`
  const around = (run: IngestRun) => `${((100 * run.steadyPerSecond) / run.ceilingAround).toFixed(0)}%`
  console.log(
    `\ningest end to end (${fmt(r.events)} events, \`spor ingest\` as its own process, Kafka → enrich → Elasticsearch, committed)`,
  )
  console.log(
    `  the node held ${fmt(r.otherShards)} other shards; ${r.isolatedEs ? 'Elasticsearch alone on CPU 0, the broker, the bench and `spor ingest` on the other CPUs' : 'every process on every CPU'}`,
  )
  console.log(
    `  raw _bulk ceiling  ${fmt(r.rawBulkPerSecond)} events/s at its highest (same documents pre-serialised, ${r.bulkConcurrency} requests at once; ${r.rawBulk.length} passes, one before the first spor row and one after each: ${r.rawBulk.map((pass) => fmt(pass.perSecond)).join(', ')})`,
  )
  r.rawBulk.forEach((raw, i) => {
    const line = serverLine(raw.servers)
    if (line) console.log(`  ${''.padEnd(18)} pass ${i + 1}: ${line}`)
    if (raw.steady) console.log(`  ${''.padEnd(18)}         ${windowLine(raw.steady)}`)
  })
  const rows = [...r.runs, ...('label' in r.zstd ? [r.zstd] : [])]
  for (const run of rows) {
    console.log(
      `  ${run.label.padEnd(28)} ${fmt(run.steadyPerSecond).padStart(7)} events/s steady = ${around(run).padStart(4)} of the ceiling around it (${fmt(run.ceilingAround)}/s), ${pct(run.steadyPerSecond)} of the highest; ${fmt(run.cpuMicrosPerEvent)} µs CPU of \`spor ingest\` per event (${fmt(run.coreShare)} % of a core); ${fmt(run.fromStartPerSecond)}/s from process start; peak RSS (VmHWM) ${run.peakRssMb.toFixed(0)} MB`,
    )
    const servers = serverLine(run.servers)
    if (servers) console.log(`  ${''.padEnd(28)} meanwhile: ${servers}`)
    if (run.steady) {
      const share = run.steadyCeilingAround
        ? ` = ${fmt((100 * run.steady.perSecond) / run.steadyCeilingAround)}% of the raw passes around it in the same window (${fmt(run.steadyCeilingAround)}/s)`
        : ''
      console.log(`  ${''.padEnd(28)} ${windowLine(run.steady)}${share}`)
    }
    if (run.inFlightMb) {
      console.log(
        `  ${''.padEnd(28)} bulk bytes in flight: p50 ${run.inFlightMb.p50.toFixed(1)} MB, p90 ${run.inFlightMb.p90.toFixed(1)} MB (scraped 4 times a second)`,
      )
    }
    const { bulk, batches } = run.requests
    if (bulk > 0) {
      console.log(
        `  ${''.padEnd(28)} ${bulk} bulk requests of ${fmt(r.events / bulk)} events on average; ${batches} Kafka batches of ${fmt(r.events / Math.max(1, batches))}`,
      )
    }
    const m = run.memory
    if (m) {
      const other = m.rssMb - m.heapTotalMb - m.externalMb
      console.log(
        `  ${''.padEnd(28)} at the highest sampled RSS (${m.rssMb.toFixed(0)} MB): JS heap ${m.heapUsedMb.toFixed(0)} MB used of ${m.heapTotalMb.toFixed(0)} MB, external (Buffers) ${m.externalMb.toFixed(0)} MB, code/stacks/other ${other.toFixed(0)} MB`,
      )
    }
  }
  if (!('label' in r.zstd)) console.log(`  zstd batches: skipped (${r.zstd.skipped})`)
  if (rounds > 1) {
    console.log(`  medians of ${rounds} rounds (before and after alternating), min–max:`)
    for (const label of [BEFORE, AFTER]) {
      const mine = r.runs.filter((run) => run.label === label)
      if (mine.length === 0) continue
      const range = (values: number[], unit: string) =>
        `${fmt(median(values))} ${unit} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`
      const rates = mine.map((run) => run.steadyPerSecond)
      console.log(
        `  ${label.padEnd(28)} ${range(rates, 'events/s')} = ${fmt(median(mine.map((run) => (100 * run.steadyPerSecond) / run.ceilingAround)))}% of the ceiling around each (median), ${pct(median(rates))} of the highest; ${range(
          mine.map((run) => run.cpuMicrosPerEvent),
          'µs CPU per event',
        )}; VmHWM ${range(
          mine.map((run) => run.peakRssMb),
          'MB',
        )}`,
      )
      const windowShares = mine.flatMap((run) =>
        run.steady && run.steadyCeilingAround ? [(100 * run.steady.perSecond) / run.steadyCeilingAround] : [],
      )
      if (windowShares.length > 0) {
        console.log(
          `  ${''.padEnd(28)} steady window: ${range(windowShares, '%')} of the raw passes around each`,
        )
      }
    }
  }
  const l = r.latency
  console.log(
    `  produce → searchable at ${fmt(l.ratePerSecond)} events/s (half the measured rate): p50 ${fmt(l.p50Ms)} ms, p95 ${fmt(l.p95Ms)} ms, max ${fmt(l.maxMs)} ms (${fmt(l.samples)} events; 1 s refresh interval included)`,
  )
}

for (const [name, module, fn] of [
  ['stats', './stats.ts', 'runStatsBench'],
  ['detect', './detect.ts', 'runDetectBench'],
] as const) {
  if (!wants(name)) continue
  const loaded = await import(module).catch(() => undefined)
  if (loaded?.[fn]) await loaded[fn]()
}
process.exit(0)
