import type { Client, estypes } from '@elastic/elasticsearch'
import type { SporConfig } from '../core/config.ts'
import { toEcsDocument } from '../core/ecs-fields.ts'
import { SporError } from '../core/errors.ts'
import { bulkItems } from '../core/es.ts'
import { classIndex, type ParsedIndex, parseClassIndex } from '../core/indices.ts'
import { JobLeases } from '../core/lease.ts'
import type { Logger } from '../core/logger.ts'
import type { RetentionClass } from '../core/retention.ts'
import { closePit, openPit } from '../privacy/pit-scan.ts'
import { listClassIndices, selectExpired } from './enforcer.ts'
import { installIndexSetup } from './install.ts'

/**
 * `spor migrate`: moves an installation from the first layout (one index per class and day, event
 * documents with spor's first field names) to the current one (core/indices.ts: coarse indices,
 * ECS field names in indices named `<prefix>-short-ecs-…`/`<prefix>-long-ecs-month-…`), without
 * losing or duplicating a document, while ingest, erasure and queries keep running. Before any
 * move, every first-shape index gets field aliases by the ECS names (install.ts), so queries by
 * the new names find its documents; readers of `_source` read them through `toEcsDocument`.
 *
 * Each daily index of a class that is now monthly or yearly is moved page by page: the page is
 * created in its target index (same `_id`, refreshed; a document already there from a writer of
 * the current layout is kept), then deleted from the daily index with
 * optimistic concurrency on the version that was read (`if_seq_no`/`if_primary_term`). A
 * document changed meanwhile (an erasure anonymised it) fails that delete and is copied again
 * from its current version; one deleted meanwhile (an erasure removed it) is removed from the
 * target too. Readers use the class pattern, which covers both layouts, so a document is visible
 * throughout: in the daily index, then for the moment between a page's two refreshed bulk
 * requests in both, then in its target. An emptied daily index is kept for a grace period
 * (marked in its mapping's `_meta`) and deleted by its exact name by a later run: an export or
 * erasure that opened a point-in-time on it before the move keeps reading it until then.
 *
 * Idempotent and resumable: a rerun continues with what is left in the daily indices; a page
 * already written is written again with the same content. Indices already past retention are
 * left to the enforcer. One migration runs at a time (a lease), and `spor setup` says when one
 * is due.
 */

const PAGE = 500
const LEASE_JOB = 'migrate-layout'
const LEASE_TTL_MS = 10 * 60_000
const MAX_RETRIES = 5

export interface MigratedIndex {
  index: string
  target: string
  cls: RetentionClass
  moved: number
  /** Changed or deleted in the daily index while it was moved (erasure, late writers). */
  reconciled: number
  /** Deleted now; otherwise emptied and left for a later run (the grace period). */
  deleted: boolean
  emptied: boolean
}

export interface MigrationReport {
  legacy: number
  migrated: MigratedIndex[]
  /** Legacy indices already past retention: the enforcer deletes them, nothing to move. */
  skippedExpired: string[]
  /** Daily indices that still held documents after the passes (a rerun continues). */
  incomplete: string[]
  /** Emptied daily indices waiting out the grace period (the next run after it deletes them). */
  awaitingDeletion: string[]
}

export interface MigrateOptions {
  now: Date
  log: Logger
  /** Rewrites a document for its new index (default: event documents to ECS names). */
  transform?: (cls: RetentionClass, doc: Record<string, unknown>) => Record<string, unknown>
  /** Stop after this many indices (tests; operators spreading the work). */
  limit?: number
  /** How long an emptied daily index stays for point-in-time readers (default 10 minutes). */
  emptiedGraceMs?: number
}

export const EMPTIED_GRACE_MS = 10 * 60_000

/**
 * The document as the current layout holds it: event documents (short, long) of the first shape
 * get their ECS names (core/ecs-fields.ts, pure and idempotent: an ECS document is unchanged);
 * alerts, statistics rows and profiles keep theirs.
 */
export function toCurrentShape(cls: RetentionClass, doc: Record<string, unknown>): Record<string, unknown> {
  return cls === 'short' || cls === 'long' ? toEcsDocument(doc) : doc
}

/** Legacy daily indices of this installation that are still inside retention, oldest first. */
export async function legacyIndices(
  es: Client,
  config: SporConfig,
  now: Date,
): Promise<{ pending: (ParsedIndex & { name: string })[]; expired: string[] }> {
  const prefix = config.es.indexPrefix
  const selection = selectExpired(await listClassIndices(es, prefix), prefix, config.retentionDays, now)
  const pending = selection.kept
    .filter((s) => s.layout === 'legacy')
    .map((s) => ({ ...parseClassIndex(s.index)!, name: s.index }))
    .sort((a, b) => a.start.getTime() - b.start.getTime() || a.name.localeCompare(b.name))
  const expired = selection.expired.filter((s) => s.layout === 'legacy').map((s) => s.index)
  return { pending, expired }
}

type Hit = estypes.SearchHit<Record<string, unknown>>

function failure(what: string, item: estypes.BulkResponseItem): SporError {
  return new SporError(
    'SPOR_ERR_ES',
    `${what} ${item._index}/${item._id}: ${item.status} ${item.error?.type} ${item.error?.reason}`,
  )
}

/** Moves one page; returns how many documents needed reconciling. */
async function movePage(
  es: Client,
  source: ParsedIndex & { name: string },
  target: string,
  hits: Hit[],
  transform: NonNullable<MigrateOptions['transform']>,
): Promise<number> {
  let pending = hits
  let reconciled = 0
  // The version of each copy this move wrote in the target. Only those are removed again when
  // the daily document turns out to be gone: a copy another writer put there (a rollup
  // recomputed, an alert updated, an erasure's rewrite) is theirs, and newer.
  const ownCopies = new Map<string, { if_seq_no: number; if_primary_term: number }>()
  const removeOwnCopies = async (ids: string[]) => {
    const ours = ids.flatMap((id) => {
      const version = ownCopies.get(id)
      return version ? [{ delete: { _index: target, _id: id, ...version } }] : []
    })
    if (ours.length === 0) return
    const cleared = await es.bulk({ refresh: true, operations: ours })
    for (const item of bulkItems(cleared)) {
      // 404: already gone; 409: rewritten since by another writer, whose copy stays.
      if (item.error && item.status !== 404 && item.status !== 409) throw failure('delete from', item)
    }
  }
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > MAX_RETRIES) {
      throw new SporError('SPOR_ERR_ES', `${source.name}: documents keep changing while moved; rerun later`)
    }
    // First copy: `create`, so a document a writer of the current layout already put in the
    // target (a replay, a profile recomputed, an alert updated) is not replaced by the older
    // copy. A re-copy after a change in the daily index replaces (it is the newer version).
    const op = attempt === 0 ? 'create' : 'index'
    const written = await es.bulk({
      refresh: true,
      operations: pending.flatMap((hit) => [
        { [op]: { _index: target, _id: hit._id! } },
        transform(source.cls, hit._source ?? {}),
      ]),
    })
    bulkItems(written).forEach((item, i) => {
      if (item.error && !(op === 'create' && item.status === 409)) throw failure('copy to', item)
      if (!item.error)
        ownCopies.set(pending[i]!._id!, { if_seq_no: item._seq_no!, if_primary_term: item._primary_term! })
    })
    const removed = await es.bulk({
      refresh: true,
      operations: pending.map((hit) => ({
        delete: {
          _index: source.name,
          _id: hit._id!,
          if_seq_no: hit._seq_no!,
          if_primary_term: hit._primary_term!,
        },
      })),
    })
    const changed: string[] = []
    const gone: string[] = []
    bulkItems(removed).forEach((item, i) => {
      if (!item.error) return
      if (item.status === 409) changed.push(pending[i]!._id!)
      else if (item.status === 404) gone.push(pending[i]!._id!)
      else throw failure('delete from', item)
    })
    // Deleted from the daily index after it was read (an erasure): the copy must not live on.
    await removeOwnCopies(gone)
    reconciled += changed.length + gone.length
    if (changed.length === 0) break
    // Changed after it was read (anonymised by an erasure): copy the current version again.
    const current = await es.mget<Record<string, unknown>>({ index: source.name, ids: changed })
    const again: Hit[] = []
    const vanished: string[] = []
    for (const doc of current.docs) {
      if ('found' in doc && doc.found) {
        again.push({
          _index: source.name,
          _id: doc._id,
          _source: doc._source,
          _seq_no: doc._seq_no,
          _primary_term: doc._primary_term,
        })
      } else vanished.push(doc._id)
    }
    await removeOwnCopies(vanished)
    pending = again
  }
  return reconciled
}

/** Moves one daily index into its target; deletes it once it is empty. */
/** When a daily index was emptied by a migration (from its mapping's `_meta`), if it was. */
async function emptiedAt(es: Client, index: string): Promise<number | undefined> {
  const mapping = await es.indices.getMapping({ index })
  const value = Object.values(mapping)[0]?.mappings._meta?.spor_migrated_at
  return typeof value === 'string' ? Date.parse(value) : undefined
}

export async function migrateIndex(
  es: Client,
  source: ParsedIndex & { name: string },
  prefix: string,
  transform: NonNullable<MigrateOptions['transform']>,
  options: { now: Date; graceMs: number },
): Promise<MigratedIndex> {
  const target = classIndex(prefix, source.cls, source.start)
  const result: MigratedIndex = {
    index: source.name,
    target,
    cls: source.cls,
    moved: 0,
    reconciled: 0,
    deleted: false,
    emptied: false,
  }
  const since = await emptiedAt(es, source.name)
  // Two passes at most: a writer of the first layout still running (an old instance during a
  // rolling deploy) can add documents after the first pass started.
  for (let pass = 0; pass < 2; pass++) {
    const pit = await openPit(es, source.name)
    try {
      let after: estypes.SortResults | undefined
      for (;;) {
        const page = await es.search<Record<string, unknown>>({
          pit: { id: pit.id, keep_alive: '2m' },
          size: PAGE,
          sort: [{ _shard_doc: 'asc' }],
          seq_no_primary_term: true,
          track_total_hits: false,
          ...(after ? { search_after: after } : {}),
        })
        const hits = page.hits.hits
        if (hits.length === 0) break
        result.reconciled += await movePage(es, source, target, hits, transform)
        result.moved += hits.length
        after = hits[hits.length - 1]!.sort
      }
    } finally {
      await closePit(es, pit)
    }
    await es.indices.refresh({ index: source.name })
    const { count } = await es.count({ index: source.name })
    if (count === 0) {
      result.emptied = true
      if (
        options.graceMs === 0 ||
        (since !== undefined && since + options.graceMs <= options.now.getTime())
      ) {
        await es.indices.delete({ index: source.name })
        result.deleted = true
      } else if (since === undefined) {
        await es.indices.putMapping({
          index: source.name,
          _meta: { spor_migrated_at: options.now.toISOString() },
        })
      }
      break
    }
  }
  return result
}

export async function migrateLayout(
  es: Client,
  config: SporConfig,
  options: MigrateOptions,
): Promise<MigrationReport> {
  const prefix = config.es.indexPrefix
  const log = options.log.child({ component: 'migrate' })
  const transform = options.transform ?? toCurrentShape
  // Templates first: the target indices must be created with the strict mappings.
  await installIndexSetup(es, config)
  const leases = new JobLeases(es, prefix)
  const lease = await leases.acquire(LEASE_JOB, LEASE_TTL_MS)
  if (!lease.acquired) {
    throw new SporError(
      'SPOR_ERR_UNAVAILABLE',
      `another migration holds the lease (${lease.holder}, until ${lease.expiresAt})`,
    )
  }
  try {
    const { pending, expired } = await legacyIndices(es, config, options.now)
    const report: MigrationReport = {
      legacy: pending.length,
      migrated: [],
      skippedExpired: expired,
      incomplete: [],
      awaitingDeletion: [],
    }
    const graceMs = options.emptiedGraceMs ?? EMPTIED_GRACE_MS
    for (const source of pending.slice(0, options.limit ?? pending.length)) {
      if (!(await leases.renew(LEASE_JOB, LEASE_TTL_MS))) {
        throw new SporError('SPOR_ERR_UNAVAILABLE', 'the migration lease was lost; rerun to continue')
      }
      const moved = await migrateIndex(es, source, prefix, transform, { now: options.now, graceMs })
      report.migrated.push(moved)
      if (!moved.emptied) report.incomplete.push(source.name)
      else if (!moved.deleted) report.awaitingDeletion.push(source.name)
      log.info(
        { index: moved.index, target: moved.target, moved: moved.moved, reconciled: moved.reconciled },
        'moved daily index',
      )
    }
    return report
  } finally {
    await leases.release(LEASE_JOB).catch(() => undefined)
  }
}
