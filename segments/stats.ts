import type { Client, estypes } from '@elastic/elasticsearch'
import { classPattern, MISSING_INDICES_ARE_EMPTY } from '../core/indices.ts'
import { isoDay } from '../core/retention.ts'
import { noisyCount, noisyThreshold, suppressBelowK } from '../query/anonymity.ts'

export interface SegmentSizesDay {
  day: string
  /** Users with a profile that day; null when fewer than k (then nothing of the day is shown). */
  active_users: number | null
  segments: { segment: string; users: number }[]
  /** Segments not shown because fewer than k users are in them. */
  suppressed: number
}

/** Sticky noise of the statistics engine: same secret (`statsNoiseSecret`) and `SPOR_STATS_NOISE_SD`. */
export interface SizeNoise {
  secret: Buffer
  sd: number
}

/**
 * Segment sizes per day from the profiles (one profile per user and day, so a document count is
 * a count of distinct users). The same k rule as every statistic (query/anonymity.ts): a group
 * below k users is never shown. Segments overlap (a user is in several), so the hidden ones are
 * not merged into an "other" group: its size could not be computed from the parts, and, for the
 * same reason, "total minus the visible segments" does not isolate the hidden ones.
 *
 * Every shown size carries the engine's sticky noise (query/anonymity.ts): without it, exact sizes
 * can be differenced (all tenants minus each tenant, one day minus the next) down to one person.
 * The seed is the cell's content: which profiles (tenant scope, day, segment) and how many
 * (profiles count distinct users exactly, so the size stands in for the user-set digest the
 * engine uses). A cell is reached by one phrasing only (one day, one segment), so however the
 * range is asked the same cell gives the same number; two cells whose sizes differ get
 * independent noise. A cell is shown only from the engine's sticky noisy threshold (never below
 * k), and a shown size is never reported below k.
 */
export async function segmentSizes(
  es: Client,
  prefix: string,
  options: { tenant?: string; from: Date; to: Date; k: number; noise: SizeNoise },
): Promise<SegmentSizesDay[]> {
  const filter: estypes.QueryDslQueryContainer[] = [
    { range: { day: { gte: isoDay(options.from), lte: isoDay(options.to) } } },
  ]
  if (options.tenant) filter.push({ term: { tenant: options.tenant } })
  const result = await es.search({
    index: classPattern(prefix, 'profiles'),
    ...MISSING_INDICES_ARE_EMPTY,
    size: 0,
    query: { bool: { filter } },
    aggs: {
      days: {
        date_histogram: { field: 'day', calendar_interval: '1d', min_doc_count: 0, format: 'yyyy-MM-dd' },
        aggs: { segments: { terms: { field: 'segments', size: 200 } } },
      },
    },
  })
  const days = (result.aggregations?.days as {
    buckets: {
      key_as_string: string
      doc_count: number
      segments: { buckets: { key: string; doc_count: number }[] }
    }[]
  }) ?? { buckets: [] }
  return days.buckets.map((b) => {
    if (b.doc_count < options.k) {
      return { day: b.key_as_string, active_users: null, segments: [], suppressed: b.segments.buckets.length }
    }
    const condition = JSON.stringify(['segments', options.tenant ?? '*', b.key_as_string])
    const passes = (cell: string, users: number) =>
      users >= noisyThreshold(options.k, { ...options.noise, seed: `${condition}|${cell}|${users}` })
    if (!passes('active_users', b.doc_count)) {
      return { day: b.key_as_string, active_users: null, segments: [], suppressed: b.segments.buckets.length }
    }
    const groups = b.segments.buckets.map((s) => ({ segment: s.key, users: s.doc_count }))
    // No "other" group (see above): the merge marks it as never needing visible groups folded in.
    const { groups: shown, suppressed } = suppressBelowK(
      groups,
      options.k,
      () => ({ segment: 'other', users: Number.POSITIVE_INFINITY }),
      (g) => g.users === Number.POSITIVE_INFINITY || passes(`segment:${g.segment}`, g.users),
    )
    const noisy = (cell: string, users: number) =>
      Math.max(
        options.k,
        noisyCount(users, { ...options.noise, seed: `${condition}|${cell}|${users}|users` }),
      )
    return {
      day: b.key_as_string,
      active_users: noisy('active_users', b.doc_count),
      segments: shown.map((g) => ({ segment: g.segment, users: noisy(`segment:${g.segment}`, g.users) })),
      suppressed,
    }
  })
}
