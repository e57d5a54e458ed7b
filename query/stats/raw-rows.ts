import type { Client, estypes } from '@elastic/elasticsearch'
import type { SporConfig } from '../../core/config.ts'
import { classPattern, MISSING_INDICES_ARE_EMPTY } from '../../core/indices.ts'
import { CLIENT_ORIGIN, COUNTED_EVENTS_FILTER, EVENT_FIELDS as F } from './fields.ts'
import { type HashedValue, hashValue } from './hll.ts'
import {
  ALL_MODULES,
  type DayRow,
  DIMENSION_FIELDS,
  type Dimension,
  durationBucket,
  parseDay,
  RowSet,
  TOTAL_KEY,
} from './rows.ts'

/**
 * Day rows computed from raw `short` events with Elasticsearch aggregations: one composite
 * aggregation over (tenant, user pseudonym) whose sub-aggregations give, per user and day, the
 * values of every dimension split by module; spor turns those into per-group event counts and
 * HyperLogLog sketches (the pseudonym only feeds the sketch and is then dropped). Sessions come
 * from a second composite aggregation over (tenant, session id).
 */
export interface RawRowsOptions {
  prefix: string
  day: string
  tenant?: string
  /** Breakdown dimensions to compute besides `total` (all by default). */
  dims?: Dimension[]
  /**
   * k (SPOR_K_ANONYMITY): rows with fewer distinct users are dropped before they leave this
   * function, on both the raw path and the rollup job, so no stored row (kept 760 days) describes
   * fewer than k people and both paths still yield the same rows.
   */
  k: number
  /**
   * Tenants (or `*`) whose users reported by browser keys alone count (SPOR_STATS_CLIENT_USER_TENANTS,
   * for tenants without a server key). Default none: see `attested users` below.
   */
  clientUserTenants?: readonly string[]
  pageSize?: number
}

/** The counting rules the raw path and the rollup job share (they must be equal). */
export interface CountingRules {
  k: number
  clientUserTenants: readonly string[]
}

export function countingRules(config: SporConfig): CountingRules {
  return { k: config.query.kAnonymity, clientUserTenants: config.query.statsClientUserTenants }
}

/**
 * Attested users (issue 13 item 3). An ingest key embedded in a web client is public: anyone can
 * post events for invented users with it, k − 1 of them would make "is the one real user in this
 * cell?" a yes/no question, and each fresh post would change the cell's content and so redraw its
 * noise. So statistics count a user on a day only when at least one of that day's events of the
 * user did not come from a browser key (origin `server`, or no origin: events from before the
 * marker, and producers writing to Kafka directly, which only trusted services can). The events of
 * users who are not counted are not counted either, nor anonymous events a browser key sent: what
 * a browser key alone reports changes no row. Tenants listed in `clientUserTenants` have no
 * server key and accept the padding risk (documented in query/stats/DESIGN.md).
 */
const NOT_FROM_CLIENT: estypes.QueryDslQueryContainer = {
  bool: { must_not: [{ term: { [F.origin]: CLIENT_ORIGIN } }] },
}

function trusts(tenants: readonly string[], tenant: string): boolean {
  return tenants.includes('*') || tenants.includes(tenant)
}

/** Drops anonymous browser-key events (no user to attest them) unless the tenant opted in. */
function countedEventsQuery(tenants: readonly string[]): estypes.QueryDslQueryContainer[] {
  if (tenants.includes('*')) return []
  return [
    {
      bool: {
        should: [
          NOT_FROM_CLIENT,
          { exists: { field: F.userPseudonym } },
          ...(tenants.length > 0 ? [{ terms: { [F.tenant]: [...tenants] } }] : []),
        ],
        minimum_should_match: 1,
      },
    },
  ]
}

type Aggs = Record<string, estypes.AggregationsAggregationContainer>
type Bucket = { key: string | number; key_as_string?: string; doc_count: number; [sub: string]: unknown }

const MODULE_AGG: Aggs = { m: { terms: { field: F.module, size: 100 } } }

function nestedTerms(fields: string[]): estypes.AggregationsAggregationContainer {
  const [first, ...rest] = fields
  return {
    terms: { field: first as string, size: 200 },
    aggs: rest.length > 0 ? { n: nestedTerms(rest) } : MODULE_AGG,
  }
}

function userAggs(dims: Dimension[]): Aggs {
  const aggs: Aggs = { ...MODULE_AGG }
  for (const dim of dims) {
    if (dim === 'total') continue
    if (dim === 'hour') {
      aggs.d_hour = {
        date_histogram: { field: F.timestamp, calendar_interval: 'hour', min_doc_count: 1 },
        aggs: MODULE_AGG,
      }
    } else {
      aggs[`d_${dim}`] = nestedTerms(DIMENSION_FIELDS[dim])
    }
  }
  return aggs
}

/** Walks nested terms buckets down to the module level: yields (key, docCount, moduleBuckets). */
function* leaves(bucket: Bucket, prefix: string[] = []): Generator<[string, number, Bucket[]]> {
  const nested = bucket.n as { buckets: Bucket[] } | undefined
  const key = [...prefix, String(bucket.key)]
  if (nested) {
    for (const child of nested.buckets) yield* leaves(child, key)
  } else {
    yield [key.join(' '), bucket.doc_count, (bucket.m as { buckets: Bucket[] }).buckets]
  }
}

function hourKey(bucket: Bucket): string {
  return new Date(Number(bucket.key)).toISOString().slice(11, 13)
}

export async function computeRawDayRows(es: Client, options: RawRowsOptions): Promise<DayRow[]> {
  const { prefix, day } = options
  const dims = options.dims ?? ([] as Dimension[])
  const start = parseDay(day)
  const end = new Date(start.getTime() + 86_400_000)
  // The class pattern and a range on the event time: works with daily or coarser indices.
  const index = classPattern(prefix, 'short')
  const clientUserTenants = options.clientUserTenants ?? []
  const filter: estypes.QueryDslQueryContainer[] = [
    { range: { [F.timestamp]: { gte: start.toISOString(), lt: end.toISOString() } } },
    ...(COUNTED_EVENTS_FILTER as estypes.QueryDslQueryContainer[]),
    ...countedEventsQuery(clientUserTenants),
  ]
  if (options.tenant) filter.push({ term: { [F.tenant]: options.tenant } })
  const rows = new RowSet()
  /** `tenant\nuser` of the users not counted today (only browser-key events): their sessions go too. */
  const unattested = new Set<string>()
  const pageSize = options.pageSize ?? 250

  let after: Record<string, string | number | null> | undefined
  do {
    const response = await es.search({
      index,
      ...MISSING_INDICES_ARE_EMPTY,
      size: 0,
      query: { bool: { filter } },
      aggs: {
        users: {
          composite: {
            size: pageSize,
            sources: [
              { tenant: { terms: { field: F.tenant } } },
              { user: { terms: { field: F.userPseudonym, missing_bucket: true } } },
            ],
            ...(after ? { after } : {}),
          },
          aggs: { ...userAggs(dims), attested: { filter: NOT_FROM_CLIENT } },
        },
      },
    })
    const agg = response.aggregations?.users as
      | { buckets: (Bucket & { key: { tenant: string; user: string | null } })[]; after_key?: typeof after }
      | undefined
    for (const bucket of agg?.buckets ?? []) {
      const tenant = bucket.key.tenant
      if (
        bucket.key.user &&
        (bucket.attested as { doc_count: number }).doc_count === 0 &&
        !trusts(clientUserTenants, tenant)
      ) {
        unattested.add(`${tenant}\n${bucket.key.user}`)
        continue
      }
      const hashed: HashedValue | undefined = bucket.key.user ? hashValue(bucket.key.user) : undefined
      const add = (row: DayRow, events: number) => {
        row.events += events
        if (hashed) row.users.add(hashed)
      }
      add(rows.get(day, tenant, ALL_MODULES, 'total', TOTAL_KEY), bucket.doc_count)
      for (const m of (bucket.m as { buckets: Bucket[] }).buckets)
        add(rows.get(day, tenant, String(m.key), 'total', TOTAL_KEY), m.doc_count)
      for (const dim of dims) {
        if (dim === 'total') continue
        const top = (bucket[`d_${dim}`] as { buckets: Bucket[] } | undefined)?.buckets ?? []
        for (const b of top) {
          const entries: [string, number, Bucket[]][] =
            dim === 'hour'
              ? [[hourKey(b), b.doc_count, (b.m as { buckets: Bucket[] }).buckets]]
              : [...leaves(b)]
          for (const [key, count, modules] of entries) {
            add(rows.get(day, tenant, ALL_MODULES, dim, key), count)
            for (const m of modules) add(rows.get(day, tenant, String(m.key), dim, key), m.doc_count)
          }
        }
      }
    }
    after = agg && agg.buckets.length === pageSize ? agg.after_key : undefined
  } while (after)

  await addSessions(es, index, filter, day, rows, unattested)
  return keepRowsWithKUsers(rows.rows(), options.k)
}

/** Which of the given days hold raw events (of the tenant): one date histogram, any layout. */
export async function daysWithRawEvents(
  es: Client,
  prefix: string,
  days: string[],
  tenant?: string,
): Promise<Set<string>> {
  const sorted = [...days].sort()
  const end = new Date(parseDay(sorted.at(-1) as string).getTime() + 86_400_000)
  const filter: estypes.QueryDslQueryContainer[] = [
    { range: { [F.timestamp]: { gte: parseDay(sorted[0] as string).toISOString(), lt: end.toISOString() } } },
    ...(COUNTED_EVENTS_FILTER as estypes.QueryDslQueryContainer[]),
  ]
  if (tenant) filter.push({ term: { [F.tenant]: tenant } })
  const response = await es.search({
    index: classPattern(prefix, 'short'),
    ...MISSING_INDICES_ARE_EMPTY,
    size: 0,
    query: { bool: { filter } },
    aggs: {
      days: {
        date_histogram: {
          field: F.timestamp,
          calendar_interval: 'day',
          min_doc_count: 1,
          format: 'yyyy-MM-dd',
        },
      },
    },
  })
  const buckets = (response.aggregations?.days as { buckets: { key_as_string: string }[] } | undefined)
    ?.buckets
  const wanted = new Set(days)
  return new Set((buckets ?? []).map((b) => b.key_as_string).filter((day) => wanted.has(day)))
}

/**
 * The per-day k rule (DESIGN.md "Anonymity"): a day row covering fewer than k distinct users is
 * neither stored nor used. A one-user row's HyperLogLog sketch is a single (register, rank) pair
 * derived from the person's pseudonym — a stable fingerprint that would link their activity
 * across the 25 months rollups are kept. Rows of anonymous visitors only (0 users) go too.
 * Dropped rather than folded into a per-day `other`: that `other` could itself stay below k and
 * would then need dropping anyway, and the query layer already builds `other` from what remains.
 */
export function keepRowsWithKUsers(rows: DayRow[], k: number): DayRow[] {
  return rows.filter((row) => row.users.count() >= k)
}

/** Session counts and durations (span of the session's events within the day) per module. */
async function addSessions(
  es: Client,
  index: string,
  filter: estypes.QueryDslQueryContainer[],
  day: string,
  rows: RowSet,
  unattested: Set<string>,
): Promise<void> {
  let after: Record<string, string | number | null> | undefined
  const pageSize = 2000
  do {
    const response = await es.search({
      index,
      ...MISSING_INDICES_ARE_EMPTY,
      size: 0,
      query: { bool: { filter: [...filter, { exists: { field: F.session } }] } },
      aggs: {
        sessions: {
          composite: {
            size: pageSize,
            sources: [
              { tenant: { terms: { field: F.tenant } } },
              { session: { terms: { field: F.session } } },
            ],
            ...(after ? { after } : {}),
          },
          aggs: {
            first: { min: { field: F.timestamp } },
            last: { max: { field: F.timestamp } },
            ...MODULE_AGG,
            ...(unattested.size > 0 ? { u: { terms: { field: F.userPseudonym, size: 1 } } } : {}),
          },
        },
      },
    })
    const agg = response.aggregations?.sessions as
      | { buckets: (Bucket & { key: { tenant: string } })[]; after_key?: typeof after }
      | undefined
    for (const bucket of agg?.buckets ?? []) {
      const user = (bucket.u as { buckets: Bucket[] } | undefined)?.buckets[0]?.key
      if (user !== undefined && unattested.has(`${bucket.key.tenant}\n${user}`)) continue
      const first = (bucket.first as { value: number }).value
      const last = (bucket.last as { value: number }).value
      const bucketIndex = durationBucket((last - first) / 1000)
      const modules = [ALL_MODULES, ...(bucket.m as { buckets: Bucket[] }).buckets.map((m) => String(m.key))]
      for (const module of modules) {
        const row = rows.get(day, bucket.key.tenant, module, 'total', TOTAL_KEY)
        row.sessions = (row.sessions ?? 0) + 1
        row.durations?.set(bucketIndex, (row.durations.get(bucketIndex) ?? 0) + 1)
      }
    }
    after = agg && agg.buckets.length === pageSize ? agg.after_key : undefined
  } while (after)
}
