import type { Client } from '@elastic/elasticsearch'
import type { SporConfig } from '../core/config.ts'
import { toEcsDocument } from '../core/ecs-fields.ts'
import { MISSING_INDICES_ARE_EMPTY, parseClassIndex } from '../core/indices.ts'
import type { Logger } from '../core/logger.ts'
import { LONG_PROPERTIES, SHORT_PROPERTIES } from '../ilm-policies/mappings.ts'
import { projectAlertForSubject } from './alert-projection.ts'
import { type Requester, writeAudit } from './audit.ts'
import { csvColumnsFromMappings, type ExportRecord } from './export-format.ts'
import { closePit, countInPit, openPit, type PitHandle, scanPages } from './pit-scan.ts'
import {
  classIndexPattern,
  SUBJECT_CLASSES,
  type Subject,
  type SubjectClass,
  subjectQuery,
} from './subject.ts'

export interface ClassSummary {
  index_pattern: string
  count: number
  first?: string
  last?: string
  retention_days: number
  holds: string
}

export interface ExportManifest {
  subject: { tenant: string; user: string; pseudonym: string }
  generated_at: string
  total: number
  time_span: { first?: string; last?: string }
  classes: Record<SubjectClass, ClassSummary>
  not_included: { what: string; why: string }[]
  note: string
}

const HOLDS: Record<SubjectClass, string> = {
  short:
    'raw usage and device events: logins, pages, functions, IP address, device, browser, position (S1-S3)',
  long: 'business history: jobs, messages, administration, and privacy requests made by or about the person',
  alerts:
    'misuse alerts that name the person (S7), each shown only as far as it concerns the person: other people in an alert appear neither by id nor by name',
  profiles: 'automatic categorisation (segments) with the figures that decided it (S5)',
}

/** What an export cannot contain, and why; part of every manifest. */
export function notIncluded(config: SporConfig): { what: string; why: string }[] {
  const hours = Math.round(config.kafka.topicRetentionMs / 3_600_000)
  return [
    {
      what: `Kafka topics ${config.kafka.eventsTopic} and ${config.kafka.dlqTopic}`,
      why: `the transport queue keeps the raw events (and rejected ones) for at most ${hours} hours before deleting them; the same data is in the short class above once indexed`,
    },
    {
      what: 'anonymous statistics (stats class, dashboards)',
      why: 'counts over groups of at least k people without any personal identifier; they cannot be linked to a person',
    },
    {
      what: 'backups or snapshots of Elasticsearch taken by the operator',
      why: 'outside spor; the operator restores them only with the erasure tombstones in place',
    },
    {
      what: 'long-class records whose identifiers were removed by an earlier erasure',
      why: 'no longer linked to the person',
    },
    {
      what: 'the audit record of this export',
      why: 'it is written when the export finishes and appears in the next export',
    },
    {
      what: 'service logs',
      why: 'spor does not log user ids, names or IP addresses',
    },
  ]
}

export interface SubjectExport {
  manifest: ExportManifest
  /** Dotted CSV columns from the mappings of the exported indices. */
  columns: string[]
  /** Streams every document, one page in memory at a time; writes the audit record at the end. */
  records: () => AsyncGenerator<ExportRecord>
  /** Releases the point-in-time views when `records` is never consumed. */
  close: () => Promise<void>
}

export interface ExportDeps {
  es: Client
  config: SporConfig
  log: Logger
  now: () => Date
}

/**
 * Opens an export of everything spor holds on `subject`: one point-in-time view per class, counted
 * first (so the manifest is exact and a person with nothing is a 404 before any byte is sent),
 * then streamed. Returns undefined when spor holds nothing on the person.
 */
export async function openSubjectExport(
  deps: ExportDeps,
  subject: Subject,
  requester: Requester,
): Promise<SubjectExport | undefined> {
  const { es, config } = deps
  const prefix = config.es.indexPrefix
  const pits = new Map<SubjectClass, PitHandle>()
  const close = async () => {
    await Promise.all([...pits.values()].map((pit) => closePit(es, pit)))
    pits.clear()
  }
  try {
    const classes = {} as Record<SubjectClass, ClassSummary>
    let total = 0
    let first: string | undefined
    let last: string | undefined
    for (const cls of SUBJECT_CLASSES) {
      const pattern = classIndexPattern(prefix, cls)
      const pit = await openPit(es, pattern)
      pits.set(cls, pit)
      const summary = await countInPit(es, pit, subjectQuery(cls, subject))
      classes[cls] = {
        index_pattern: pattern,
        count: summary.count,
        ...(summary.first ? { first: summary.first, last: summary.last } : {}),
        retention_days: config.retentionDays[cls],
        holds: HOLDS[cls],
      }
      total += summary.count
      if (summary.first && (!first || summary.first < first)) first = summary.first
      if (summary.last && (!last || summary.last > last)) last = summary.last
    }
    if (total === 0) {
      await close()
      return undefined
    }
    const mappings = await es.indices.getMapping({
      index: SUBJECT_CLASSES.filter((cls) => classes[cls].count > 0).map((cls) =>
        classIndexPattern(prefix, cls),
      ),
      ...MISSING_INDICES_ARE_EMPTY,
    })
    // An index of first-shape documents (awaiting `spor migrate`) is read in the ECS shape.
    const columns = csvColumnsFromMappings(
      Object.fromEntries(
        Object.entries(mappings).map(([name, m]) => {
          const parsed = parseClassIndex(name)
          if (parsed?.generation !== 'first') return [name, m.mappings]
          return [name, { properties: parsed.cls === 'short' ? SHORT_PROPERTIES : LONG_PROPERTIES }]
        }),
      ),
    )
    const manifest: ExportManifest = {
      subject: { tenant: subject.tenant, user: subject.user, pseudonym: subject.pseudo },
      generated_at: deps.now().toISOString(),
      total,
      time_span: { first, last },
      classes,
      not_included: notIncluded(config),
      note: 'counts are from one consistent point-in-time view per class; the export lists exactly these documents',
    }
    async function* records(): AsyncGenerator<ExportRecord> {
      const sent: Record<string, number> = { short: 0, long: 0, alerts: 0, profiles: 0 }
      let complete = false
      try {
        for (const cls of SUBJECT_CLASSES) {
          const pit = pits.get(cls)!
          if (classes[cls].count === 0) continue
          for await (const page of scanPages(es, pit, subjectQuery(cls, subject))) {
            for (const hit of page) {
              sent[cls]! += 1
              const source = (hit._source ?? {}) as Record<string, unknown>
              // Alerts name other people too: an export shows only what concerns its subject.
              // Event documents not yet moved by `spor migrate` are shown by their ECS names.
              const document =
                cls === 'alerts'
                  ? projectAlertForSubject(source, subject.user)
                  : cls === 'profiles'
                    ? source
                    : toEcsDocument(source)
              yield { class: cls, index: hit._index, id: hit._id!, document }
            }
          }
        }
        complete = true
      } finally {
        await close()
        // Written even when the reader stopped early: part of the data did leave.
        await writeAudit(es, prefix, {
          action: 'export',
          subject,
          requester,
          at: deps.now(),
          counts: { ...sent, complete: complete ? 1 : 0 },
        }).catch((error) =>
          deps.log.error({ err: (error as Error).message }, 'export audit record could not be written'),
        )
      }
    }
    return { manifest, columns, records, close }
  } catch (error) {
    await close()
    throw error
  }
}
