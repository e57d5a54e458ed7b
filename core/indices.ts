import type { RetentionClass } from './retention.ts'

/**
 * Daily index names: `<prefix>-<class>-YYYY.MM.DD` by event date (UTC). The date in the name is
 * the origination date for lifecycle policies and for spor's own retention enforcer.
 */
export function dailyIndex(prefix: string, cls: RetentionClass, date: Date): string {
  const y = date.getUTCFullYear()
  const m = String(date.getUTCMonth() + 1).padStart(2, '0')
  const d = String(date.getUTCDate()).padStart(2, '0')
  return `${prefix}-${cls}-${y}.${m}.${d}`
}

export function classPattern(prefix: string, cls: RetentionClass): string {
  return `${prefix}-${cls}-*`
}

const DAILY = /^(.+)-(short|long|alerts|stats|profiles)-(\d{4})\.(\d{2})\.(\d{2})$/

/** Parses a daily index name; undefined for anything that is not exactly spor's pattern. */
export function parseDailyIndex(
  name: string,
): { prefix: string; cls: RetentionClass; date: Date } | undefined {
  const match = DAILY.exec(name)
  if (!match) return undefined
  const [, prefix, cls, y, m, d] = match
  const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)))
  // Reject impossible dates such as 2026.02.31 rather than letting Date roll them over.
  if (date.getUTCMonth() !== Number(m) - 1 || date.getUTCDate() !== Number(d)) return undefined
  return { prefix: prefix!, cls: cls as RetentionClass, date }
}
