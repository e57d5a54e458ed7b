import type { FastifyInstance } from 'fastify'
import { fixedClock } from '../../core/clock.ts'
import { requirePseudonymKey } from '../../core/config.ts'
import type { SporEvent } from '../../core/event-schema.ts'
import { classOf } from '../../core/event-types.ts'
import { classIndex } from '../../core/indices.ts'
import { KeyStore } from '../../core/keys.ts'
import type { EventDocument } from '../../enrich/enrich-event.ts'
import { createEnrichers, enrichEvent } from '../../enrich/index.ts'
import { buildQueryApp, type QueryDeps } from '../../query/app.ts'
import type { TestEnv } from './test-env.ts'

/** An enriched event as indexed, with the raw event it came from (for independent counts). */
export interface IndexedEvent {
  event: SporEvent
  doc: EventDocument
  index: string
}

/**
 * Enriches events exactly as ingest does and bulk-indexes them into the test's daily indices
 * (the statistics tests are about the query side; the ingest path has its own tests).
 */
export async function indexEvents(
  t: TestEnv,
  events: Iterable<SporEvent>,
  receivedAt = new Date(),
): Promise<IndexedEvent[]> {
  const enrichers = createEnrichers({ uaCacheSize: 1000, pseudonymKey: requirePseudonymKey(t.config) })
  const out: IndexedEvent[] = []
  for (const event of events) {
    const cls = classOf(t.config.eventTypes, event.type)
    if (!cls) throw new Error(`test data has an unknown type ${event.type}`)
    const doc = enrichEvent(event, cls, enrichers, receivedAt)
    out.push({ event, doc, index: classIndex(t.config.es.indexPrefix, cls, new Date(event.ts)) })
  }
  for (let i = 0; i < out.length; i += 2000) {
    const operations = out
      .slice(i, i + 2000)
      .flatMap(({ event, doc, index }) => [{ index: { _index: index, _id: event.id } }, doc])
    const response = await t.es.bulk({ operations })
    if (response.errors)
      throw new Error(`bulk failed: ${JSON.stringify(response.items.find((x) => x.index?.error))}`)
  }
  await t.es.indices.refresh({ index: `${t.name}-*` })
  return out
}

/** The browser of the statistics tests' people. */
export const TEST_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

/**
 * Makes people's days: a login, one feature use per module and a logout, a minute apart, in one
 * session from one device and address. Ids are `<idPrefix>-<n>` in creation order; a day starts at
 * 08:00 UTC plus up to 400 minutes (by that counter), so many people's days do not share a minute.
 */
export function userDayMaker(
  idPrefix: string,
): (tenant: string, user: string, day: string, modules: string[]) => SporEvent[] {
  let seq = 0
  return (tenant, user, d, modules) => {
    let t = Date.parse(`${d}T08:00:00Z`) + (seq % 400) * 60_000
    const ev = (type: string, extra: Partial<SporEvent> = {}): SporEvent => {
      t += 60_000
      return {
        v: 1,
        id: `${idPrefix}-${seq++}`,
        type,
        ts: new Date(t).toISOString(),
        tenant,
        user,
        session: `s-${user}-${d}`,
        ip: '81.0.146.10',
        device: { ua: TEST_UA, deviceId: `dev-${user}` },
        ...extra,
      }
    }
    return [
      ev('session.login', { username: `${user}@${tenant}.example` }),
      ...modules.map((module) => ev('feature.use', { module, function: `${module}.open` })),
      ev('session.logout'),
    ]
  }
}

export interface StatsApp {
  app: FastifyInstance
  keys: KeyStore
  productKey: string
  tenantKey: (tenant: string) => Promise<{ key: string; id: string }>
}

/** `spor query` on the test's prefix, with a product-wide key ready. */
export async function startStatsApp(
  t: TestEnv,
  now: Date,
  extra: Pick<QueryDeps, 'warmUp'> = {},
): Promise<StatsApp> {
  const keys = new KeyStore(t.es, t.config.es.indexPrefix, 0)
  await keys.ensureIndex()
  const app = await buildQueryApp({
    config: t.config,
    es: t.es,
    keys,
    log: t.log,
    clock: fixedClock(now.toISOString()),
    ...extra,
  })
  const product = await keys.create({ kind: 'api', scope: 'product', name: 'product team' })
  return {
    app,
    keys,
    productKey: product.key,
    tenantKey: async (tenant) => {
      const created = await keys.create({ kind: 'api', scope: 'tenant', tenant, name: `${tenant} admin` })
      return { key: created.key, id: created.record.id }
    },
  }
}

/** Every response body a test saw, for the final "no identifier anywhere" scan. */
export class ResponseLog {
  readonly bodies: string[] = []

  async get(app: FastifyInstance, key: string, url: string): Promise<{ status: number; body: any }> {
    const response = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } })
    this.bodies.push(response.body)
    return { status: response.statusCode, body: response.json() }
  }
}

export function day(iso: string | number | Date): string {
  return new Date(iso).toISOString().slice(0, 10)
}

export function distinct<T>(values: Iterable<T>): number {
  return new Set(values).size
}
