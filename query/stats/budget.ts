import { createHash } from 'node:crypto'
import type { Client, estypes } from '@elastic/elasticsearch'
import type { SporConfig } from '../../core/config.ts'
import { SporError } from '../../core/errors.ts'
import { ensureSingleIndex } from '../../core/es.ts'
import { deleteMatching } from '../../privacy/pit-scan.ts'

/**
 * A budget of distinct statistics questions per data scope, kept in Elasticsearch
 * (`<prefix>-question-budget`, a single index like keys and leases, outside the `stats-*`
 * pattern rollups are read by) so that every `spor query` instance spends from the same budget
 * and a restart forgets nothing.
 *
 * - The scope is the data a question covers: one tenant (whether asked with that tenant's key or a
 *   product-wide key with `tenant=`), or `*` for product-wide questions. Minting more keys
 *   therefore does not multiply what can be learned about a tenant.
 * - A question is counted once per window (`SPOR_STATS_BUDGET_WINDOW_HOURS`): the same question
 *   again — a dashboard reload, another key, another instance — costs nothing. Its answer is the
 *   same anyway (noise is seeded by the data, query/anonymity.ts).
 * - Per window and scope at most `SPOR_STATS_BUDGET_QUESTIONS` distinct questions are answered;
 *   the next one is refused with SPOR_ERR_BUDGET_SPENT until the window turns.
 *
 * Concurrency: the counter is one document per (scope, window) updated with optimistic
 * concurrency (`if_seq_no`), reads by id are real-time. A question is charged before it is
 * recorded, so two instances racing on the same new question may both charge it (the budget errs
 * on the side of the data subject), never neither.
 */
export interface BudgetOptions {
  questions: number
  windowMs: number
}

export interface Charge {
  /** 0 for a question already asked in this window, else 1. */
  cost: number
  spent: number
  limit: number
  windowEnds: string
}

interface LedgerDoc {
  kind: 'question' | 'counter'
  scope: string
  window: string
  spent?: number
  at: string
}

const LEDGER_MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    kind: { type: 'keyword' },
    scope: { type: 'keyword' },
    window: { type: 'keyword' },
    spent: { type: 'integer' },
    at: { type: 'date' },
  },
}

/** The scope of questions asked without `tenant=` by a product-wide key. */
export const PRODUCT_WIDE = '*'

/** Tenant budgets charged in parallel for one product-wide question (bounded round trips). */
const TENANT_CHARGES_AT_ONCE = 16

/** Attempts at the counter's compare-and-set before giving up (only under heavy contention). */
const MAX_ATTEMPTS = 50

export function budgetIndex(prefix: string): string {
  return `${prefix}-question-budget`
}

/** The budget as configured (SPOR_STATS_BUDGET_QUESTIONS per SPOR_STATS_BUDGET_WINDOW_HOURS). */
export function questionBudget(es: Client, config: SporConfig): QuestionBudget {
  return new QuestionBudget(es, config.es.indexPrefix, {
    questions: config.query.statsBudgetQuestions,
    windowMs: config.query.statsBudgetWindowHours * 3_600_000,
  })
}

export class QuestionBudget {
  readonly #es: Client
  readonly #index: string
  readonly #options: BudgetOptions
  #ready: Promise<void> | undefined

  constructor(es: Client, prefix: string, options: BudgetOptions) {
    this.#es = es
    this.#index = budgetIndex(prefix)
    this.#options = options
  }

  /**
   * Charges a question to its scope's budget and, for a product-wide question (scope `*`), to
   * the budget of every tenant whose data the answer is made of: a product-wide key must not
   * learn about a tenant more than that tenant's own budget allows (e.g. through `by=tenant`).
   * A product-wide question already charged in this window is free, as any repeated question.
   * Tenants are charged before `*`: if one of them is spent the question is refused and stays
   * unrecorded for `*`, so it is tried again next time (the tenants already charged keep the
   * charge: the budget errs on the side of the data subject).
   */
  async chargeCovering(scope: string, question: string, tenants: string[], now: Date): Promise<Charge> {
    if (scope !== PRODUCT_WIDE || tenants.length === 0) return this.charge(scope, question, now)
    const known = await this.#asked(scope, question, now)
    if (known) return known
    for (let i = 0; i < tenants.length; i += TENANT_CHARGES_AT_ONCE)
      await Promise.all(
        tenants.slice(i, i + TENANT_CHARGES_AT_ONCE).map((tenant) => this.charge(tenant, question, now)),
      )
    return this.charge(scope, question, now)
  }

  /** The charge of a question already asked in this window (cost 0), or undefined. */
  async #asked(scope: string, question: string, now: Date): Promise<Charge | undefined> {
    await this.#ensureIndex()
    const { window, windowEnds } = this.#window(now)
    const [asked, counter] = await Promise.all([
      this.#es.get<LedgerDoc>(
        { index: this.#index, id: ledgerId('question', scope, window, question) },
        { ignore: [404] },
      ),
      this.#es.get<LedgerDoc>(
        { index: this.#index, id: ledgerId('counter', scope, window) },
        { ignore: [404] },
      ),
    ])
    if (!asked.found) return undefined
    return { cost: 0, spent: counter._source?.spent ?? 0, limit: this.#options.questions, windowEnds }
  }

  #window(now: Date): { window: string; windowEnds: string } {
    const windowStart = Math.floor(now.getTime() / this.#options.windowMs) * this.#options.windowMs
    return {
      window: new Date(windowStart).toISOString(),
      windowEnds: new Date(windowStart + this.#options.windowMs).toISOString(),
    }
  }

  /** Charges a question to its scope's budget, or throws SPOR_ERR_BUDGET_SPENT. */
  async charge(scope: string, question: string, now: Date): Promise<Charge> {
    await this.#ensureIndex()
    const { window, windowEnds } = this.#window(now)
    const limit = this.#options.questions
    const questionId = ledgerId('question', scope, window, question)
    const counterId = ledgerId('counter', scope, window)

    // Both reads at once: a known question costs one round trip, a new one three.
    const [asked, first] = await Promise.all([
      this.#es.get<LedgerDoc>({ index: this.#index, id: questionId }, { ignore: [404] }),
      this.#es.get<LedgerDoc>({ index: this.#index, id: counterId }, { ignore: [404] }),
    ])
    if (asked.found) return { cost: 0, spent: first._source?.spent ?? 0, limit, windowEnds }
    let counter = first
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0)
        counter = await this.#es.get<LedgerDoc>({ index: this.#index, id: counterId }, { ignore: [404] })
      const spent = counter._source?.spent ?? 0
      if (spent >= limit)
        throw new SporError(
          'SPOR_ERR_BUDGET_SPENT',
          `the budget of ${limit} distinct statistics questions about this data is spent until ${windowEnds}; questions already asked are still answered`,
        )
      const document: LedgerDoc = { kind: 'counter', scope, window, spent: spent + 1, at: now.toISOString() }
      try {
        await this.#es.index({
          index: this.#index,
          id: counterId,
          document,
          ...(counter.found
            ? { if_seq_no: counter._seq_no!, if_primary_term: counter._primary_term! }
            : { op_type: 'create' as const }),
        })
      } catch (error) {
        if (isConflict(error)) continue
        throw error
      }
      await this.#es.index(
        {
          index: this.#index,
          id: questionId,
          op_type: 'create',
          document: { kind: 'question', scope, window, at: now.toISOString() } satisfies LedgerDoc,
        },
        { ignore: [409] },
      )
      return { cost: 1, spent: spent + 1, limit, windowEnds }
    }
    throw new SporError('SPOR_ERR_ES', 'the question budget is too contended to update; try again')
  }

  /**
   * Deletes the ledger of windows that have ended (counters and questions): they no longer
   * decide anything. Point-in-time pages and bulk deletes by id (no `_delete_by_query` on the
   * local node); run by the rollup schedule, which holds a lease, so one instance at a time.
   */
  async deleteExpired(now: Date): Promise<number> {
    await this.#ensureIndex()
    const current = this.#window(now).window
    return deleteMatching(this.#es, this.#index, { range: { window: { lt: current } } })
  }

  #ensureIndex(): Promise<void> {
    this.#ready ??= ensureSingleIndex(this.#es, this.#index, LEDGER_MAPPINGS).catch((error) => {
      this.#ready = undefined
      throw error
    })
    return this.#ready
  }
}

/** Ledger ids are hashes: a question's text (tenant, module) never becomes an id in clear. */
function ledgerId(...parts: string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 32)
}

function isConflict(error: unknown): boolean {
  return (error as { meta?: { statusCode?: number } }).meta?.statusCode === 409
}
