import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Client } from '@elastic/elasticsearch'
import { LRUCache } from 'lru-cache'
import { SporError } from './errors.ts'
import { ensureSingleIndex } from './es.ts'
import {
  ensureScopeMappings,
  type IngestProfile,
  type IngestScopeInput,
  ingestScopeFields,
} from './key-scopes.ts'

/**
 * Access keys for the collector (ingest keys, one tenant) and the APIs (tenant-scoped or
 * product-wide). Only a SHA-256 of the secret is stored (S8): the secret is 256 random bits, so a
 * fast hash is enough and a leaked index reveals no usable key.
 *
 * Format: `spor_<kind>_<id>_<secret>`; the id finds the record, the secret proves possession.
 */
export type KeyKind = 'ingest' | 'api'
export type KeyScope = 'tenant' | 'product'

export interface KeyRecord {
  id: string
  kind: KeyKind
  scope: KeyScope
  /** The tenant a tenant-scoped key (and every ingest key) is bound to. */
  tenant?: string
  name: string
  hash: string
  created_at: string
  revoked_at?: string
  /** Ingest keys: what the holder may send (absent on keys made before scopes: browser). */
  ingest_profile?: IngestProfile
  /** Ingest keys: an explicit allow-list of event types (`page.view`, `feature.*`), narrowing the profile's. */
  event_types?: string[]
  /**
   * Web origins (`https://app.example.com`) whose pages may use this ingest key from a browser
   * (CORS). Absent or empty: no browser may use the key; server-side senders are unaffected.
   */
  allowed_origins?: string[]
}

export type VerifiedKey = Omit<KeyRecord, 'hash'>

const KIND_TAG: Record<KeyKind, string> = { ingest: 'ik', api: 'ak' }
const KEY_PATTERN = /^spor_(ik|ak)_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$/

/** The key text's parts when it has the shape of a spor key; a single anchored, linear regex. */
export function parseKeyText(
  plain: string | undefined,
): { tag: string; id: string; secret: string } | undefined {
  if (!plain || plain.length > 128) return undefined
  const match = KEY_PATTERN.exec(plain)
  return match ? { tag: match[1]!, id: match[2]!, secret: match[3]! } : undefined
}

export function keysIndex(prefix: string): string {
  return `${prefix}-keys`
}

export const KEYS_MAPPINGS = {
  dynamic: 'strict' as const,
  properties: {
    id: { type: 'keyword' as const },
    kind: { type: 'keyword' as const },
    scope: { type: 'keyword' as const },
    tenant: { type: 'keyword' as const },
    name: { type: 'keyword' as const },
    hash: { type: 'keyword' as const, index: false },
    created_at: { type: 'date' as const },
    revoked_at: { type: 'date' as const },
    allowed_origins: { type: 'keyword' as const },
  },
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

export class KeyStore {
  readonly #es: Client
  readonly #index: string
  readonly #cache: LRUCache<string, { record: KeyRecord | null }>
  readonly #unknown: LRUCache<string, true>

  constructor(es: Client, indexPrefix: string, cacheMs: number) {
    this.#es = es
    this.#index = keysIndex(indexPrefix)
    // Cached both ways (found / unknown) so a flood of bad keys cannot hammer Elasticsearch;
    // revocation takes effect within cacheMs. Unknown ids live in a cache of their own: a flood of
    // random well-formed keys then evicts only other unknown ids, never a real key.
    this.#cache = new LRUCache({ max: 10_000, ttl: Math.max(1, cacheMs) })
    this.#unknown = new LRUCache({ max: 10_000, ttl: Math.max(1, cacheMs) })
  }

  async ensureIndex(): Promise<void> {
    await ensureSingleIndex(this.#es, this.#index, KEYS_MAPPINGS)
    await ensureScopeMappings(this.#es, this.#index)
    // An index created by an older spor lacks fields added since; new fields are additive, so
    // putting the whole mapping again is idempotent and never conflicts.
    await this.#es.indices.putMapping({ index: this.#index, properties: KEYS_MAPPINGS.properties })
  }

  /** Creates a key; the plain key is returned once and never stored. */
  async create(input: {
    kind: KeyKind
    scope: KeyScope
    tenant?: string
    name: string
    /** Ingest keys only: `browser` (default) or `server`, optionally narrowed by `eventTypes`. */
    scopes?: IngestScopeInput
    allowedOrigins?: readonly string[]
  }): Promise<{ key: string; record: VerifiedKey }> {
    if (input.kind === 'ingest' && input.scope !== 'tenant')
      throw new SporError('SPOR_ERR_BAD_REQUEST', 'ingest keys are always tenant-scoped')
    if (input.scope === 'tenant' && !input.tenant)
      throw new SporError('SPOR_ERR_BAD_REQUEST', 'a tenant-scoped key needs a tenant')
    if (input.allowedOrigins?.length && input.kind !== 'ingest')
      throw new SporError('SPOR_ERR_BAD_REQUEST', 'allowed origins apply to ingest keys only')
    const scopes = ingestScopeFields(input.kind, input.scopes)
    const allowedOrigins = input.allowedOrigins?.map(normalizeOrigin)
    await this.ensureIndex()
    const id = randomBytes(8).toString('hex')
    const secret = randomBytes(32).toString('base64url')
    const record: KeyRecord = {
      id,
      kind: input.kind,
      scope: input.scope,
      tenant: input.scope === 'tenant' ? input.tenant : undefined,
      name: input.name,
      hash: hashSecret(secret),
      created_at: new Date().toISOString(),
      ...scopes,
      ...(allowedOrigins?.length ? { allowed_origins: [...new Set(allowedOrigins)] } : {}),
    }
    await this.#es.index({ index: this.#index, id, document: record, refresh: 'wait_for' })
    const { hash: _hash, ...visible } = record
    return { key: `spor_${KIND_TAG[input.kind]}_${id}_${secret}`, record: visible }
  }

  async revoke(id: string): Promise<boolean> {
    try {
      await this.#es.update({
        index: this.#index,
        id,
        doc: { revoked_at: new Date().toISOString() },
        refresh: 'wait_for',
      })
      this.#cache.delete(id)
      this.#unknown.delete(id)
      return true
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return false
      throw error
    }
  }

  async list(): Promise<VerifiedKey[]> {
    await this.ensureIndex()
    const result = await this.#es.search<KeyRecord>({
      index: this.#index,
      size: 1000,
      sort: [{ created_at: 'asc' }],
    })
    return result.hits.hits.map((hit) => {
      const { hash: _hash, ...visible } = hit._source!
      return visible
    })
  }

  /** The key's record when the key is well-formed, known, of the wanted kind and not revoked. */
  async verify(plain: string | undefined, kind: KeyKind): Promise<VerifiedKey | undefined> {
    const parsed = parseKeyText(plain)
    if (!parsed || parsed.tag !== KIND_TAG[kind]) return undefined
    const { id, secret } = parsed
    const record = await this.#lookup(id)
    if (!record || record.kind !== kind || record.revoked_at) return undefined
    const expected = Buffer.from(record.hash, 'hex')
    const actual = Buffer.from(hashSecret(secret), 'hex')
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined
    const { hash: _hash, ...visible } = record
    return visible
  }

  async #lookup(id: string): Promise<KeyRecord | null> {
    const cached = this.#cache.get(id)
    if (cached) return cached.record
    if (this.#unknown.get(id)) return null
    let record: KeyRecord | null = null
    try {
      const doc = await this.#es.get<KeyRecord>({ index: this.#index, id })
      record = doc._source ?? null
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error
    }
    if (record) this.#cache.set(id, { record })
    else this.#unknown.set(id, true)
    return record
  }
}

/**
 * An origin exactly as browsers send it in the `Origin` header: `scheme://host[:port]`, lower
 * case, default port omitted, no path, no wildcard. Anything else is refused at key creation, so
 * the per-request check is a plain string comparison.
 */
export function normalizeOrigin(input: string): string {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    throw new SporError('SPOR_ERR_BAD_REQUEST', `"${input}" is not an origin (scheme://host[:port])`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new SporError('SPOR_ERR_BAD_REQUEST', `origin "${input}" must be http:// or https://`)
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== ''))
    throw new SporError(
      'SPOR_ERR_BAD_REQUEST',
      `origin "${input}" must not have a path, query or credentials`,
    )
  if (input.replace(/\/$/, '').toLowerCase() !== url.origin)
    throw new SporError(
      'SPOR_ERR_BAD_REQUEST',
      `origin "${input}" is not in canonical form; use "${url.origin}"`,
    )
  return url.origin
}
