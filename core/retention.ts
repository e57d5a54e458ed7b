/**
 * Retention classes: the single table that the lifecycle policies, the enforcer, the ingest
 * consumer and the docs read. S10 of the privacy policy: connection and login logs are deleted
 * after three weeks, other logs after one year.
 */
export const RETENTION_CLASSES = ['short', 'long', 'alerts', 'stats', 'profiles'] as const
export type RetentionClass = (typeof RETENTION_CLASSES)[number]

/** Classes that raw events are indexed into; alerts and stats are derived. */
export type EventClass = Extract<RetentionClass, 'short' | 'long'>

export type RetentionDays = Readonly<Record<RetentionClass, number>>

export const DEFAULT_RETENTION_DAYS: RetentionDays = Object.freeze({
  short: 21,
  long: 365,
  alerts: 365,
  // Anonymous rollups carry no personal data; 25 months allows year-over-year comparisons.
  stats: 760,
  // Derived from the short class's last 21 days, so kept no longer than it (S5, S10).
  profiles: 21,
})

export const DAY_MS = 86_400_000

/**
 * When the daily index holding events of `eventTime` expires: its date (UTC midnight) plus the
 * retention. Deleting a whole day at once means its earliest event is exactly `retentionDays`
 * old and its latest a day younger: the promise is a maximum, so early is the safe side.
 */
export function expiresAt(eventTime: Date, retentionDays: number): Date {
  return new Date(utcDayStart(eventTime).getTime() + retentionDays * DAY_MS)
}

/** True when an event of `eventTime` is already past its class's retention at `now`. */
export function isPastRetention(eventTime: Date, retentionDays: number, now: Date): boolean {
  return expiresAt(eventTime, retentionDays).getTime() <= now.getTime()
}

export function utcDayStart(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()))
}

/** The UTC day of a time, as YYYY-MM-DD (index names, API days, rollup and profile days). */
export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10)
}

/**
 * The date field that places a document of each class in time: its index is chosen by it and
 * its retention counts from it (stats rollup rows carry their day, not an event time).
 */
export const RETENTION_TIME_FIELD: Readonly<Record<RetentionClass, string>> = Object.freeze({
  short: '@timestamp',
  long: '@timestamp',
  alerts: '@timestamp',
  stats: 'day',
  profiles: '@timestamp',
})

/**
 * Documents whose time is before this instant are past retention at `now`: the inverse of
 * `expiresAt` (`expiresAt(t) <= now` exactly when `t < sweepCutoff(now)`).
 */
export function sweepCutoff(now: Date, retentionDays: number): Date {
  return new Date(utcDayStart(new Date(now.getTime() - retentionDays * DAY_MS)).getTime() + DAY_MS)
}
