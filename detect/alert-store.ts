import type { Client, estypes } from '@elastic/elasticsearch'
import { SporError } from '../core/errors.ts'
import { classPattern, MISSING_INDICES_ARE_EMPTY } from '../core/indices.ts'
import { ALERT_PROPERTIES } from './alert-mapping.ts'
import type { AlertDocument, FindAlert, Incident } from './incidents.ts'
import { toDocument } from './incidents.ts'

/**
 * Alert documents in `<prefix>-alerts-*`. Writes are partial updates with an upsert: the
 * detector owns the evidence fields, people own `status` and `acknowledged_*`, and a later update
 * of an ongoing incident never reopens or un-acknowledges it.
 */
export class AlertStore {
  readonly #es: Client
  readonly #pattern: string

  constructor(es: Client, indexPrefix: string) {
    this.#es = es
    this.#pattern = classPattern(indexPrefix, 'alerts')
  }

  /** Alert indices created before `announced_at` existed get the field: their strict mapping
   * would reject the announce mark (and stall the rule stage). Adding a field is allowed. */
  async ensureMapping(): Promise<void> {
    await this.#es.indices.putMapping({
      index: this.#pattern,
      ...MISSING_INDICES_ARE_EMPTY,
      properties: { announced_at: ALERT_PROPERTIES.announced_at! },
    })
  }

  readonly find: FindAlert = async (rule, tenant, subject, since) => {
    const result = await this.#es.search<AlertDocument>({
      index: this.#pattern,
      ...MISSING_INDICES_ARE_EMPTY,
      size: 1,
      sort: [{ last_seen: 'desc' }],
      query: {
        bool: {
          filter: [
            { term: { rule } },
            { term: { tenant } },
            { term: { 'subject.kind': subject.kind } },
            { term: { 'subject.value': subject.value } },
            { range: { last_seen: { gte: new Date(since).toISOString() } } },
          ],
        },
      },
    })
    const hit = result.hits.hits[0]
    return hit?._source ? { ...hit._source, _index: hit._index } : undefined
  }

  /** Writes the incidents and refreshes at once (alerts are rare): the next lookup, the API and a
   * restarted detector see them without waiting for the periodic refresh. */
  async write(incidents: Incident[], now: number): Promise<AlertDocument[]> {
    if (incidents.length === 0) return []
    const docs = incidents.map((i) => toDocument(i, now))
    const operations: (estypes.BulkOperationContainer | Record<string, unknown>)[] = []
    docs.forEach((doc, n) => {
      const { status: _status, ...detectorFields } = doc
      operations.push({ update: { _index: incidents[n]!.index, _id: doc.alert_id, retry_on_conflict: 3 } })
      // A copy made in another index than the one read from keeps what people set there.
      operations.push({ doc: detectorFields, upsert: { ...doc, ...incidents[n]!.carried } })
    })
    const response = await this.#es.bulk({ operations, refresh: true })
    if (response.errors) {
      const failed = response.items.find((item) => item.update?.error)?.update
      throw new SporError('SPOR_ERR_ES', `alert write failed: ${failed?.status} ${failed?.error?.reason}`)
    }
    return docs
  }

  /** Records that the alerts' `raised` messages were produced. Refreshed at once, so a detector
   * taking over right after sees the mark and does not announce again. */
  async markAnnounced(alerts: { index: string; alertId: string }[], at: number): Promise<void> {
    if (alerts.length === 0) return
    const announced_at = new Date(at).toISOString()
    const operations = alerts.flatMap((a) => [
      { update: { _index: a.index, _id: a.alertId, retry_on_conflict: 3 } },
      { doc: { announced_at } },
    ])
    const response = await this.#es.bulk({ operations, refresh: true })
    if (response.errors) {
      const failed = response.items.find((item) => item.update?.error)?.update
      throw new SporError(
        'SPOR_ERR_ES',
        `alert announce mark failed: ${failed?.status} ${failed?.error?.reason}`,
      )
    }
  }
}
