import { SporError } from '../../core/errors.ts'
import { isoDay } from '../../core/retention.ts'
import { parseDay } from './rows.ts'

export const INTERVALS = ['hour', 'day', 'week', 'month'] as const
export type Interval = (typeof INTERVALS)[number]

const DAY = 86_400_000

/**
 * Snaps a requested range outwards to whole interval units (ISO weeks from Monday, calendar
 * months, else whole UTC days). Coarse bounds are one of the differencing defences: two ranges
 * that differ inside one unit become the same query with the same answer.
 */
export function snapRange(from: string, to: string, interval: Interval): { from: string; to: string } {
  let start = parseDay(from)
  let end = parseDay(to)
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()))
    throw new SporError('SPOR_ERR_BAD_REQUEST', 'from and to must be dates (YYYY-MM-DD)')
  if (start > end) throw new SporError('SPOR_ERR_BAD_REQUEST', 'from must not be after to')
  if (interval === 'week') {
    start = new Date(start.getTime() - ((start.getUTCDay() + 6) % 7) * DAY)
    end = new Date(end.getTime() + (6 - ((end.getUTCDay() + 6) % 7)) * DAY)
  } else if (interval === 'month') {
    start = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), 1))
    end = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() + 1, 0))
  }
  return { from: isoDay(start), to: isoDay(end) }
}

export function daysBetween(from: string, to: string): string[] {
  const days: string[] = []
  for (let t = parseDay(from).getTime(); t <= parseDay(to).getTime(); t += DAY) days.push(isoDay(new Date(t)))
  return days
}

/** The bucket (ISO timestamp of its start) a day falls in. */
export function bucketOf(day: string, interval: Exclude<Interval, 'hour'>): string {
  const snapped = snapRange(day, day, interval === 'day' ? 'day' : interval).from
  return `${snapped}T00:00:00.000Z`
}

export function bucketStarts(from: string, to: string, interval: Interval): string[] {
  if (interval === 'hour') {
    return daysBetween(from, to).flatMap((day) =>
      Array.from({ length: 24 }, (_, h) => `${day}T${String(h).padStart(2, '0')}:00:00.000Z`),
    )
  }
  return [...new Set(daysBetween(from, to).map((day) => bucketOf(day, interval)))]
}

export const WEEKDAYS = [
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
  'sunday',
] as const

export function weekdayOf(day: string): string {
  return WEEKDAYS[(parseDay(day).getUTCDay() + 6) % 7] as string
}
