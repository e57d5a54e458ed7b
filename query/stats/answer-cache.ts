/**
 * Recent statistics answers of this instance, by request: a dashboard reloading the same panels
 * is answered without touching Elasticsearch or the question budget. Bounded in entries and age;
 * answers are anonymised already, so the cache holds nothing the client could not see.
 */
export class AnswerCache<T> {
  readonly #entries = new Map<string, { at: number; value: T }>()
  readonly #ttlMs: number
  readonly #maxEntries: number

  constructor(ttlMs: number, maxEntries = 1000) {
    this.#ttlMs = ttlMs
    this.#maxEntries = maxEntries
  }

  get(key: string, now: number): T | undefined {
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    if (now - entry.at >= this.#ttlMs) {
      this.#entries.delete(key)
      return undefined
    }
    return entry.value
  }

  set(key: string, value: T, now: number): void {
    if (this.#ttlMs <= 0) return
    this.#entries.delete(key)
    this.#entries.set(key, { at: now, value })
    // Maps iterate in insertion order: the first entry is the oldest.
    while (this.#entries.size > this.#maxEntries)
      this.#entries.delete(this.#entries.keys().next().value as string)
  }
}
