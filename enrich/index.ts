import type { Enrichers } from './enrich-event.ts'
import { createGeoLookup } from './geo.ts'
import { createPseudonymizer } from './pseudonym.ts'
import { createUserAgentParser } from './user-agent.ts'

export type { Enrichers } from './enrich-event.ts'
export { enrichEvent } from './enrich-event.ts'

/** Builds the enrichment steps once per process (the geo database and UA cache live in memory). */
export function createEnrichers(options: { uaCacheSize: number; pseudonymKey: Buffer }): Enrichers {
  return {
    parseUserAgent: createUserAgentParser({ cacheSize: options.uaCacheSize }),
    lookupGeo: createGeoLookup(),
    pseudonym: createPseudonymizer(options.pseudonymKey),
  }
}
