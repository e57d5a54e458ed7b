import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Client, estypes } from '@elastic/elasticsearch'
import { ensureSingleIndex } from './es.ts'

/**
 * Leases on periodic jobs, kept in Elasticsearch (`<prefix>-leases`, one document per job), so
 * that among several instances of a service one runs a job at a time. Taken and renewed with
 * optimistic concurrency (`if_seq_no` + `if_primary_term`): of two instances racing, exactly one
 * write succeeds (reads are by id, which Elasticsearch serves in real time, without a refresh).
 * A lease that is not renewed expires, so a crashed holder blocks nobody for
 * longer than its time to live.
 */
export interface LeaseRecord {
  job: string
  holder: string
  acquired_at: string
  expires_at: string
}

const LEASE_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    job: { type: 'keyword' },
    holder: { type: 'keyword' },
    acquired_at: { type: 'date' },
    expires_at: { type: 'date' },
  },
}

export type LeaseAttempt = { acquired: true } | { acquired: false; holder: string; expiresAt: string }

interface Held {
  seqNo: number
  primaryTerm: number
  acquiredAt: string
}

export class JobLeases {
  readonly holder: string
  readonly #es: Client
  readonly #index: string
  readonly #now: () => number
  readonly #held = new Map<string, Held>()
  #ready: Promise<void> | undefined

  constructor(es: Client, prefix: string, options: { holder?: string; now?: () => number } = {}) {
    this.#es = es
    this.#index = `${prefix}-leases`
    this.holder = options.holder ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
    this.#now = options.now ?? Date.now
  }

  /** Takes the job's lease for `ttlMs` when it is free, expired or already ours. */
  async acquire(job: string, ttlMs: number): Promise<LeaseAttempt> {
    await this.#ensureIndex()
    const current = await this.#es.get<LeaseRecord>({ index: this.#index, id: job }, { ignore: [404] })
    const now = this.#now()
    const record = (acquiredAt: string): LeaseRecord => ({
      job,
      holder: this.holder,
      acquired_at: acquiredAt,
      expires_at: new Date(now + ttlMs).toISOString(),
    })
    try {
      if (!current.found) {
        const written = await this.#es.create({
          index: this.#index,
          id: job,
          document: record(new Date(now).toISOString()),
        })
        this.#held.set(job, {
          seqNo: written._seq_no!,
          primaryTerm: written._primary_term!,
          acquiredAt: new Date(now).toISOString(),
        })
        return { acquired: true }
      }
      const lease = current._source!
      if (lease.holder !== this.holder && Date.parse(lease.expires_at) > now)
        return { acquired: false, holder: lease.holder, expiresAt: lease.expires_at }
      const acquiredAt = lease.holder === this.holder ? lease.acquired_at : new Date(now).toISOString()
      const written = await this.#es.index({
        index: this.#index,
        id: job,
        document: record(acquiredAt),
        if_seq_no: current._seq_no!,
        if_primary_term: current._primary_term!,
      })
      this.#held.set(job, { seqNo: written._seq_no!, primaryTerm: written._primary_term!, acquiredAt })
      return { acquired: true }
    } catch (error) {
      if (isConflict(error)) {
        const winner = await this.#es.get<LeaseRecord>({ index: this.#index, id: job }, { ignore: [404] })
        return {
          acquired: false,
          holder: winner._source?.holder ?? 'unknown',
          expiresAt: winner._source?.expires_at ?? '',
        }
      }
      throw error
    }
  }

  /** Extends a lease we hold; false when it was lost (expired and taken by another instance). */
  async renew(job: string, ttlMs: number): Promise<boolean> {
    const held = this.#held.get(job)
    if (!held) return false
    try {
      const written = await this.#es.index({
        index: this.#index,
        id: job,
        document: {
          job,
          holder: this.holder,
          acquired_at: held.acquiredAt,
          expires_at: new Date(this.#now() + ttlMs).toISOString(),
        } satisfies LeaseRecord,
        if_seq_no: held.seqNo,
        if_primary_term: held.primaryTerm,
      })
      this.#held.set(job, { ...held, seqNo: written._seq_no!, primaryTerm: written._primary_term! })
      return true
    } catch (error) {
      if (!isConflict(error)) throw error
      this.#held.delete(job)
      return false
    }
  }

  /** Gives the lease back (only if still ours), so the next instance need not wait for expiry. */
  async release(job: string): Promise<void> {
    const held = this.#held.get(job)
    if (!held) return
    this.#held.delete(job)
    await this.#es.delete(
      {
        index: this.#index,
        id: job,
        if_seq_no: held.seqNo,
        if_primary_term: held.primaryTerm,
      },
      { ignore: [404, 409] },
    )
  }

  #ensureIndex(): Promise<void> {
    this.#ready ??= ensureSingleIndex(this.#es, this.#index, LEASE_MAPPINGS).catch((error) => {
      this.#ready = undefined
      throw error
    })
    return this.#ready
  }
}

function isConflict(error: unknown): boolean {
  return (error as { meta?: { statusCode?: number } }).meta?.statusCode === 409
}
