import { runEnrichBench } from './enrich.ts'
import { runIngestBench } from './ingest.ts'

/**
 * `npm run bench [-- --only enrich,ingest,stats,detect]`: every figure is measured in one run on
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
const fmt = (n: number) => Math.round(n).toLocaleString('en-US')

if (wants('enrich')) {
  const r = runEnrichBench(Number(process.env.SPOR_BENCH_ENRICH_EVENTS ?? 50_000))
  console.log(`\nenrichment (${fmt(r.events)} events, one core)`)
  console.log(`  UA cache on   ${fmt(r.cachedPerSecond)} events/s`)
  console.log(`  UA cache off  ${fmt(r.uncachedPerSecond)} events/s`)
  console.log(`  ratio         ${(r.cachedPerSecond / r.uncachedPerSecond).toFixed(2)}× with the cache`)
}

if (wants('ingest')) {
  const r = await runIngestBench(Number(process.env.SPOR_BENCH_INGEST_EVENTS ?? 100_000))
  console.log(`\ningest end to end (${fmt(r.events)} events, Kafka → enrich → Elasticsearch, committed)`)
  console.log(`  spor ingest   ${fmt(r.endToEndPerSecond)} events/s from start (group join included)`)
  console.log(`                ${fmt(r.steadyPerSecond)} events/s from the first indexed document`)
  console.log(
    `  raw _bulk     ${fmt(r.rawBulkPerSecond)} events/s (same documents, pre-serialised; ${fmt(r.rawBulkSpread[0])} before, ${fmt(r.rawBulkSpread[1])} after)`,
  )
  console.log(
    `  ratio         ${((100 * r.steadyPerSecond) / r.rawBulkPerSecond).toFixed(0)}% of the bulk ceiling (steady state)`,
  )
  console.log(`  peak RSS      ${r.peakRssMb.toFixed(0)} MB (bench process, geo database included)`)
  const rej = r.withRejects
  console.log(
    `  1 in ${rej.rejectEvery} rejected  ${fmt(rej.steadyPerSecond)} events/s steady (${fmt(rej.batchesWithRejects)} batches committed with their dead letters in a transaction), ${((100 * rej.steadyPerSecond) / r.steadyPerSecond).toFixed(0)}% of the clean run`,
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
