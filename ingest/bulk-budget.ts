import { ingestMetrics } from './metrics.ts'

/**
 * The ingest process's bound on work in flight, shared by every partition: at most `maxBytes` of
 * serialised documents and at most `maxRequests` bulk requests at once. A bulk request waits for
 * room before it is sent, so a slow cluster slows consumption instead of growing memory.
 *
 * Waiters are served in arrival order (a large request is not starved by small ones). A request
 * larger than the whole budget is admitted alone, when nothing else is in flight, so a
 * misconfiguration (bulk size above the budget) degrades to one request at a time, never a hang.
 */
export class BulkBudget {
  readonly maxBytes: number
  readonly maxRequests: number
  #bytes = 0
  #requests = 0
  readonly #waiters: { bytes: number; grant: () => void }[] = []

  constructor(options: { maxBytes: number; maxRequests: number }) {
    this.maxBytes = options.maxBytes
    this.maxRequests = options.maxRequests
  }

  get inFlightBytes(): number {
    return this.#bytes
  }

  get inFlightRequests(): number {
    return this.#requests
  }

  /** Waits for room for one request of `bytes`; the returned function gives the room back (once). */
  async acquire(bytes: number): Promise<() => void> {
    const size = Math.min(bytes, this.maxBytes)
    if (this.#waiters.length > 0 || !this.#fits(size)) {
      await new Promise<void>((grant) => this.#waiters.push({ bytes: size, grant }))
    } else {
      this.#take(size)
    }
    let released = false
    return () => {
      if (released) return
      released = true
      this.#bytes -= size
      this.#requests--
      this.#report()
      this.#grantWaiters()
    }
  }

  #fits(size: number): boolean {
    if (this.#requests === 0) return true
    return this.#requests < this.maxRequests && this.#bytes + size <= this.maxBytes
  }

  #take(size: number): void {
    this.#bytes += size
    this.#requests++
    this.#report()
  }

  #grantWaiters(): void {
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0]!.bytes)) {
      const waiter = this.#waiters.shift()!
      this.#take(waiter.bytes)
      waiter.grant()
    }
  }

  #report(): void {
    ingestMetrics.inFlightBytes.set(this.#bytes)
  }
}
