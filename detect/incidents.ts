import { createHash } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { classIndex } from '../core/indices.ts'
import type { Finding, SubjectKind } from './findings.ts'
import type { RuleName, RuleSettings, Severity } from './rule-config.ts'

/**
 * Deduplication: one ongoing incident is one alert document, updated while findings keep coming.
 * An incident stays open while findings arrive within its rule's quiet gap of the last one; the
 * alert `_id` is derived from rule, tenant, subject and the incident's first evidence time, so a
 * replay that sees the same events computes the same id.
 */
export const MAX_EVIDENCE = 50
const MAX_TRACKED_IDS = 5_000
const MAX_RELATED = 100

export interface AlertDocument {
  '@timestamp': string
  alert_id: string
  rule: RuleName
  severity: Severity
  tenant: string
  subject: { kind: SubjectKind; value: string }
  related_users: string[]
  window: { start: string; end: string }
  counts: Record<string, number>
  evidence_event_ids: string[]
  evidence_total: number
  explanation: string
  status: 'open' | 'acknowledged'
  first_seen: string
  last_seen: string
  raised_at: string
  updated_at: string
  acknowledged_by?: string
  acknowledged_at?: string
  /** Set after the `raised` message was produced (see RuleStage); the detector's own writes never
   * carry it, so a later update cannot clear it. */
  announced_at?: string
}

export interface Incident {
  alertId: string
  index: string
  rule: RuleName
  severity: Severity
  tenant: string
  subject: { kind: SubjectKind; value: string }
  start: number
  lastSeen: number
  counts: Record<string, number>
  evidence: string[]
  seenIds: Set<string>
  evidenceTotal: number
  relatedUsers: Set<string>
  explanation: string
  raisedAt: number
  /** The document exists in Elasticsearch (written by us earlier, or by another instance). */
  persisted: boolean
  /** The `raised` message is on the alerts topic (the document's `announced_at`). */
  announced: boolean
  /**
   * What people (and the announce mark) had set on the document this incident was read from.
   * The first write of the incident's copy in its current-layout index carries them (the upsert),
   * so an alert acknowledged in an old daily index is still acknowledged after `spor migrate`
   * keeps the newer copy.
   */
  carried?: Partial<Pick<AlertDocument, 'status' | 'acknowledged_by' | 'acknowledged_at' | 'announced_at'>>
  dirty: boolean
  /** Wall-clock time the earliest unflushed triggering event entered detect. */
  pendingSeenAt?: number
}

export type Change = 'raised' | 'updated' | 'unchanged'

/** Looks up the most recent alert of this rule and subject whose last_seen is at or after `since`. */
export type FindAlert = (
  rule: RuleName,
  tenant: string,
  subject: { kind: string; value: string },
  since: number,
) => Promise<AlertDocument | undefined>

export function alertId(
  rule: string,
  tenant: string,
  subject: { kind: string; value: string },
  start: number,
): string {
  const text = `${rule}\n${tenant}\n${subject.kind}\n${subject.value}\n${new Date(start).toISOString()}`
  return createHash('sha256').update(text).digest('base64url').slice(0, 27)
}

/** How long after its last finding an incident counts as ongoing. */
export function quietGapMs(rule: RuleName, s: RuleSettings): number {
  switch (rule) {
    case 'brute_force':
      return s.brute_force.windowMs
    case 'password_spraying':
      return s.password_spraying.windowMs
    case 'credential_stuffing':
      return s.credential_stuffing.windowMs
    case 'spam_burst':
      return s.spam_burst.windowMs * 6
    case 'harassment_target':
      return s.harassment_target.windowMs
    case 'harassment_actor':
      return s.harassment_actor.windowMs
    default:
      // travel, novelty and concurrency findings about one user within a day are one incident
      return 24 * 3_600_000
  }
}

export class IncidentTracker {
  readonly #open: LRUCache<string, Incident>
  readonly #find: FindAlert
  readonly #prefix: string
  readonly #now: () => number

  constructor(options: { find: FindAlert; indexPrefix: string; maxOpen: number; now?: () => number }) {
    this.#find = options.find
    this.#prefix = options.indexPrefix
    this.#now = options.now ?? Date.now
    this.#open = new LRUCache({ max: options.maxOpen })
  }

  /**
   * Folds a finding into its incident. Before opening a new incident it asks Elasticsearch for
   * an existing one (raised before a restart, or by another instance before a rebalance), so a
   * replay updates that alert instead of raising a second one.
   */
  async absorb(finding: Finding, gapMs: number): Promise<{ change: Change; incident: Incident }> {
    const key = `${finding.rule}|${finding.tenant}|${finding.subject.kind}|${finding.subject.value}`
    let incident = this.#open.get(key)
    let change: Change = 'updated'
    if (!incident || finding.windowEnd > incident.lastSeen + gapMs) {
      const existing = await this.#find(
        finding.rule,
        finding.tenant,
        finding.subject,
        finding.windowEnd - gapMs,
      )
      if (existing) {
        incident = fromDocument(existing, this.#prefix)
      } else {
        const start = finding.windowStart
        incident = {
          alertId: alertId(finding.rule, finding.tenant, finding.subject, start),
          index: classIndex(this.#prefix, 'alerts', new Date(start)),
          rule: finding.rule,
          severity: finding.severity,
          tenant: finding.tenant,
          subject: finding.subject,
          start,
          lastSeen: finding.windowEnd,
          counts: {},
          evidence: [],
          seenIds: new Set(),
          evidenceTotal: 0,
          relatedUsers: new Set(),
          explanation: finding.explanation,
          raisedAt: this.#now(),
          persisted: false,
          announced: false,
          dirty: true,
        }
        change = 'raised'
      }
      this.#open.set(key, incident)
    }
    // Stored but never announced (the process died, or the produce failed, between the alert
    // write and the `raised` message): it is announced now, as raised.
    if (!incident.announced) change = 'raised'
    // A replayed finding the stored alert already covers changes nothing. (A late, out-of-order
    // event is not a replay: it brings an evidence id the incident has not seen.)
    if (
      change !== 'raised' &&
      incident.persisted &&
      finding.windowEnd <= incident.lastSeen &&
      finding.evidence.every((id) => incident!.seenIds.has(id))
    ) {
      return { change: 'unchanged', incident }
    }
    merge(incident, finding)
    return { change, incident }
  }

  /** Forgets open incidents (after a rebalance another instance may have updated them). */
  clear(): void {
    this.#open.clear()
  }

  get size(): number {
    return this.#open.size
  }
}

function merge(incident: Incident, finding: Finding): void {
  for (const [name, value] of Object.entries(finding.counts)) {
    incident.counts[name] = Math.max(incident.counts[name] ?? 0, value)
  }
  for (const id of finding.evidence) {
    if (incident.seenIds.has(id)) continue
    incident.evidenceTotal++
    if (incident.seenIds.size < MAX_TRACKED_IDS) incident.seenIds.add(id)
    if (incident.evidence.length < MAX_EVIDENCE) incident.evidence.push(id)
  }
  for (const user of finding.relatedUsers) {
    if (incident.relatedUsers.size < MAX_RELATED) incident.relatedUsers.add(user)
  }
  incident.lastSeen = Math.max(incident.lastSeen, finding.windowEnd)
  incident.explanation = finding.explanation
  if (rank(finding.severity) > rank(incident.severity)) incident.severity = finding.severity
  if (finding.seenAt !== undefined && incident.pendingSeenAt === undefined)
    incident.pendingSeenAt = finding.seenAt
  incident.dirty = true
}

const rank = (s: Severity) => ({ low: 0, medium: 1, high: 2 })[s]

export function toDocument(incident: Incident, now: number): AlertDocument {
  return {
    '@timestamp': new Date(incident.start).toISOString(),
    alert_id: incident.alertId,
    rule: incident.rule,
    severity: incident.severity,
    tenant: incident.tenant,
    subject: incident.subject,
    related_users: [...incident.relatedUsers],
    window: { start: new Date(incident.start).toISOString(), end: new Date(incident.lastSeen).toISOString() },
    counts: incident.counts,
    evidence_event_ids: incident.evidence,
    evidence_total: incident.evidenceTotal,
    explanation: incident.explanation,
    status: 'open',
    first_seen: new Date(incident.start).toISOString(),
    last_seen: new Date(incident.lastSeen).toISOString(),
    raised_at: new Date(incident.raisedAt).toISOString(),
    updated_at: new Date(now).toISOString(),
  }
}

/**
 * The incident's index is always where the current layout puts it, not where it was found: an
 * alert read from an old daily index (before `spor migrate` moved it) is written to its monthly
 * index, and the migration then keeps that newer copy and drops the daily one.
 */
function fromDocument(doc: AlertDocument, prefix: string): Incident {
  return {
    alertId: doc.alert_id,
    index: classIndex(prefix, 'alerts', new Date(Date.parse(doc.first_seen))),
    rule: doc.rule,
    severity: doc.severity,
    tenant: doc.tenant,
    subject: doc.subject,
    start: Date.parse(doc.first_seen),
    lastSeen: Date.parse(doc.last_seen),
    counts: { ...doc.counts },
    evidence: [...doc.evidence_event_ids],
    seenIds: new Set(doc.evidence_event_ids),
    evidenceTotal: doc.evidence_total,
    relatedUsers: new Set(doc.related_users),
    explanation: doc.explanation,
    raisedAt: Date.parse(doc.raised_at),
    persisted: true,
    announced: doc.announced_at !== undefined,
    carried: carriedFields(doc),
    dirty: false,
  }
}

function carriedFields(doc: AlertDocument): Incident['carried'] {
  const carried: NonNullable<Incident['carried']> = {}
  if (doc.status !== undefined) carried.status = doc.status
  if (doc.acknowledged_by !== undefined) carried.acknowledged_by = doc.acknowledged_by
  if (doc.acknowledged_at !== undefined) carried.acknowledged_at = doc.acknowledged_at
  if (doc.announced_at !== undefined) carried.announced_at = doc.announced_at
  return carried
}
