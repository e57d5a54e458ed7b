import type { estypes } from '@elastic/elasticsearch'
import { requirePseudonymKey, requireTombstoneKeys, type SporConfig } from '../core/config.ts'
import { EVENT_PATHS } from '../core/ecs-fields.ts'
import { classPattern } from '../core/indices.ts'
import { createPseudonymizer } from '../enrich/pseudonym.ts'
import { tombstoneHasher } from './tombstones.ts'

/** The classes a person's data can be in, in export order. */
export const SUBJECT_CLASSES = ['short', 'long', 'alerts', 'profiles'] as const
export type SubjectClass = (typeof SUBJECT_CLASSES)[number]

export interface Subject {
  tenant: string
  user: string
  /** The per-tenant pseudonym (profiles, audit records). */
  pseudo: string
  /** The tombstone hash (under the current pseudonym key: what a new erasure writes). */
  hash: string
  /** The tombstone hashes under every active key, current first (SPOR_PSEUDONYM_KEY_PREVIOUS). */
  hashes: string[]
}

/** Turns tenant + user into the identifiers the indices use; one instance per process. */
export function subjectResolver(config: SporConfig): (tenant: string, user: string) => Subject {
  const key = requirePseudonymKey(config)
  const pseudonym = createPseudonymizer(key)
  const hashers = requireTombstoneKeys(config).map(tombstoneHasher)
  return (tenant, user) => {
    const hashes = hashers.map((hash) => hash(tenant, user))
    return { tenant, user, pseudo: pseudonym(tenant, user), hash: hashes[0]!, hashes }
  }
}

const term = (field: string, value: string): estypes.QueryDslQueryContainer => ({ term: { [field]: value } })

/**
 * Where each class keeps the person:
 *  - short: raw events with `user.id`;
 *  - long: their own events (`user.id`, including privacy requests they made as an administrator)
 *    and audit records about them (`props.subject_pseudo`);
 *  - alerts: `related_users` (written by detection);
 *  - profiles: keyed by the pseudonym only.
 */
export function subjectQuery(cls: SubjectClass, subject: Subject): estypes.QueryDslQueryContainer {
  // Event documents name the tenant by ECS (`organization.id`); alerts and profiles keep `tenant`.
  const tenant = term(cls === 'short' || cls === 'long' ? EVENT_PATHS.tenant : 'tenant', subject.tenant)
  switch (cls) {
    case 'short':
      return { bool: { filter: [tenant, term(EVENT_PATHS.userId, subject.user)] } }
    case 'long':
      return {
        bool: {
          filter: [tenant],
          should: [term(EVENT_PATHS.userId, subject.user), term('props.subject_pseudo', subject.pseudo)],
          minimum_should_match: 1,
        },
      }
    case 'alerts':
      return { bool: { filter: [tenant, term('related_users', subject.user)] } }
    case 'profiles':
      return { bool: { filter: [tenant, term('user.pseudo', subject.pseudo)] } }
  }
}

/** Long-class documents whose identifiers erasure removes: the person's own events only. */
export function ownLongQuery(subject: Subject): estypes.QueryDslQueryContainer {
  return {
    bool: { filter: [term(EVENT_PATHS.tenant, subject.tenant), term(EVENT_PATHS.userId, subject.user)] },
  }
}

export function classIndexPattern(prefix: string, cls: SubjectClass): string {
  return classPattern(prefix, cls)
}
