import { DEFAULT_RULES, RULE_NAMES, type RuleName } from '../detect/rule-config.ts'

/**
 * An alert as it appears in one person's export: only what concerns that person. Alerts are
 * found through `related_users`, which also lists the other people involved — the person a
 * harassment alert is about must not learn who reported them, the owner of one sprayed account
 * must not learn the others. So, field by field:
 *  - kept: the rule, severity, status, window and times, numeric counts (how many, never who);
 *  - `subject.value` only when the subject is the person themself (their user id, or the target
 *    `user:<id>`); an IP, a network, an account name or another user becomes absent;
 *  - `related_users` is the person alone; evidence event ids (other people's events) are left out
 *    (the person's own events are in the short class of the same export);
 *  - the explanation is the rule's own description, which names nobody, plus the person's role;
 *  - internal fields (who acknowledged it, when it was announced) are left out.
 */
const KEPT_FIELDS = [
  '@timestamp',
  'alert_id',
  'rule',
  'severity',
  'tenant',
  'window',
  'counts',
  'evidence_total',
  'status',
  'first_seen',
  'last_seen',
  'raised_at',
  'updated_at',
  'client_reported',
] as const

export function projectAlertForSubject(
  alert: Record<string, unknown>,
  user: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const field of KEPT_FIELDS) if (alert[field] !== undefined) out[field] = alert[field]
  if (out.counts && typeof out.counts === 'object') {
    out.counts = Object.fromEntries(Object.entries(out.counts).filter(([, v]) => typeof v === 'number'))
  }
  const subject = alert.subject as { kind?: string; value?: string } | undefined
  const related = Array.isArray(alert.related_users) ? (alert.related_users as unknown[]) : []
  const isSubject =
    !!subject &&
    ((subject.kind === 'user' && subject.value === user) ||
      (subject.kind === 'target' && subject.value === `user:${user}`) ||
      // An attacked account (its login name) that only this person uses is theirs.
      (subject.kind === 'account' && related.length === 1 && related[0] === user))
  out.subject = isSubject ? { kind: subject.kind, value: subject.value } : { kind: subject?.kind }
  out.related_users = [user]
  const rule = alert.rule as string
  const description = (RULE_NAMES as readonly string[]).includes(rule)
    ? DEFAULT_RULES[rule as RuleName].explanation
    : 'misuse alert'
  out.explanation = `${description}. ${
    isSubject
      ? 'The alert is about you.'
      : 'You are one of the accounts involved; other people in the alert are not shown in your export.'
  }`
  return out
}
