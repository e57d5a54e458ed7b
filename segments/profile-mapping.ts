import type { estypes } from '@elastic/elasticsearch'

/**
 * Strict mapping of the `profiles` class: one document per active user and day, keyed by the
 * pseudonymous id only (never the plain user id), with the segments and the figures that decided
 * them. Kept as long as the short-class data it is derived from (S5, S10).
 */
const keyword: estypes.MappingProperty = { type: 'keyword', ignore_above: 256 }

export const PROFILE_PROPERTIES: Record<string, estypes.MappingProperty> = {
  '@timestamp': { type: 'date' },
  day: { type: 'date', format: 'strict_date' },
  tenant: keyword,
  user: { type: 'object', properties: { pseudo: keyword } },
  window: {
    type: 'object',
    properties: { from: { type: 'date' }, to: { type: 'date' }, days: { type: 'short' } },
  },
  rules_version: keyword,
  segments: keyword,
  /** Every figure a rule looked at: metric name → number. */
  figures: { type: 'flattened' },
  /** Per rule: matched or not, and the condition in words with the figures filled in. */
  rules: { type: 'object', enabled: false },
}
