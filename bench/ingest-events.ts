import type { SporEvent } from '../core/event-schema.ts'
import { generateTraffic } from '../generate/traffic.ts'

/**
 * The events of the ingest bench: four tenants of 500 users over the 20 days before `end`, the
 * first `count`. The per-step bench (stages.ts) times the very same events one step at a time.
 */
export function ingestBenchEvents(count: number, end = new Date()): SporEvent[] {
  return [
    ...generateTraffic({
      seed: 5,
      tenants: ['acme', 'globex', 'initech', 'umbrella'],
      usersPerTenant: 500,
      days: 20,
      end,
    }),
  ].slice(0, count)
}
