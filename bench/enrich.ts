import type { SporEvent } from '../core/event-schema.ts'
import { createEnrichers, enrichEvent } from '../enrich/index.ts'
import { generateTraffic } from '../generate/traffic.ts'

export interface EnrichBenchResult {
  events: number
  cachedPerSecond: number
  uncachedPerSecond: number
}

function measure(events: SporEvent[], cacheSize: number): number {
  const enrichers = createEnrichers({ uaCacheSize: cacheSize, pseudonymKey: Buffer.alloc(32, 1) })
  const now = new Date()
  // Warm up the JIT (and, for the cached run, the cache) before timing.
  for (const e of events.slice(0, 2000)) enrichEvent(e, 'short', enrichers, now)
  const started = process.hrtime.bigint()
  for (const e of events) enrichEvent(e, 'short', enrichers, now)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return events.length / seconds
}

/**
 * Enrichment throughput (UA parse + client hints + geo + IP truncation + pseudonyms + document),
 * with the UA cache and without it, on the same generated events in one run.
 */
export function runEnrichBench(count = 50_000): EnrichBenchResult {
  const events = [
    ...generateTraffic({
      seed: 99,
      tenants: ['acme', 'globex', 'initech'],
      usersPerTenant: 400,
      days: 30,
      end: new Date(),
    }),
  ].slice(0, count)
  const uncachedPerSecond = measure(events, 0)
  const cachedPerSecond = measure(events, 5000)
  return { events: events.length, cachedPerSecond, uncachedPerSecond }
}
