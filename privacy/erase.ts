import { setTimeout as sleep } from 'node:timers/promises'
import type { Client, estypes } from '@elastic/elasticsearch'
import { CALLER_CHECKS_SHARDS, shardFailures } from '../core/complete-reads.ts'
import type { SporConfig } from '../core/config.ts'
import { EVENT_PATHS, isFirstShape, toEcsDocument, toFirstShape } from '../core/ecs-fields.ts'
import { SporError } from '../core/errors.ts'
import { MISSING_INDICES_ARE_EMPTY } from '../core/indices.ts'
import type { Logger } from '../core/logger.ts'
import { expiresAt } from '../core/retention.ts'
import { type Requester, writeAudit } from './audit.ts'
import { applyToMatching, deleteMatching } from './pit-scan.ts'
import { classIndexPattern, ownLongQuery, type Subject, subjectQuery } from './subject.ts'
import { findTombstone, markTombstoneCompleted, tombstoneLifetimeMs, writeTombstone } from './tombstones.ts'

export interface KeptItem {
  class: 'long' | 'alerts'
  what: string
  count: number
  why: string
  /** When the last of these documents is deleted by retention (undefined when count is 0). */
  expires_by?: string
}

export interface ErasureReceipt {
  subject: { tenant: string; user: string; pseudonym: string }
  requested_at: string
  completed_at: string
  /** First time this person was erased; a retry or repeat keeps the original date. */
  tombstone: { recorded_at: string; effect: string; expires_by: string }
  deleted: { short: number; profiles: number }
  anonymised: { long: number }
  kept: KeptItem[]
}

export interface EraseDeps {
  es: Client
  config: SporConfig
  log: Logger
  now: () => Date
}

/** The time consumers need to see a new tombstone: two reloads plus in-flight batches. */
export function tombstoneSettleMs(config: SporConfig): number {
  return 2 * config.privacy.tombstoneRefreshMs + config.privacy.eraseGraceMs
}

/**
 * Erases a person (S9). Order matters and makes it race-free and retryable:
 *  1. the tombstone is written first (visible when the call returns); from then on consumers
 *     refuse the person's events, after at most one reload;
 *  2. wait longer than that reload (plus batches already in flight);
 *  3. sweep: delete profile and short-class documents and rewrite the person's long-class
 *     documents without identifiers (business history is kept until its retention, S9/S10),
 *     repeated until a pass finds nothing (bounded; an error, not a receipt, when it does not
 *     get there): a batch planned before the tombstone was seen may still land while the ingest
 *     writer retries it;
 *  4. mark the tombstone completed and write the audit record.
 * Every step is idempotent: re-running after a crash anywhere finishes the job.
 */
export async function eraseSubject(
  deps: EraseDeps,
  subject: Subject,
  requester: Requester,
): Promise<ErasureReceipt> {
  const { es, config, log } = deps
  const prefix = config.es.indexPrefix
  const requestedAt = deps.now()
  const tombstone = await writeTombstone(es, prefix, {
    hash: subject.hash,
    tenant: subject.tenant,
    erased_at: requestedAt.toISOString(),
    requested_by: requester.key,
  })
  await sleep(tombstoneSettleMs(config))

  const deleted = { short: 0, profiles: 0 }
  const anonymised = await sweepUntilClean(deps, subject, deleted)
  const alerts = await spanOf(es, classIndexPattern(prefix, 'alerts'), subjectQuery('alerts', subject))
  const audits = await spanOf(es, classIndexPattern(prefix, 'long'), {
    bool: {
      filter: [
        { term: { [EVENT_PATHS.tenant]: subject.tenant } },
        { term: { 'props.subject_pseudo': subject.pseudo } },
      ],
    },
  })
  const expiry = (last: string | undefined, days: number) =>
    last ? expiresAt(new Date(last), days).toISOString() : undefined
  const kept: KeptItem[] = [
    {
      class: 'long',
      what: "the person's business history (jobs, messages, administration) with user id, pseudonym, session, IP prefix and free-form properties removed",
      count: anonymised.count,
      why: 'S9: business history is kept; without identifiers it no longer points to the person',
      expires_by: expiry(anonymised.last, config.retentionDays.long),
    },
    {
      class: 'long',
      what: 'audit records of privacy requests about the person (pseudonym only), including this erasure',
      count: audits.count + 1,
      why: 'proof that access and erasure requests were handled; pseudonymous',
      expires_by: expiresAt(requestedAt, config.retentionDays.long).toISOString(),
    },
    {
      class: 'alerts',
      what: 'misuse alerts naming the person',
      count: alerts.count,
      why: 'S7: kept to prevent misuse (account takeover, fraud, spam) until the alerts retention',
      expires_by: expiry(alerts.last, config.retentionDays.alerts),
    },
  ]
  const completedAt = deps.now()
  await markTombstoneCompleted(es, prefix, subject.hash, completedAt)
  await writeAudit(es, prefix, {
    action: 'erase',
    subject,
    requester,
    at: completedAt,
    counts: {
      short: deleted.short,
      profiles: deleted.profiles,
      long_anonymised: anonymised.count,
      alerts_kept: alerts.count,
    },
  })
  log.info({ deleted, anonymised: anonymised.count }, 'subject erased')
  return {
    subject: { tenant: subject.tenant, user: subject.user, pseudonym: subject.pseudo },
    requested_at: requestedAt.toISOString(),
    completed_at: completedAt.toISOString(),
    tombstone: {
      recorded_at: tombstone.erased_at,
      effect:
        'the ingest consumers refuse every future, late or replayed event of this person (counted as subject_erased)',
      // Once nothing from before the erasure can reach spor any more, the tombstone goes too.
      expires_by: new Date(Date.parse(tombstone.erased_at) + tombstoneLifetimeMs(config)).toISOString(),
    },
    deleted,
    anonymised: { long: anonymised.count },
    kept,
  }
}

/** Is there anything on the person, or were they erased before (so a retry is not a 404)? */
export async function subjectKnown(es: Client, prefix: string, subject: Subject): Promise<boolean> {
  // A tombstone made before a pseudonym-key rotation carries the old key's hash.
  for (const hash of subject.hashes) if (await findTombstone(es, prefix, hash)) return true
  for (const cls of ['short', 'long', 'alerts', 'profiles'] as const) {
    const result = await es.count({
      index: classIndexPattern(prefix, cls),
      query: subjectQuery(cls, subject),
      ...MISSING_INDICES_ARE_EMPTY,
    })
    if (result.count > 0) return true
  }
  return false
}

/** Sweeps a pass can take before erasure gives up waiting for late batches (and says so). */
const MAX_SWEEPS = 5

/**
 * Deletes profiles and the short class and anonymises the long class until one pass finds
 * nothing of any: a batch planned before the tombstone was seen can be held by the ingest
 * writer's retries and land after the first pass, a profile job can write a profile it computed
 * before, and `spor migrate` can move a document to another index after a pass read it. Returns
 * the long-class documents anonymised over all passes. Throws when the last pass still finds
 * some: the erasure is then not complete (no receipt, the tombstone not marked completed), and a
 * retry continues it.
 */
async function sweepUntilClean(
  deps: EraseDeps,
  subject: Subject,
  deleted: { short: number; profiles: number },
): Promise<{ count: number; last?: string }> {
  const { es, config, log } = deps
  const prefix = config.es.indexPrefix
  const profilesPattern = classIndexPattern(prefix, 'profiles')
  const shortPattern = classIndexPattern(prefix, 'short')
  const longPattern = classIndexPattern(prefix, 'long')
  const anonymised: { count: number; last?: string } = { count: 0 }
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    deleted.profiles += await deleteMatching(es, profilesPattern, subjectQuery('profiles', subject))
    deleted.short += await deleteMatching(es, shortPattern, subjectQuery('short', subject))
    const long = await anonymiseLong(es, longPattern, ownLongQuery(subject))
    anonymised.count += long.count
    if (long.last && (!anonymised.last || long.last > anonymised.last)) anonymised.last = long.last
    await es.indices.refresh({
      index: `${profilesPattern},${shortPattern},${longPattern}`,
      ...MISSING_INDICES_ARE_EMPTY,
    })
    // A shard that did not answer is not "nothing left": counted here and swept again, so these
    // counts take partial answers (core/complete-reads.ts would fail them).
    const partial = { context: CALLER_CHECKS_SHARDS }
    const [profiles, short, own] = await Promise.all([
      es.count(
        { index: profilesPattern, query: subjectQuery('profiles', subject), ...MISSING_INDICES_ARE_EMPTY },
        partial,
      ),
      es.count(
        { index: shortPattern, query: subjectQuery('short', subject), ...MISSING_INDICES_ARE_EMPTY },
        partial,
      ),
      es.count({ index: longPattern, query: ownLongQuery(subject), ...MISSING_INDICES_ARE_EMPTY }, partial),
    ])
    const unanswered = [profiles, short, own].reduce((n, r) => n + shardFailures(r).failed, 0)
    if (profiles.count + short.count + own.count + unanswered === 0) return anonymised
    const left = { sweep, profiles: profiles.count, short: short.count, long: own.count, unanswered }
    if (sweep === MAX_SWEEPS - 1) {
      log.error(left, 'erasure: documents still arriving after the last sweep; not complete')
      throw new SporError(
        'SPOR_ERR_ERASURE_INCOMPLETE',
        `documents of the person were still being written or moved after ${MAX_SWEEPS} sweeps (${left.profiles} profiles, ${left.short} short, ${left.long} long, ${unanswered} shards unanswered); the tombstone is in force`,
      )
    }
    log.warn(left, 'erasure: documents arrived or moved during deletion; sweeping again')
    await sleep(config.privacy.tombstoneRefreshMs)
  }
  return anonymised
}

/** Audit-record properties spor writes itself (privacy.* events): pseudonymous, kept as proof. */
const AUDIT_PROP = /^(requester_key|subject_pseudo|count_[a-z_]+)$/

/**
 * The kept form of a long-class document: everything but the identifiers, flagged as erased.
 * `props` are client-supplied scalars (an e-mail address, a recipient) and go too; `object`
 * (what was acted on) stays. Audit records of privacy requests the person made as an
 * administrator keep the pseudonymous properties spor wrote (proof the request was handled).
 */
export function withoutIdentifiers(source: Record<string, unknown>): Record<string, unknown> {
  // A document not yet moved by `spor migrate` goes back into its first-shape index as it was.
  if (isFirstShape(source)) return toFirstShape(withoutIdentifiers(toEcsDocument(source)))
  const { user: _user, source: src, props, spor, ...rest } = source
  const { session: _session, source: _sporSource, ...sporKept } = (spor ?? {}) as Record<string, unknown>
  const out: Record<string, unknown> = { ...rest, spor: { ...sporKept, user_erased: true } }
  const geo = (src as { geo?: unknown } | undefined)?.geo
  if (geo) out.source = { geo }
  const type = (source.event as { action?: unknown } | undefined)?.action
  if (typeof type === 'string' && type.startsWith('privacy.') && props && typeof props === 'object') {
    const audit = Object.entries(props).filter(([name]) => AUDIT_PROP.test(name))
    if (audit.length > 0) out.props = Object.fromEntries(audit)
  }
  return out
}

/**
 * Rewrites the person's long-class documents without identifiers, each only over the version it
 * read (`if_seq_no`): a document `spor migrate` moved meanwhile must not be written back where it
 * was; applyToMatching follows it to its new index instead.
 */
async function anonymiseLong(
  es: Client,
  pattern: string,
  query: estypes.QueryDslQueryContainer,
): Promise<{ count: number; last?: string }> {
  let last: string | undefined
  const count = await applyToMatching<Record<string, unknown>>(es, pattern, query, (hit) => {
    const ts = hit._source?.['@timestamp']
    if (typeof ts === 'string' && (!last || ts > last)) last = ts
    return [
      {
        index: {
          _index: hit._index,
          _id: hit._id!,
          if_seq_no: hit._seq_no!,
          if_primary_term: hit._primary_term!,
        },
      },
      withoutIdentifiers(hit._source ?? {}),
    ]
  })
  return { count, last }
}

async function spanOf(
  es: Client,
  pattern: string,
  query: estypes.QueryDslQueryContainer,
): Promise<{ count: number; last?: string }> {
  const result = await es.search({
    index: pattern,
    query,
    size: 0,
    track_total_hits: true,
    ...MISSING_INDICES_ARE_EMPTY,
    aggs: { last: { max: { field: '@timestamp' } } },
  })
  const total = result.hits.total
  const count = typeof total === 'number' ? total : (total?.value ?? 0)
  const value = (result.aggregations?.last as { value: number | null } | undefined)?.value
  return { count, last: value == null ? undefined : new Date(value).toISOString() }
}
