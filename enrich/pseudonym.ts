import { createHmac } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { SporError } from '../core/errors.ts'

/** HMAC-SHA256 wants a key at least as long as its output; a shorter one is a configuration mistake. */
const MIN_KEY_BYTES = 32
/** 22 base64url characters = 132 bits: collision-free at any realistic user count, still short. */
const PSEUDONYM_CHARS = 22
/** Bytes a cache entry is charged: its key text (UTF-16) and pseudonym, plus the LRU's own slots. */
const ENTRY_OVERHEAD_BYTES = 120

export interface PseudonymizerOptions {
  /**
   * Pseudonyms kept in memory per (tenant, value), least recently used dropped first; 0 = none.
   * An HMAC costs a few µs and a busy tenant's events come from a small set of active users and
   * devices, so the ingest hot path keeps one (enrich/index.ts). The cache belongs to this key:
   * a rotated key is a new pseudonymizer with an empty cache, never a stale answer.
   */
  cacheSize?: number
  /** Bound in bytes as well: values come from clients (ids up to 128 characters). */
  cacheMaxBytes?: number
}

/**
 * Pseudonymous ids for derived data (DESIGN: "keyed HMAC per tenant"). Each tenant gets its own
 * key derived from the master key, so the same person in two tenants gets unrelated pseudonyms
 * and one tenant's ids cannot be joined with another's (S11). Throws at start-up on a short key.
 */
export function createPseudonymizer(
  masterKey: Buffer,
  options: PseudonymizerOptions = {},
): (tenant: string, value: string) => string {
  if (masterKey.length < MIN_KEY_BYTES) {
    throw new SporError('SPOR_ERR_CONFIG', `pseudonym master key must be at least ${MIN_KEY_BYTES} bytes`)
  }
  // A private copy: a caller that later zeroes or reuses its buffer must not change every pseudonym.
  const key = Buffer.from(masterKey)
  // Tenants are a short, bounded list (customers), so an unbounded Map is fine.
  const tenantKeys = new Map<string, Buffer>()
  const derive = (tenant: string, value: string): string => {
    let tenantKey = tenantKeys.get(tenant)
    if (tenantKey === undefined) {
      tenantKey = createHmac('sha256', key).update(`spor/tenant/${tenant}`).digest()
      tenantKeys.set(tenant, tenantKey)
    }
    return createHmac('sha256', tenantKey).update(value).digest('base64url').slice(0, PSEUDONYM_CHARS)
  }
  const cacheSize = options.cacheSize ?? 0
  if (cacheSize <= 0) return derive
  const cache = new LRUCache<string, string>({
    max: cacheSize,
    maxSize: options.cacheMaxBytes ?? cacheSize * 256,
    sizeCalculation: (_pseudonym, entry) => 2 * (entry.length + PSEUDONYM_CHARS) + ENTRY_OVERHEAD_BYTES,
  })
  return function pseudonym(tenant, value) {
    // The tenant's length first, so no (tenant, value) pair can spell another pair's entry.
    const entry = `${tenant.length}:${tenant}${value}`
    let cached = cache.get(entry)
    if (cached === undefined) {
      cached = derive(tenant, value)
      cache.set(entry, cached)
    }
    return cached
  }
}
