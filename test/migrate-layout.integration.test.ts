import { afterAll, beforeAll, expect, it } from 'vitest'
import { systemClock } from '../core/clock.ts'
import { requirePseudonymKey } from '../core/config.ts'
import { isFirstShape, toEcsDocument, toFirstShape } from '../core/ecs-fields.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { classIndex, classPattern, dailyIndex, parseClassIndex } from '../core/indices.ts'
import { createProducer } from '../core/kafka.ts'
import { DAY_MS, RETENTION_CLASSES, type RetentionClass } from '../core/retention.ts'
import { createEnrichers, enrichEvent } from '../enrich/index.ts'
import { produceEvents } from '../generate/produce.ts'
import { listClassIndices } from '../ilm-policies/enforcer.ts'
import { installIndexSetup } from '../ilm-policies/install.ts'
import { legacyIndices, migrateLayout } from '../ilm-policies/migrate.ts'
import { IngestConsumer } from '../ingest/consumer.ts'
import { documentId } from '../ingest/plan-batch.ts'
import { eraseSubject } from '../privacy/erase.ts'
import { openSubjectExport } from '../privacy/export.ts'
import { subjectResolver } from '../privacy/subject.ts'
import { createFirstShapeIndex } from './helpers/first-shape.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * `spor migrate` from the first layout (one index per class and day, event documents with the
 * first field names, including today's short index and a first-shape monthly long index as
 * today's main wrote them) to coarse indices with ECS names, with ingest running, an
 * export and an erasure during the move: afterwards every document is present exactly once,
 * the same questions get the same answers, the export listed exactly the person's documents
 * and the erased person's documents carry no identifiers anywhere.
 */

let t: TestEnv
beforeAll(async () => {
  t = await createTestEnv('migrate', { SPOR_TOMBSTONE_REFRESH_MS: '500', SPOR_ERASE_GRACE_MS: '500' })
})
afterAll(async () => {
  await t?.cleanup()
})

const NOW = Date.now()
const USERS = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']
const TYPES = ['job.start', 'message.send', 'admin.user_invite']
/** Days (ages) of the legacy daily indices: spread over three months for the long class. */
const LONG_AGES = [3, 9, 15, 21, 27, 33, 40, 47, 55, 62]
const SHORT_LIVED_AGES = [1, 4, 8] // alerts, stats and profiles

/** Short-class days of first-shape documents: today's index (ingest writes ECS beside it) and yesterday's. */
const SHORT_AGES = [0, 1]

function shortEvent(age: number, n: number): SporEvent {
  return {
    v: 1,
    id: `legacy-short-${age}-${n}`,
    type: n % 2 ? 'page.view' : 'session.login',
    ts: new Date(NOW - age * DAY_MS - n * 1000).toISOString(),
    tenant: n === 5 ? 'globex' : 'acme',
    user: USERS[n % USERS.length]!,
    username: `${USERS[n % USERS.length]}@example.com`,
    session: `s-${n}`,
    module: 'crm',
    function: 'open',
    ip: '81.166.12.77',
    device: {
      ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
      deviceId: `dev-${n}`,
    },
  }
}

function longEvent(age: number, n: number): SporEvent {
  return {
    v: 1,
    id: `legacy-${age}-${n}`,
    type: TYPES[n % TYPES.length]!,
    ts: new Date(NOW - age * DAY_MS).toISOString(),
    tenant: 'acme',
    user: USERS[n % USERS.length]!,
    module: 'mail',
    ip: '81.166.12.77',
  }
}

/** The first layout: daily indices of every class that is now coarser, written directly. */
async function plantLegacyLayout(): Promise<{
  ids: Map<string, RetentionClass>
  events: SporEvent[]
  docs: Map<string, Record<string, unknown>>
  indices: number
}> {
  const enrichers = createEnrichers({ uaCacheSize: 10, pseudonymKey: requirePseudonymKey(t.config) })
  const subject = subjectResolver(t.config)
  const ids = new Map<string, RetentionClass>()
  const events: SporEvent[] = []
  const operations: object[] = []
  const firstShape = new Set<string>()
  const docs = new Map<string, Record<string, unknown>>()
  const indices = new Set<string>()
  const put = (
    cls: RetentionClass,
    time: Date,
    id: string,
    doc: object,
    index = dailyIndex(t.name, cls, time),
  ) => {
    operations.push({ index: { _index: index, _id: id } }, doc)
    ids.set(id, cls)
    docs.set(id, doc as Record<string, unknown>)
    indices.add(index)
    if (cls === 'short' || cls === 'long') firstShape.add(`${index}|${cls}`)
  }
  // Event documents as the first shape held them (the builder's ECS document, renamed back).
  const firstDoc = (event: SporEvent, cls: 'short' | 'long') =>
    toFirstShape(enrichEvent(event, cls, enrichers, new Date(event.ts)) as unknown as Record<string, unknown>)
  for (const age of LONG_AGES) {
    for (let n = 0; n < 8; n++) {
      const event = longEvent(age, n)
      events.push(event)
      put('long', new Date(event.ts), documentId('acme', event.id), firstDoc(event, 'long'))
    }
  }
  // A first-shape monthly long index, as today's main (coarse layout, first names) writes it.
  for (let n = 0; n < 4; n++) {
    const event = { ...longEvent(2, n), id: `legacy-month-${n}` }
    events.push(event)
    const time = new Date(event.ts)
    const monthly = classIndex(t.name, 'long', time).replace('-long-ecs-', '-long-')
    put('long', time, documentId('acme', event.id), firstDoc(event, 'long'), monthly)
  }
  for (const age of SHORT_AGES) {
    for (let n = 0; n < 6; n++) {
      const event = shortEvent(age, n)
      events.push(event)
      put('short', new Date(event.ts), documentId(event.tenant, event.id), firstDoc(event, 'short'))
    }
  }
  for (const entry of firstShape) {
    const [index, cls] = entry.split('|') as [string, 'short' | 'long']
    await createFirstShapeIndex(t.es, index, cls)
  }
  for (const age of SHORT_LIVED_AGES) {
    const time = new Date(NOW - age * DAY_MS)
    const day = time.toISOString().slice(0, 10)
    put('alerts', time, `alert-${age}`, {
      '@timestamp': time.toISOString(),
      alert_id: `alert-${age}`,
      rule: 'brute_force',
      tenant: 'acme',
      related_users: ['u1', 'u3'],
      status: 'open',
    })
    put('stats', time, `stats-${age}`, {
      day,
      tenant: 'acme',
      module: 'mail',
      dim: 'total',
      key: '_',
      events: 7,
      v: 1,
    })
    put('profiles', time, `profile-${age}`, {
      '@timestamp': time.toISOString(),
      day,
      tenant: 'acme',
      user: { pseudo: subject('acme', 'u1').pseudo },
      segments: ['power_user'],
    })
  }
  const result = await t.es.bulk({ refresh: true, operations })
  expect(result.errors).toBe(false)
  // What `spor setup` of this version does first: aliases by the ECS names on first-shape indices.
  await installIndexSetup(t.es, t.config)
  return { ids, events, docs, indices: indices.size }
}

/**
 * Questions whose answers must not change, asked by ECS names (answered through the aliases
 * before the move): per class counts, documents per action, module and country, per tenant,
 * distinct pseudonyms, and one tenant's documents never including another's.
 */
async function answers(ids: string[]) {
  await t.es.indices.refresh({ index: `${t.name}-*` })
  const perClass: Record<string, number> = {}
  for (const cls of RETENTION_CLASSES) {
    perClass[cls] = (
      await t.es.count({
        index: classPattern(t.name, cls),
        allow_no_indices: true,
        query: { ids: { values: ids } },
      })
    ).count
  }
  const byType = await t.es.search({
    index: [classPattern(t.name, 'long'), classPattern(t.name, 'short')],
    size: 0,
    query: { ids: { values: ids } },
    aggs: {
      types: { terms: { field: 'event.action' } },
      modules: { terms: { field: 'spor.module' } },
      tenants: { terms: { field: 'organization.id' } },
      countries: { terms: { field: 'source.geo.country_iso_code' } },
      browsers: { terms: { field: 'user_agent.name' } },
      // distinct pseudonyms of everyone but Bob, whose erasure removes his
      users: {
        filter: {
          bool: { filter: { exists: { field: 'user.hash' } }, must_not: { term: { 'user.id': 'u2' } } },
        },
        aggs: { distinct: { cardinality: { field: 'user.hash' } } },
      },
    },
  })
  // Tenant isolation by the new name: globex's filter never returns an acme document.
  const globex = await t.es.search<Record<string, unknown>>({
    index: [classPattern(t.name, 'long'), classPattern(t.name, 'short')],
    size: 100,
    query: { bool: { filter: [{ ids: { values: ids } }, { term: { 'organization.id': 'globex' } }] } },
  })
  const globexTenants = globex.hits.hits.map(
    (h) => (toEcsDocument(h._source!).organization as { id: string }).id,
  )
  expect(globexTenants.length).toBeGreaterThan(0)
  expect(new Set(globexTenants)).toEqual(new Set(['globex']))
  return { perClass, aggs: byType.aggregations }
}

it('moves every daily index with ingest, an export and an erasure running: each document once, same answers', async () => {
  const { ids, events, docs, indices } = await plantLegacyLayout()
  const legacyIds = [...ids.keys()]
  // Bob's short documents are deleted by his erasure; every other answer must stay the same.
  const bobShortIds = events
    .filter((e) => e.user === 'u2' && e.tenant === 'acme' && e.id.startsWith('legacy-short-'))
    .map((e) => documentId('acme', e.id))
  expect(bobShortIds.length).toBeGreaterThan(0)
  const stableIds = legacyIds.filter((id) => !bobShortIds.includes(id))
  const before = await answers(stableIds)
  expect(before.perClass.short).toBeGreaterThan(0)
  expect((await legacyIndices(t.es, t.config, new Date())).pending).toHaveLength(indices)

  const consumer = new IngestConsumer({
    config: t.config,
    es: t.es,
    kafka: t.kafka,
    log: t.log,
    enrichers: createEnrichers({ uaCacheSize: 100, pseudonymKey: requirePseudonymKey(t.config) }),
    clock: systemClock,
  })
  await consumer.start()
  const subject = subjectResolver(t.config)
  const alice = subject('acme', 'u1')
  const bob = subject('acme', 'u2')
  const deps = { es: t.es, config: t.config, log: t.log, now: () => new Date() }
  // Alice's documents: her long events, the alerts naming her, her profiles.
  const aliceIds = new Set([
    ...events.filter((e) => e.user === 'u1' && e.tenant === 'acme').map((e) => documentId('acme', e.id)),
    ...SHORT_LIVED_AGES.flatMap((age) => [`alert-${age}`, `profile-${age}`]),
  ])
  let exported: string[] = []
  let replayedIds = new Set<string>()
  try {
    // Live ingest during the move: replays of legacy events (same ids) and new events on the
    // same past days, by users other than the two whose export and erasure are checked.
    const others = events.filter((e) => e.user !== 'u1' && e.user !== 'u2')
    const replays = [
      ...others.filter((e) => e.id.startsWith('legacy-') && !e.id.startsWith('legacy-short-')).slice(0, 12),
      // today's short events again: ingest writes them into today's ECS index beside the old one
      ...others.filter((e) => e.id.startsWith('legacy-short-0-')),
    ]
    const fresh = [
      ...LONG_AGES.map((age, i) => ({ ...longEvent(age, i), id: `fresh-${age}`, user: 'u5' })),
      ...[0, 1, 2].map((n) => ({ ...shortEvent(0, n), id: `fresh-short-${n}`, user: 'u5', tenant: 'acme' })),
    ]
    const freshIds = fresh.map((e) => documentId('acme', e.id))
    replayedIds = new Set(replays.map((e) => documentId(e.tenant, e.id)))
    const producer = createProducer(t.kafka)
    await producer.connect()
    const produced = produceEvents(producer, t.config.kafka.eventsTopic, [...replays, ...fresh]).finally(() =>
      producer.disconnect(),
    )

    // A third of the indices first, then the rest while the export and the erasure run.
    const first = await migrateLayout(t.es, t.config, { now: new Date(), log: t.log, limit: 6 })
    expect(first.migrated).toHaveLength(6)
    expect(first.awaitingDeletion).toHaveLength(6)
    const [rest, exportResult, erasure] = await Promise.all([
      migrateLayout(t.es, t.config, { now: new Date(), log: t.log }),
      (async () => {
        const opened = await openSubjectExport(deps, alice, { key: 'cli' })
        const out: string[] = []
        for await (const record of opened!.records()) out.push(record.id)
        return { manifestTotal: opened!.manifest.total, ids: out }
      })(),
      eraseSubject(deps, bob, { key: 'cli' }),
    ])
    await produced
    exported = exportResult.ids
    expect(exportResult.manifestTotal).toBe(exportResult.ids.length)
    expect(rest.incomplete).toEqual([])
    // At least each of Bob's documents (one rewritten in its daily index and again as a stale
    // copy in its target counts twice).
    const bobLong = events.filter((e) => e.user === 'u2' && !e.id.startsWith('legacy-short-'))
    expect(erasure.anonymised.long).toBeGreaterThanOrEqual(bobLong.length)
    expect(erasure.deleted.short).toBe(bobShortIds.length)

    // Ingest has written everything it was given: the fresh events are there.
    await waitFor(
      () => countDocs(t, '*', { ids: { values: freshIds } }),
      (n) => n === fresh.length,
      { what: 'the fresh events' },
    )
  } finally {
    await consumer.stop()
  }

  // The emptied daily indices are deleted once the readers' grace period is over.
  const done = await migrateLayout(t.es, t.config, { now: new Date(), log: t.log, emptiedGraceMs: 0 })
  expect(done.migrated.length).toBe(indices)
  expect(done.migrated.every((m) => m.deleted && m.moved === 0)).toBe(true)
  // No daily index of a coarse class is left; each target is a current-layout index.
  const names = await listClassIndices(t.es, t.name)
  expect(names.filter((n) => parseClassIndex(n)?.layout === 'legacy')).toEqual([])
  expect((await legacyIndices(t.es, t.config, new Date())).pending).toEqual([])

  // Exactly once: every legacy id is in exactly one index.
  await t.es.indices.refresh({ index: `${t.name}-*` })
  const all = await t.es.search({
    index: `${t.name}-short-*,${t.name}-long-*,${t.name}-alerts-*,${t.name}-stats-*,${t.name}-profiles-*`,
    size: 10_000,
    _source: false,
    query: { match_all: {} },
  })
  const seen = new Map<string, number>()
  for (const hit of all.hits.hits) seen.set(hit._id!, (seen.get(hit._id!) ?? 0) + 1)
  for (const id of stableIds) expect({ id, copies: seen.get(id) ?? 0 }).toEqual({ id, copies: 1 })
  for (const id of bobShortIds) expect({ id, copies: seen.get(id) ?? 0 }).toEqual({ id, copies: 0 })
  expect([...seen.values()].every((n) => n === 1)).toBe(true)

  // The same answers (the erasure only removed identifiers, it kept the documents).
  expect(await answers(stableIds)).toEqual(before)

  // Every event document is in the ECS shape now, in an ECS-named index, and a document nobody
  // touched meanwhile is exactly its first-shape original renamed.
  const events2 = await t.es.search<Record<string, unknown>>({
    index: [classPattern(t.name, 'short'), classPattern(t.name, 'long')],
    size: 10_000,
    query: { match_all: {} },
  })
  const touched = new Set([...events.filter((e) => e.user === 'u2').map((e) => documentId(e.tenant, e.id))])
  let compared = 0
  for (const hit of events2.hits.hits) {
    expect(isFirstShape(hit._source!), hit._id).toBe(false)
    expect(parseClassIndex(hit._index)).toMatchObject({ generation: 'ecs', layout: 'current' })
    const original = docs.get(hit._id!)
    // (ingest's copy of a replay wins, with its own event.ingested; Bob's were anonymised)
    if (!original || touched.has(hit._id!) || replayedIds.has(hit._id!)) continue
    expect(hit._source).toEqual(toEcsDocument(original))
    compared++
  }
  expect(compared).toBeGreaterThan(50)

  // The export during the move listed Alice's documents, each once.
  expect([...exported].sort()).toEqual([...aliceIds].sort())

  // Bob's documents carry no identifiers in any index, and none came back from a daily index.
  const bobLeft = await t.es.count({
    index: classPattern(t.name, 'long'),
    query: { bool: { filter: [{ term: { 'organization.id': 'acme' } }, { term: { 'user.id': 'u2' } }] } },
  })
  expect(bobLeft.count).toBe(0)
  expect(await countDocs(t, 'short-*', { term: { 'user.hash': bob.pseudo } })).toBe(0)
  const bobIds = events
    .filter((e) => e.user === 'u2' && !e.id.startsWith('legacy-short-'))
    .map((e) => documentId('acme', e.id))
  const bobDocs = await t.es.search<Record<string, any>>({
    index: classPattern(t.name, 'long'),
    size: 100,
    query: { ids: { values: bobIds } },
  })
  expect(bobDocs.hits.hits).toHaveLength(bobIds.length)
  for (const hit of bobDocs.hits.hits) {
    expect(hit._source!.user).toBeUndefined()
    expect(hit._source!.spor.user_erased).toBe(true)
  }

  // A second run finds nothing to do.
  const again = await migrateLayout(t.es, t.config, { now: new Date(), log: t.log })
  expect(again).toMatchObject({ legacy: 0, migrated: [], incomplete: [] })
}, 300_000)
