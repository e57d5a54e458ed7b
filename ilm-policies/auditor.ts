import type { Client, estypes } from '@elastic/elasticsearch'
import type { Kafka } from 'kafkajs'
import type { SporConfig } from '../core/config.ts'
import { hasIlm } from '../core/es.ts'
import { classPattern, MISSING_INDICES_ARE_EMPTY } from '../core/indices.ts'
import {
  DAY_MS,
  RETENTION_CLASSES,
  RETENTION_TIME_FIELD,
  type RetentionClass,
  type RetentionDays,
} from '../core/retention.ts'
import { auditCapacity, type CapacityAudit } from './capacity.ts'
import { listClassIndices, selectExpired } from './enforcer.ts'
import { policyName } from './policies.ts'
import { retentionMetrics } from './retention-metrics.ts'
import { registeredClasses, templateName } from './templates.ts'
import { auditTopics, type TopicAuditEntry } from './topic-audit.ts'

/**
 * The proof side of retention (S10): what is actually stored, measured by Elasticsearch, not
 * inferred from index names. A document older than its class's retention plus one day is a
 * violation: a day's documents expire together at the day's start plus the retention, so the
 * newest of them is up to a day younger, and the grace day covers that plus the enforcer's
 * interval. The same holds inside monthly and yearly indices, whose sweep deletes by day.
 */

export const GRACE_DAYS = 1
const MAX_INDICES_REPORTED = 500

export interface IndexViolation {
  index: string
  count: number
  oldest: string
}

export interface ClassAudit {
  cls: RetentionClass
  retentionDays: number
  oldest: string | null
  oldestAgeSeconds: number | null
  /** Documents with @timestamp before this instant are violations. */
  cutoff: string
  violations: IndexViolation[]
  /** Indices past their expiry that still exist: the enforcer or ILM is behind. */
  expiredIndices: string[]
}

export interface IlmAudit {
  present: boolean
  policies: { name: string; installed: boolean; deleteAfter: string | null; expected: string }[]
  templates: { name: string; installed: boolean; lifecycle: string | null; expected: string }[]
  /** spor daily indices that ILM does not manage (policy missing from their settings). */
  unmanaged: string[]
}

export interface AuditReport {
  now: string
  prefix: string
  classes: ClassAudit[]
  topics: TopicAuditEntry[] | null
  ilm: IlmAudit
  capacity: CapacityAudit
  /** One line per problem; empty means the promise holds. */
  violations: string[]
}

/** Pure: the instant before which a document of a class is a violation. */
export function violationCutoff(now: Date, retentionDays: number): Date {
  return new Date(now.getTime() - (retentionDays + GRACE_DAYS) * DAY_MS)
}

interface MinAgg {
  value: number | null
}
interface ClassAggs {
  oldest: MinAgg
  too_old: { by_index: { buckets: { key: string; doc_count: number; oldest: MinAgg }[] } }
}

/** Oldest @timestamp and too-old documents per index for one class, in one search. */
export async function auditClassData(
  es: Client,
  prefix: string,
  cls: RetentionClass,
  retentionDays: RetentionDays,
  now: Date,
): Promise<Omit<ClassAudit, 'expiredIndices'>> {
  const cutoff = violationCutoff(now, retentionDays[cls])
  // Events, alerts and profiles are placed by @timestamp; stats rollup rows by their day.
  const field = RETENTION_TIME_FIELD[cls]
  const result = await es.search<unknown, ClassAggs>({
    index: classPattern(prefix, cls),
    ...MISSING_INDICES_ARE_EMPTY,
    size: 0,
    track_total_hits: false,
    aggs: {
      oldest: { min: { field } },
      too_old: {
        filter: { range: { [field]: { lt: cutoff.toISOString(), format: 'strict_date_optional_time' } } },
        aggs: {
          by_index: {
            terms: { field: '_index', size: MAX_INDICES_REPORTED },
            aggs: { oldest: { min: { field } } },
          },
        },
      },
    },
  })
  const aggs = result.aggregations
  const oldestMs = aggs?.oldest.value ?? null
  const violations = (aggs?.too_old.by_index.buckets ?? []).map((b) => ({
    index: b.key,
    count: b.doc_count,
    oldest: new Date(b.oldest.value ?? 0).toISOString(),
  }))
  return {
    cls,
    retentionDays: retentionDays[cls],
    oldest: oldestMs === null ? null : new Date(oldestMs).toISOString(),
    oldestAgeSeconds: oldestMs === null ? null : Math.round((now.getTime() - oldestMs) / 1000),
    cutoff: cutoff.toISOString(),
    violations,
  }
}

function lifecycleNameOf(settings: estypes.IndicesIndexSettings | undefined): string | null {
  if (!settings) return null
  const flat = settings['index.lifecycle.name'] as string | undefined
  const nested = (settings.index as { lifecycle?: { name?: string } } | undefined)?.lifecycle?.name
  const plain = (settings as { lifecycle?: { name?: string } }).lifecycle?.name
  return flat ?? nested ?? plain ?? null
}

/** With ILM: are the policies installed with the table's periods, and attached by templates? */
export async function auditIlm(es: Client, config: SporConfig): Promise<IlmAudit> {
  const prefix = config.es.indexPrefix
  const audit: IlmAudit = { present: await hasIlm(es), policies: [], templates: [], unmanaged: [] }
  if (!audit.present) return audit
  for (const cls of RETENTION_CLASSES) {
    const name = policyName(prefix, cls)
    const found = await es.ilm.getLifecycle({ name }).catch(() => ({}) as estypes.IlmGetLifecycleResponse)
    const minAge = found[name]?.policy.phases.delete?.min_age
    audit.policies.push({
      name,
      installed: Boolean(found[name]),
      deleteAfter: minAge === undefined ? null : String(minAge),
      expected: `${config.retentionDays[cls]}d`,
    })
  }
  for (const cls of registeredClasses()) {
    const name = templateName(prefix, cls)
    const found = await es.indices.getIndexTemplate({ name }).catch(() => ({ index_templates: [] }))
    const template = found.index_templates[0]?.index_template
    audit.templates.push({
      name,
      installed: Boolean(template),
      lifecycle: lifecycleNameOf(template?.template?.settings),
      expected: policyName(prefix, cls),
    })
    const explained = await es.ilm.explainLifecycle({ index: classPattern(prefix, cls) }).catch(() => ({
      indices: {} as estypes.IlmExplainLifecycleResponse['indices'],
    }))
    for (const [index, state] of Object.entries(explained.indices)) {
      if (!state.managed || state.policy !== policyName(prefix, cls)) audit.unmanaged.push(index)
    }
  }
  return audit
}

function ilmViolations(ilm: IlmAudit): string[] {
  const lines: string[] = []
  for (const p of ilm.policies) {
    if (!p.installed) lines.push(`ILM policy ${p.name} is not installed (run spor setup)`)
    else if (p.deleteAfter !== p.expected)
      lines.push(`ILM policy ${p.name} deletes after ${p.deleteAfter}, the table says ${p.expected}`)
  }
  for (const t of ilm.templates) {
    if (!t.installed) lines.push(`index template ${t.name} is not installed (run spor setup)`)
    else if (t.lifecycle !== t.expected)
      lines.push(`index template ${t.name} attaches ${t.lifecycle ?? 'no policy'}, expected ${t.expected}`)
  }
  for (const index of ilm.unmanaged) lines.push(`index ${index} is not managed by its ILM policy`)
  return lines
}

export interface AuditOptions {
  now: Date
  /** Omit to audit Elasticsearch only (the ingest service's scheduled audit). */
  kafka?: Kafka
}

/** The full audit: stored documents, expired indices, ILM (where present) and Kafka topics. */
export async function auditRetention(
  es: Client,
  config: SporConfig,
  options: AuditOptions,
): Promise<AuditReport> {
  const prefix = config.es.indexPrefix
  const { now } = options
  const expired = selectExpired(await listClassIndices(es, prefix), prefix, config.retentionDays, now).expired
  const classes: ClassAudit[] = []
  for (const cls of RETENTION_CLASSES) {
    const data = await auditClassData(es, prefix, cls, config.retentionDays, now)
    classes.push({ ...data, expiredIndices: expired.filter((e) => e.cls === cls).map((e) => e.index) })
  }
  const ilm = await auditIlm(es, config)
  const capacity = await auditCapacity(es, config)
  const topics = options.kafka ? await auditTopics(options.kafka, config) : null

  const violations: string[] = []
  for (const c of classes) {
    for (const v of c.violations) {
      violations.push(
        `${v.count} ${c.cls} document(s) in ${v.index} older than ${c.retentionDays} + ${GRACE_DAYS} days (oldest ${v.oldest})`,
      )
    }
  }
  for (const t of topics ?? []) for (const p of t.problems) violations.push(`topic ${t.topic}: ${p}`)
  violations.push(...ilmViolations(ilm))
  violations.push(...capacity.violations)
  return { now: now.toISOString(), prefix, classes, topics, ilm, capacity, violations }
}

/** Publishes the audit as gauges: oldest age and violating documents per class. */
export function recordAuditMetrics(report: AuditReport): void {
  for (const c of report.classes) {
    if (c.oldestAgeSeconds === null) retentionMetrics.oldestAge.remove({ class: c.cls })
    else retentionMetrics.oldestAge.set({ class: c.cls }, c.oldestAgeSeconds)
    retentionMetrics.violatingDocs.set(
      { class: c.cls },
      c.violations.reduce((sum, v) => sum + v.count, 0),
    )
  }
  for (const c of report.capacity.classes) {
    retentionMetrics.primaries.set({ class: c.cls }, c.primaries)
    retentionMetrics.projectedPrimaries.set({ class: c.cls }, c.projected)
  }
}
