import type { estypes } from '@elastic/elasticsearch'

/**
 * Strict mapping of `<prefix>-alerts-YYYY.MM.DD` (one-year class). `related_users` lists every
 * user id an alert concerns: the privacy export finds a person's alerts through it.
 * `announced_at` is set once the `raised` message is on the alerts topic; a detector that takes
 * over an alert without it announces it (the previous process died between write and produce).
 */
const keyword: estypes.MappingProperty = { type: 'keyword', ignore_above: 256 }

export const ALERT_PROPERTIES: Record<string, estypes.MappingProperty> = {
  '@timestamp': { type: 'date' },
  alert_id: keyword,
  rule: keyword,
  severity: keyword,
  tenant: keyword,
  subject: { type: 'object', properties: { kind: keyword, value: keyword } },
  related_users: keyword,
  window: { type: 'object', properties: { start: { type: 'date' }, end: { type: 'date' } } },
  counts: { type: 'flattened' },
  evidence_event_ids: keyword,
  evidence_total: { type: 'integer' },
  explanation: { type: 'text' },
  status: keyword,
  first_seen: { type: 'date' },
  last_seen: { type: 'date' },
  raised_at: { type: 'date' },
  updated_at: { type: 'date' },
  acknowledged_by: keyword,
  acknowledged_at: { type: 'date' },
  /** When the `raised` message reached the alerts topic; absent = not announced yet. */
  announced_at: { type: 'date' },
}
