import type { estypes } from '@elastic/elasticsearch'
import type { RetentionClass, RetentionDays } from '../core/retention.ts'

/**
 * Lifecycle policies: delete each daily index `retention` days after its origination date, which
 * Elasticsearch parses from the index name (`index.lifecycle.parse_origination_date`). Typed with
 * the client's own `IlmPolicy`, so a misspelt action or field fails `tsc`.
 */
export function policyName(prefix: string, cls: RetentionClass): string {
  return `${prefix}-${cls}-retention`
}

export function lifecyclePolicy(cls: RetentionClass, retention: RetentionDays): estypes.IlmPolicy {
  return {
    _meta: {
      managed_by: 'spor',
      class: cls,
      description: `delete ${cls} indices ${retention[cls]} days after their date`,
    },
    phases: {
      hot: { min_age: '0ms', actions: {} },
      delete: { min_age: `${retention[cls]}d`, actions: { delete: { delete_searchable_snapshot: true } } },
    },
  }
}
