import type { Client } from '@elastic/elasticsearch'
import type { SporConfig } from '../core/config.ts'
import type { Logger } from '../core/logger.ts'
import type { Requester } from './audit.ts'
import { type ErasureReceipt, eraseSubject, subjectKnown } from './erase.ts'
import { openSubjectExport, type SubjectExport } from './export.ts'
import { type Subject, subjectResolver } from './subject.ts'

/**
 * The data-subject rights operations, shared by the CLI and the API. Both entry points check
 * access first (the API: tenant administrator of that tenant only); this layer trusts its caller.
 */
export class PrivacyService {
  readonly #deps: { es: Client; config: SporConfig; log: Logger; now: () => Date }
  readonly #resolve: (tenant: string, user: string) => Subject

  constructor(deps: { es: Client; config: SporConfig; log: Logger; now?: () => Date }) {
    this.#deps = {
      ...deps,
      log: deps.log.child({ component: 'privacy' }),
      now: deps.now ?? (() => new Date()),
    }
    // Fails at start without SPOR_PSEUDONYM_KEY: subjects are found by pseudonym and tombstone hash.
    this.#resolve = subjectResolver(deps.config)
  }

  subject(tenant: string, user: string): Subject {
    return this.#resolve(tenant, user)
  }

  /** The requester as recorded in audit events; `user` is the administrator's own user id, if given. */
  requester(key: string, tenant: string, user?: string): Requester {
    return user ? { key, user, pseudo: this.#resolve(tenant, user).pseudo } : { key }
  }

  /** Undefined when spor holds nothing on the person (the API answers 404). */
  openExport(tenant: string, user: string, requester: Requester): Promise<SubjectExport | undefined> {
    return openSubjectExport(this.#deps, this.subject(tenant, user), requester)
  }

  /** Undefined when the person is unknown and was never erased (the API answers 404). */
  async erase(tenant: string, user: string, requester: Requester): Promise<ErasureReceipt | undefined> {
    const subject = this.subject(tenant, user)
    if (!(await subjectKnown(this.#deps.es, this.#deps.config.es.indexPrefix, subject))) return undefined
    return eraseSubject(this.#deps, subject, requester)
  }
}
