import type { estypes } from '@elastic/elasticsearch'
import { EVENT_PATHS } from '../core/ecs-fields.ts'
import { DAY_MS } from '../core/retention.ts'
import type { Figures } from './rules.ts'

/**
 * Per-user figures from the short class in one aggregation: a composite over (tenant, user.id)
 * with small sub-aggregations. Time of day comes from an hourly histogram of the user's own
 * events (the cluster has no scripts), turned into hours and days here.
 */
export const OFFICE_HOURS = { from: 7, to: 17 } as const

export function userAggregations(): Record<string, estypes.AggregationsAggregationContainer> {
  return {
    hours: { date_histogram: { field: '@timestamp', fixed_interval: '1h', min_doc_count: 1 } },
    sessions: { cardinality: { field: EVENT_PATHS.sessionId } },
    modules: { terms: { field: EVENT_PATHS.module, size: 50 } },
    with_device: { filter: { exists: { field: EVENT_PATHS.userAgentOriginal } } },
    mobile: { filter: { terms: { [EVENT_PATHS.deviceType]: ['mobile', 'tablet'] } } },
  }
}

export interface UserBucket {
  key: { tenant: string; user: string }
  doc_count: number
  hours: { buckets: { key: number; doc_count: number }[] }
  sessions: { value: number }
  modules: { buckets: { key: string; doc_count: number }[] }
  with_device: { doc_count: number }
  mobile: { doc_count: number }
}

const share = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 1000) / 1000 : 0)

/** The figures of one user for the profile day starting at `dayStart` (UTC midnight). */
export function figuresFromBucket(
  bucket: UserBucket,
  dayStart: Date,
  knownModules: readonly string[],
): Figures {
  const events = bucket.doc_count
  const days = new Set<number>()
  let office = 0
  for (const h of bucket.hours.buckets) {
    days.add(Math.floor(h.key / DAY_MS))
    const hour = new Date(h.key).getUTCHours()
    if (hour >= OFFICE_HOURS.from && hour < OFFICE_HOURS.to) office += h.doc_count
  }
  const sortedDays = [...days].sort((a, b) => a - b)
  const today = Math.floor(dayStart.getTime() / DAY_MS)
  const inModules = bucket.modules.buckets.reduce((sum, b) => sum + b.doc_count, 0)
  const top = bucket.modules.buckets[0]?.doc_count ?? 0
  const figures: Figures = {
    events,
    active_days: days.size,
    sessions: bucket.sessions.value,
    events_per_active_day: days.size > 0 ? Math.round((events / days.size) * 10) / 10 : 0,
    days_since_last_active: sortedDays.length > 0 ? today - sortedDays[sortedDays.length - 1]! : 0,
    days_since_first_active: sortedDays.length > 0 ? today - sortedDays[0]! : 0,
    share_mobile: share(bucket.mobile.doc_count, bucket.with_device.doc_count),
    share_desktop: share(
      bucket.with_device.doc_count - bucket.mobile.doc_count,
      bucket.with_device.doc_count,
    ),
    share_office_hours: share(office, events),
    modules_used: bucket.modules.buckets.length,
    top_module_share: share(top, inModules),
  }
  for (const module of knownModules) figures[`share_module_${module}`] = 0
  for (const b of bucket.modules.buckets) figures[`share_module_${b.key}`] = share(b.doc_count, inModules)
  return figures
}
