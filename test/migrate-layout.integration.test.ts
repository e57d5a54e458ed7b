import { afterAll, beforeAll, expect, it } from 'vitest'
import { systemClock } from '../core/clock.ts'
import { requirePseudonymKey } from '../core/config.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { classPattern, dailyIndex, parseClassIndex } from '../core/indices.ts'
import { createProducer } from '../core/kafka.ts'
import { DAY_MS, RETENTION_CLASSES, type RetentionClass } from '../core/retention.ts'
import { createEnrichers, enrichEvent } from '../enrich/index.ts'
import { produceEvents } from '../generate/produce.ts'
import { listClassIndices } from '../ilm-policies/enforcer.ts'
import { legacyIndices, migrateLayout } from '../ilm-policies/migrate.ts'
import { IngestConsumer } from '../ingest/consumer.ts'
import { documentId } from '../ingest/plan-batch.ts'
import { eraseSubject } from '../privacy/erase.ts'
import { openSubjectExport } from '../privacy/export.ts'
import { subjectResolver } from '../privacy/subject.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * `spor migrate` from the first layout (one index per class and day) with ingest running, an
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
async function plantLegacyLayout(): Promise<{ ids: Map<string, RetentionClass>; events: SporEvent[] }> {
  const enrichers = createEnrichers({ uaCacheSize: 10, pseudonymKey: requirePseudonymKey(t.config) })
  const subject = subjectResolver(t.config)
  const ids = new Map<string, RetentionClass>()
  const events: SporEvent[] = []
  const operations: object[] = []
  const put = (cls: RetentionClass, time: Date, id: string, doc: object) => {
    operations.push({ index: { _index: dailyIndex(t.name, cls, time), _id: id } }, doc)
    ids.set(id, cls)
  }
  for (const age of LONG_AGES) {
    for (let n = 0; n < 8; n++) {
      const event = longEvent(age, n)
      events.push(event)
      put(
        'long',
        new Date(event.ts),
        documentId('acme', event.id),
        enrichEvent(event, 'long', enrichers, new Date(event.ts)),
      )
    }
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
  return { ids, events }
}

/** Questions whose answers must not change: per class counts and long documents per type. */
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
    index: classPattern(t.name, 'long'),
    size: 0,
    query: { ids: { values: ids } },
    aggs: { types: { terms: { field: 'event.type' } }, modules: { terms: { field: 'module' } } },
  })
  return { perClass, aggs: byType.aggregations }
}

it('moves every daily index with ingest, an export and an erasure running: each document once, same answers', async () => {
  const { ids, events } = await plantLegacyLayout()
  const legacyIds = [...ids.keys()]
  const before = await answers(legacyIds)
  expect((await legacyIndices(t.es, t.config, new Date())).pending).toHaveLength(LONG_AGES.length + 9)

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
    ...events.filter((e) => e.user === 'u1').map((e) => documentId('acme', e.id)),
    ...SHORT_LIVED_AGES.flatMap((age) => [`alert-${age}`, `profile-${age}`]),
  ])
  let exported: string[] = []
  try {
    // Live ingest during the move: replays of legacy events (same ids) and new events on the
    // same past days, by users other than the two whose export and erasure are checked.
    const replays = events.filter((e) => e.user !== 'u1' && e.user !== 'u2').slice(0, 12)
    const fresh = LONG_AGES.map((age, i) => ({ ...longEvent(age, i), id: `fresh-${age}`, user: 'u5' }))
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
    expect(erasure.anonymised.long).toBeGreaterThanOrEqual(events.filter((e) => e.user === 'u2').length)

    // Ingest has written everything it was given: the fresh events are there.
    await waitFor(
      () => countDocs(t, 'long-*', { ids: { values: fresh.map((e) => documentId('acme', e.id)) } }),
      (n) => n === fresh.length,
      { what: 'the fresh events' },
    )
  } finally {
    await consumer.stop()
  }

  // The emptied daily indices are deleted once the readers' grace period is over.
  const done = await migrateLayout(t.es, t.config, { now: new Date(), log: t.log, emptiedGraceMs: 0 })
  expect(done.migrated.length).toBe(LONG_AGES.length + 9)
  expect(done.migrated.every((m) => m.deleted && m.moved === 0)).toBe(true)
  // No daily index of a coarse class is left; each target is a current-layout index.
  const names = await listClassIndices(t.es, t.name)
  expect(names.filter((n) => parseClassIndex(n)?.layout === 'legacy')).toEqual([])
  expect((await legacyIndices(t.es, t.config, new Date())).pending).toEqual([])

  // Exactly once: every legacy id is in exactly one index.
  await t.es.indices.refresh({ index: `${t.name}-*` })
  const all = await t.es.search({
    index: `${t.name}-long-*,${t.name}-alerts-*,${t.name}-stats-*,${t.name}-profiles-*`,
    size: 10_000,
    _source: false,
    query: { match_all: {} },
  })
  const seen = new Map<string, number>()
  for (const hit of all.hits.hits) seen.set(hit._id!, (seen.get(hit._id!) ?? 0) + 1)
  for (const id of legacyIds) expect({ id, copies: seen.get(id) ?? 0 }).toEqual({ id, copies: 1 })
  expect([...seen.values()].every((n) => n === 1)).toBe(true)

  // The same answers (the erasure only removed identifiers, it kept the documents).
  expect(await answers(legacyIds)).toEqual(before)

  // The export during the move listed Alice's documents, each once.
  expect([...exported].sort()).toEqual([...aliceIds].sort())

  // Bob's documents carry no identifiers in any index, and none came back from a daily index.
  const bobLeft = await t.es.count({
    index: classPattern(t.name, 'long'),
    query: { bool: { filter: [{ term: { tenant: 'acme' } }, { term: { 'user.id': 'u2' } }] } },
  })
  expect(bobLeft.count).toBe(0)
  const bobIds = events.filter((e) => e.user === 'u2').map((e) => documentId('acme', e.id))
  const bobDocs = await t.es.search<Record<string, any>>({
    index: classPattern(t.name, 'long'),
    size: 100,
    query: { ids: { values: bobIds } },
  })
  expect(bobDocs.hits.hits).toHaveLength(bobIds.length)
  for (const hit of bobDocs.hits.hits) expect(hit._source!.user).toEqual({ erased: true })

  // A second run finds nothing to do.
  const again = await migrateLayout(t.es, t.config, { now: new Date(), log: t.log })
  expect(again).toMatchObject({ legacy: 0, migrated: [], incomplete: [] })
}, 300_000)
