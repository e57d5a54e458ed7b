import { randomUUID } from 'node:crypto'
import type { Client } from '@elastic/elasticsearch'
import { ECS_EVENT_KIND, ecsCategory } from '../core/ecs-fields.ts'
import { classIndex } from '../core/indices.ts'
import type { Subject } from './subject.ts'

/** Who made a privacy request: an API key (optionally naming the administrator's user id) or the CLI. */
export interface Requester {
  /** The API key id, or `cli`. */
  key: string
  /** The administrator's own user id in the tenant, so the request shows in their export. */
  user?: string
  /** The administrator's pseudonym in the tenant (derived by the caller). */
  pseudo?: string
}

export type AuditAction = 'export' | 'erase'

/**
 * The `_id` of an audit record: `<tenant>#audit:<event id>`. Ingested events get
 * `<tenant>:<event id>` (ingest/plan-batch.ts) and neither a tenant nor an event id may contain
 * `#` (core/event-schema.ts), so no event, from any producer, can land on an audit record.
 */
export function auditDocumentId(tenant: string, eventId: string): string {
  return `${tenant}#audit:${eventId}`
}

/**
 * One audit event per export or erasure, in the long class (`privacy.*` types are long: kept a
 * year). The subject appears only as a pseudonym; the requester as `user.id` when known, so the
 * administrator's own export lists the requests they made.
 */
export async function writeAudit(
  es: Client,
  prefix: string,
  input: {
    action: AuditAction
    subject: Subject
    requester: Requester
    at: Date
    counts: Record<string, number>
  },
): Promise<{ index: string; id: string }> {
  const eventId = `privacy-${input.action}-${randomUUID()}`
  const action = `privacy.${input.action}`
  const index = classIndex(prefix, 'long', input.at)
  const id = auditDocumentId(input.subject.tenant, eventId)
  const props: Record<string, string | number> = {
    requester_key: input.requester.key,
    subject_pseudo: input.subject.pseudo,
  }
  for (const [name, value] of Object.entries(input.counts)) props[`count_${name}`] = value
  await es.index({
    index,
    id,
    op_type: 'create',
    refresh: 'wait_for',
    // An event document of the long class, in the same ECS shape as enrich/enrich-event.ts.
    document: {
      '@timestamp': input.at.toISOString(),
      event: {
        id: eventId,
        action,
        kind: ECS_EVENT_KIND,
        category: ecsCategory(action),
        ingested: input.at.toISOString(),
      },
      organization: { id: input.subject.tenant },
      ...(input.requester.user ? { user: { id: input.requester.user, hash: input.requester.pseudo } } : {}),
      spor: { event_version: 1, module: 'privacy', function: input.action },
      props,
    },
  })
  return { index, id }
}
