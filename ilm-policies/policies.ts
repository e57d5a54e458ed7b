import type { estypes } from '@elastic/elasticsearch'
import { INDEX_PERIODS, type IndexPeriod } from '../core/indices.ts'
import type { RetentionClass, RetentionDays } from '../core/retention.ts'

/**
 * Lifecycle policies: delete each index once the last day of its period is past its class's
 * retention. Elasticsearch takes the origination date from the index name, which is the first
 * day of the period (`index.lifecycle.parse_origination_date`), so a period longer than a day
 * adds its longest length (31 days for a month, 366 for a year): ILM never deletes a document
 * early. Inside a coarse index, documents past retention are deleted by spor's sweep to the day;
 * ILM only drops the emptied index. Typed with the client's own `IlmPolicy`, so a misspelt
 * action or field fails `tsc`.
 */
export function policyName(prefix: string, cls: RetentionClass): string {
  return `${prefix}-${cls}-retention`
}

const LONGEST_PERIOD_DAYS: Readonly<Record<IndexPeriod, number>> = { day: 0, month: 31, year: 366 }

/** Days after the origination date (the period's first day) when ILM deletes an index. */
export function policyDeleteAfterDays(cls: RetentionClass, retention: RetentionDays): number {
  return retention[cls] + LONGEST_PERIOD_DAYS[INDEX_PERIODS[cls]]
}

export function lifecyclePolicy(cls: RetentionClass, retention: RetentionDays): estypes.IlmPolicy {
  const period = INDEX_PERIODS[cls]
  const after = policyDeleteAfterDays(cls, retention)
  return {
    _meta: {
      managed_by: 'spor',
      class: cls,
      description:
        period === 'day'
          ? `delete ${cls} indices ${retention[cls]} days after their date`
          : `delete ${cls} ${period} indices ${after} days after their first day (${retention[cls]} days retention + the longest ${period}); spor's sweep deletes expired documents inside them daily`,
    },
    phases: {
      hot: { min_age: '0ms', actions: {} },
      delete: { min_age: `${after}d`, actions: { delete: { delete_searchable_snapshot: true } } },
    },
  }
}
