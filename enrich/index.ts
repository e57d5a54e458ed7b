import type { Enrichers } from './enrich-event.ts'
import { createGeoLookup, type GeoRecordSource } from './geo.ts'
import { createPseudonymizer } from './pseudonym.ts'
import { createUserAgentParser } from './user-agent.ts'

export type { Enrichers } from './enrich-event.ts'
export { enrichEvent } from './enrich-event.ts'

/**
 * Pseudonyms kept per (tenant, user or device) on the ingest hot path: an HMAC is a few µs, a cache
 * hit a fraction of one, and active users and devices repeat. About 2.5 MB at most (in bytes too).
 */
const PSEUDONYM_CACHE_SIZE = 10_000

/**
 * Builds the enrichment steps once per process (the UA cache lives in memory; the geo database
 * is the process's shared default unless a configured one is passed).
 */
export function createEnrichers(options: {
  uaCacheSize: number
  pseudonymKey: Buffer
  geo?: GeoRecordSource
}): Enrichers {
  return {
    parseUserAgent: createUserAgentParser({ cacheSize: options.uaCacheSize }),
    lookupGeo: createGeoLookup(options.geo),
    pseudonym: createPseudonymizer(options.pseudonymKey, { cacheSize: PSEUDONYM_CACHE_SIZE }),
  }
}
