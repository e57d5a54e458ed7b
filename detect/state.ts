import { LRUCache } from 'lru-cache'
import type { Finding } from './findings.ts'
import type { RuleBook } from './rule-config.ts'
import { MAX_ENTRIES, retainMs, rulesFor } from './rules.ts'
import { type Signal, type SignalEvent, STREAM_KINDS, type StreamKind } from './signal.ts'

/**
 * Per-key windows, bounded twice: each key keeps at most MAX_ENTRIES[kind] events within its
 * rules' longest window, and each stream kind keeps at most `maxKeys` keys (least recently used
 * evicted, idle keys expire). A million distinct attacking IPs therefore cost at most `maxKeys`
 * small windows; the evicted ones were single-event keys that no rule could fire on anyway.
 */
interface KeyWindow {
  entries: SignalEvent[]
}

export interface DetectionStateOptions {
  maxKeys: number
  /**
   * Keys one tenant may hold per stream kind (default: maxKeys). At its quota a tenant evicts its
   * own least recently used key, never another tenant's: one tenant's flood of usernames or IPs
   * cannot erase another's brute-force windows. Size maxKeys ≥ tenants × quota for full isolation;
   * beyond that the global bound still evicts least recently used keys across tenants.
   */
  maxKeysPerTenant?: number
  rules: RuleBook
}

export class DetectionState {
  readonly #caches = new Map<StreamKind, LRUCache<string, KeyWindow>>()
  /** Per kind and tenant: that tenant's keys in recency order, bounded by its quota. */
  readonly #tenantKeys = new Map<StreamKind, Map<string, LRUCache<string, true>>>()
  readonly #perTenant: number
  readonly #rules: RuleBook
  #duplicates = 0

  constructor(options: DetectionStateOptions) {
    this.#rules = options.rules
    this.#perTenant = Math.min(options.maxKeysPerTenant ?? options.maxKeys, options.maxKeys)
    const longest = options.rules.longestWindowMs()
    for (const kind of STREAM_KINDS) {
      const tenants = new Map<string, LRUCache<string, true>>()
      this.#tenantKeys.set(kind, tenants)
      this.#caches.set(
        kind,
        new LRUCache<string, KeyWindow>({
          max: options.maxKeys,
          // Wall-clock expiry of idle keys; event-time pruning happens per key on each event.
          ttl: Math.max(longest, 60_000),
          ttlAutopurge: false,
          updateAgeOnGet: true,
          // Gone from the global cache (evicted, expired): gone from its tenant's quota too.
          dispose: (_window, cacheKey, reason) => {
            // 'delete' comes from a tenant's own quota eviction, which already updated its list.
            if (reason !== 'evict' && reason !== 'expire') return
            const [tenant] = splitCacheKey(cacheKey)
            const keys = tenants.get(tenant)
            keys?.delete(cacheKey)
            if (keys?.size === 0) tenants.delete(tenant)
          },
        }),
      )
    }
  }

  /** Records that `cacheKey` of `tenant` was used; at the quota the tenant's own oldest key goes. */
  #touch(kind: StreamKind, tenant: string, cacheKey: string): void {
    const tenants = this.#tenantKeys.get(kind)!
    let keys = tenants.get(tenant)
    if (!keys) {
      const cache = this.#caches.get(kind)!
      keys = new LRUCache<string, true>({
        max: this.#perTenant,
        dispose: (_v, evicted, reason) => {
          if (reason === 'evict') cache.delete(evicted)
        },
      })
      tenants.set(tenant, keys)
    }
    keys.set(cacheKey, true)
  }

  /**
   * Adds a signal to its key's window and runs the key's rules. A signal already in the window
   * (a re-delivered or replayed event) changes nothing and yields nothing.
   */
  apply(signal: Signal): Finding[] {
    const cache = this.#caches.get(signal.kind)!
    const cacheKey = `${signal.e.tenant}|${signal.key}`
    let window = cache.get(cacheKey)
    if (!window) {
      window = { entries: [] }
      cache.set(cacheKey, window)
    }
    this.#touch(signal.kind, signal.e.tenant, cacheKey)
    if (!insertSorted(window.entries, signal.e)) {
      this.#duplicates++
      return []
    }
    const settings = this.#rules.for(signal.e.tenant)
    prune(window, signal.e.ts - retainMs(signal.kind, settings), MAX_ENTRIES[signal.kind])
    const findings: Finding[] = []
    for (const rule of rulesFor(signal.kind, signal.key)) {
      const found = rule(window.entries, signal.e, settings)
      if (found) findings.push(markClientReported(found, window.entries))
    }
    return findings
  }

  /** Keys one tenant holds in one stream kind (for tests and metrics). */
  tenantSize(kind: StreamKind, tenant: string): number {
    return this.#tenantKeys.get(kind)!.get(tenant)?.size ?? 0
  }

  /** Keys held per stream kind (for metrics and the memory benchmark). */
  sizes(): Record<StreamKind, number> {
    const out = {} as Record<StreamKind, number>
    for (const [kind, cache] of this.#caches) out[kind] = cache.size
    return out
  }

  get duplicates(): number {
    return this.#duplicates
  }
}

function splitCacheKey(cacheKey: string): [string, string] {
  const bar = cacheKey.indexOf('|')
  return [cacheKey.slice(0, bar), cacheKey.slice(bar + 1)]
}

/**
 * Evidence that came from a browser (client) ingest key is what a client said about itself, not
 * what the product's backend saw: the finding counts those events (`client_reported_events`, in
 * the alert's `counts`) and its explanation says so, so an analyst weighs the alert accordingly.
 */
export function markClientReported(finding: Finding, entries: readonly SignalEvent[]): Finding {
  const evidence = new Set(finding.evidence)
  let client = 0
  for (const e of entries) if (e.client && evidence.has(e.id)) client++
  if (client === 0) return finding
  return {
    ...finding,
    counts: { ...finding.counts, client_reported_events: client },
    explanation: `${finding.explanation} [client-reported: ${client} of ${evidence.size} evidence events came from a browser ingest key and are not confirmed by the product's backend]`,
  }
}

/**
 * Events mostly arrive in order; insert from the end. Returns false for an event already held
 * (same id, hence same time): a duplicate sits among the entries of its own timestamp, so no id
 * set is needed, which halves the memory of the many one-event keys an attack creates.
 */
function insertSorted(entries: SignalEvent[], e: SignalEvent): boolean {
  let i = entries.length
  while (i > 0 && entries[i - 1]!.ts > e.ts) i--
  for (let j = i - 1; j >= 0 && entries[j]!.ts === e.ts; j--) if (entries[j]!.id === e.id) return false
  entries.splice(i, 0, e)
  return true
}

function prune(window: KeyWindow, before: number, max: number): void {
  let drop = 0
  while (drop < window.entries.length && window.entries[drop]!.ts < before) drop++
  drop = Math.max(drop, window.entries.length - max)
  if (drop <= 0) return
  window.entries.splice(0, drop)
}
