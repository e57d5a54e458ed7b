import { createHmac } from 'node:crypto'
import { SporError } from '../core/errors.ts'

/** HMAC-SHA256 wants a key at least as long as its output; a shorter one is a configuration mistake. */
const MIN_KEY_BYTES = 32
/** 22 base64url characters = 132 bits: collision-free at any realistic user count, still short. */
const PSEUDONYM_CHARS = 22

/**
 * Pseudonymous ids for derived data (DESIGN: "keyed HMAC per tenant"). Each tenant gets its own
 * key derived from the master key, so the same person in two tenants gets unrelated pseudonyms
 * and one tenant's ids cannot be joined with another's (S11). Throws at start-up on a short key.
 */
export function createPseudonymizer(masterKey: Buffer): (tenant: string, value: string) => string {
  if (masterKey.length < MIN_KEY_BYTES) {
    throw new SporError('SPOR_ERR_CONFIG', `pseudonym master key must be at least ${MIN_KEY_BYTES} bytes`)
  }
  // A private copy: a caller that later zeroes or reuses its buffer must not change every pseudonym.
  const key = Buffer.from(masterKey)
  // Tenants are a short, bounded list (customers), so an unbounded Map is fine.
  const tenantKeys = new Map<string, Buffer>()
  return function pseudonym(tenant, value) {
    let tenantKey = tenantKeys.get(tenant)
    if (tenantKey === undefined) {
      tenantKey = createHmac('sha256', key).update(`spor/tenant/${tenant}`).digest()
      tenantKeys.set(tenant, tenantKey)
    }
    return createHmac('sha256', tenantKey).update(value).digest('base64url').slice(0, PSEUDONYM_CHARS)
  }
}
