import { createHmac } from 'node:crypto'
import type { Client } from '@elastic/elasticsearch'
import { requireTombstoneKeys, type SporConfig } from '../core/config.ts'
import { ensureSingleIndex } from '../core/es.ts'
import { MISSING_INDICES_ARE_EMPTY } from '../core/indices.ts'
import type { Logger } from '../core/logger.ts'
import { DAY_MS } from '../core/retention.ts'
import { TOPIC_SEGMENT_MS } from '../ingest/topics.ts'
import { closePit, openPit, scanPages } from './pit-scan.ts'

/**
 * Erasure tombstones: a keyed hash of tenant + user (never the plain id) per erased person, in
 * `<prefix>-tombstones` (its own strict index; not a daily class, because a tombstone must outlive
 * every copy of the raw events, including Kafka's). The ingest consumer refuses events of a
 * tombstoned subject, so a replay or a late event cannot bring the person back.
 */
export function tombstoneIndex(prefix: string): string {
  return `${prefix}-tombstones`
}

export const TOMBSTONE_MAPPINGS = {
  dynamic: 'strict' as const,
  properties: {
    hash: { type: 'keyword' as const },
    tenant: { type: 'keyword' as const },
    erased_at: { type: 'date' as const },
    completed_at: { type: 'date' as const },
    requested_by: { type: 'keyword' as const },
  },
}

/**
 * How long a tombstone must live: as long as anything from before the erasure can still reach
 * ingest or detection. A late event is indexed only within its class's retention (older ones are
 * dropped at ingest), and a replay reads at most what the topics still hold (retention.ms plus a
 * segment). After that the tombstone has done its work and goes too (S10); the erasure's audit
 * record remains the proof, for the long class's year.
 */
export function tombstoneLifetimeMs(config: SporConfig): number {
  const events = Math.max(config.retentionDays.short, config.retentionDays.long) * DAY_MS
  const topics =
    Math.max(config.kafka.topicRetentionMs, config.detect.repartitionRetentionMs) + TOPIC_SEGMENT_MS
  return events + topics + DAY_MS
}

/**
 * Deletes the tombstones recorded before `cutoff`; returns how many (with `dryRun`, how many
 * would go). Search + bulk delete by id: the local node has no delete-by-query.
 */
export async function expireTombstones(
  es: Client,
  prefix: string,
  cutoff: Date,
  dryRun = false,
): Promise<number> {
  const index = tombstoneIndex(prefix)
  const query = { range: { erased_at: { lt: cutoff.toISOString() } } }
  if (dryRun) return (await es.count({ index, query, ...MISSING_INDICES_ARE_EMPTY })).count
  let deleted = 0
  for (;;) {
    const page = await es.search({
      index,
      query,
      size: 1000,
      _source: false,
      ...MISSING_INDICES_ARE_EMPTY,
    })
    const ids = page.hits.hits.map((hit) => hit._id!).filter(Boolean)
    if (ids.length === 0) return deleted
    const response = await es.bulk({
      refresh: true,
      operations: ids.map((id) => ({ delete: { _index: index, _id: id } })),
    })
    const failed = response.items.find((item) => item.delete?.error)
    if (failed) throw new Error(`tombstone delete failed: ${failed.delete?.error?.reason ?? 'unknown'}`)
    deleted += ids.length
  }
}

export interface TombstoneRecord {
  hash: string
  tenant: string
  erased_at: string
  completed_at?: string
  requested_by: string
}

/** The keyed hash; domain-separated from pseudonyms so the two cannot be joined. */
export function tombstoneHasher(key: Buffer): (tenant: string, user: string) => string {
  const derived = createHmac('sha256', key).update('spor/tombstone').digest()
  return (tenant, user) => createHmac('sha256', derived).update(`${tenant}\u0000${user}`).digest('hex')
}

export async function ensureTombstoneIndex(es: Client, prefix: string): Promise<void> {
  await ensureSingleIndex(es, tombstoneIndex(prefix), TOMBSTONE_MAPPINGS)
}

/** Records the tombstone (visible to searches when this returns); keeps the first erased_at. */
export async function writeTombstone(
  es: Client,
  prefix: string,
  record: TombstoneRecord,
): Promise<TombstoneRecord> {
  await ensureTombstoneIndex(es, prefix)
  const index = tombstoneIndex(prefix)
  try {
    await es.create({ index, id: record.hash, document: record, refresh: 'wait_for' })
    return record
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 409) throw error
    const existing = await es.get<TombstoneRecord>({ index, id: record.hash })
    return existing._source!
  }
}

export async function findTombstone(
  es: Client,
  prefix: string,
  hash: string,
): Promise<TombstoneRecord | undefined> {
  try {
    const doc = await es.get<TombstoneRecord>({ index: tombstoneIndex(prefix), id: hash })
    return doc._source
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined
    throw error
  }
}

export async function markTombstoneCompleted(
  es: Client,
  prefix: string,
  hash: string,
  at: Date,
): Promise<void> {
  await es.update({
    index: tombstoneIndex(prefix),
    id: hash,
    doc: { completed_at: at.toISOString() },
    refresh: 'wait_for',
  })
}

/**
 * In-memory set of tombstones for the consumer's synchronous `isErased` check. Loads everything
 * at start (the consumer must not start without it), then reloads every `refreshMs`. Erasure
 * waits longer than two refreshes before deleting documents, so a consumer either sees the
 * tombstone or indexed its documents before the deletion pass.
 */
export class TombstoneCache {
  readonly #es: Client
  readonly #prefix: string
  /** One hasher per active key (current first): tombstones made before a rotation still match. */
  readonly #hashers: ((tenant: string, user: string) => string)[]
  readonly #refreshMs: number
  readonly #log: Logger
  #hashes = new Set<string>()
  #timer: NodeJS.Timeout | undefined
  #loadedAt: Date | undefined

  constructor(deps: { es: Client; prefix: string; keys: readonly Buffer[]; refreshMs: number; log: Logger }) {
    if (deps.keys.length === 0) throw new Error('TombstoneCache needs at least one key')
    this.#es = deps.es
    this.#prefix = deps.prefix
    this.#hashers = deps.keys.map(tombstoneHasher)
    this.#refreshMs = deps.refreshMs
    this.#log = deps.log.child({ component: 'tombstones' })
  }

  get size(): number {
    return this.#hashes.size
  }

  /** When the set in use was read (the start of its reload). */
  get loadedAt(): Date | undefined {
    return this.#loadedAt
  }

  isErased(tenant: string, user: string): boolean {
    if (this.#hashes.size === 0) return false
    for (const hash of this.#hashers) if (this.#hashes.has(hash(tenant, user))) return true
    return false
  }

  async start(): Promise<void> {
    await ensureTombstoneIndex(this.#es, this.#prefix)
    await this.reload()
    this.#log.info(
      { tombstones: this.#hashes.size, keys: this.#hashers.length, refreshMs: this.#refreshMs },
      'tombstones loaded',
    )
    this.#schedule()
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** Full reload into a fresh set, swapped in at once. Tombstones are few (one per erased person). */
  async reload(): Promise<void> {
    const readFrom = new Date()
    const next = new Set<string>()
    const pit = await openPit(this.#es, tombstoneIndex(this.#prefix))
    try {
      for await (const page of scanPages<{ hash: string }>(
        this.#es,
        pit,
        { match_all: {} },
        { pageSize: 5000 },
      )) {
        for (const hit of page) if (hit._source?.hash) next.add(hit._source.hash)
      }
    } finally {
      await closePit(this.#es, pit)
    }
    // Tombstones are deleted only once nothing they block can arrive any more (tombstoneLifetimeMs),
    // so a reload that sees fewer is taken as a partial view: keep the union (a running process
    // forgets expired tombstones at its next start).
    for (const hash of this.#hashes) next.add(hash)
    this.#hashes = next
    this.#loadedAt = readFrom
  }

  /**
   * Reloads when the set in use was read `refreshMs` ago or longer (or never): for a job that
   * checks between pages instead of running the timer of `start()`.
   */
  async reloadIfStale(): Promise<void> {
    if (this.#loadedAt && Date.now() - this.#loadedAt.getTime() < this.#refreshMs) return
    await this.reload()
  }

  #schedule(): void {
    this.#timer = setTimeout(async () => {
      try {
        await this.reload()
      } catch (error) {
        // Keep the last good set: the erasure wait is sized for a few missed refreshes only via grace.
        this.#log.warn({ err: (error as Error).message }, 'tombstone reload failed; keeping the last set')
      }
      if (this.#timer) this.#schedule()
    }, this.#refreshMs)
    this.#timer.unref()
  }
}

/**
 * The tombstone cache a consuming service runs (`spor ingest`, `spor detect`): loaded before
 * consuming starts, so a replay cannot bring an erased person back, then reloaded every
 * `SPOR_TOMBSTONE_REFRESH_MS`.
 */
export async function startTombstoneCache(
  es: Client,
  config: SporConfig,
  log: Logger,
): Promise<TombstoneCache> {
  const cache = new TombstoneCache({
    es,
    prefix: config.es.indexPrefix,
    keys: requireTombstoneKeys(config),
    refreshMs: config.privacy.tombstoneRefreshMs,
    log,
  })
  await cache.start()
  return cache
}
