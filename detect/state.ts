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
  rules: RuleBook
}

export class DetectionState {
  readonly #caches = new Map<StreamKind, LRUCache<string, KeyWindow>>()
  readonly #rules: RuleBook
  #duplicates = 0

  constructor(options: DetectionStateOptions) {
    this.#rules = options.rules
    const longest = options.rules.longestWindowMs()
    for (const kind of STREAM_KINDS) {
      this.#caches.set(
        kind,
        new LRUCache<string, KeyWindow>({
          max: options.maxKeys,
          // Wall-clock expiry of idle keys; event-time pruning happens per key on each event.
          ttl: Math.max(longest, 60_000),
          ttlAutopurge: false,
          updateAgeOnGet: true,
        }),
      )
    }
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
    if (!insertSorted(window.entries, signal.e)) {
      this.#duplicates++
      return []
    }
    const settings = this.#rules.for(signal.e.tenant)
    prune(window, signal.e.ts - retainMs(signal.kind, settings), MAX_ENTRIES[signal.kind])
    const findings: Finding[] = []
    for (const rule of rulesFor(signal.kind, signal.key)) {
      const found = rule(window.entries, signal.e, settings)
      if (found) findings.push(found)
    }
    return findings
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
