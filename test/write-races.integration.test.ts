import { setTimeout as sleep } from 'node:timers/promises'
import type { Client } from '@elastic/elasticsearch'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { requirePseudonymKey } from '../core/config.ts'
import { toFirstShape } from '../core/ecs-fields.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { classIndex, dailyIndex, parseClassIndex } from '../core/indices.ts'
import { DAY_MS, type RetentionClass, utcDayStart } from '../core/retention.ts'
import { AlertStore } from '../detect/alert-store.ts'
import type { Finding } from '../detect/findings.ts'
import { type AlertDocument, IncidentTracker, toDocument } from '../detect/incidents.ts'
import { createEnrichers, enrichEvent } from '../enrich/index.ts'
import { installIndexSetup } from '../ilm-policies/install.ts'
import {
  EMPTIED_GRACE_MS,
  type MigratedIndex,
  migrateIndex,
  toCurrentShape,
} from '../ilm-policies/migrate.ts'
import { documentId } from '../ingest/plan-batch.ts'
import { eraseSubject } from '../privacy/erase.ts'
import { subjectResolver } from '../privacy/subject.ts'
import { findTombstone, writeTombstone } from '../privacy/tombstones.ts'
import { runSegmentsJob } from '../segments/job.ts'
import { loadSegmentTable } from '../segments/rules.ts'
import { createFirstShapeIndex } from './helpers/first-shape.ts'
import { countDocs, createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * Writers racing each other on the same documents, each interleaving made to happen by the client
 * one of them uses (a proxy over the real client that runs the other writer, for real, at the
 * moment in question): `spor migrate` moving a document between an erasure reading it and writing
 * it; a writer that keeps landing the person's documents after every sweep of an erasure; and the
 * rollup job recomputing a statistics row while `spor migrate` moves the old one; and the profile
 * job computing a page of people while one of them is erased; and the detector writing an alert
 * acknowledged in its daily index into the new layout before the daily copy is moved.
 */

let t: TestEnv
beforeAll(async () => {
  t = await createTestEnv('eraserace', { SPOR_TOMBSTONE_REFRESH_MS: '200', SPOR_ERASE_GRACE_MS: '200' })
})
afterAll(async () => {
  await t?.cleanup()
})

const deps = (es: Client) => ({ es, config: t.config, log: t.log, now: () => new Date() })

type Hook = (params: any, result: any) => Promise<void>

/** The real client, with a hook run (awaited) after every call of the given methods. */
function interleaved(hooks: Partial<Record<'search' | 'bulk' | 'openPointInTime', Hook>>): Client {
  const wrapped = new Map<string | symbol, unknown>()
  for (const [method, after] of Object.entries(hooks)) {
    const original = (t.es[method as keyof Client] as (...args: unknown[]) => Promise<unknown>).bind(t.es)
    wrapped.set(method, async (...args: unknown[]) => {
      const result = await original(...args)
      await after!(args[0], result)
      return result
    })
  }
  return new Proxy(t.es, {
    get(target, prop) {
      if (wrapped.has(prop)) return wrapped.get(prop)
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

it('a document moved by spor migrate between the erasure reading it and writing it is erased where it went, and not written back', async () => {
  const enrichers = createEnrichers({ uaCacheSize: 10, pseudonymKey: requirePseudonymKey(t.config) })
  const subject = subjectResolver(t.config)('initech', 'u9')
  const event: SporEvent = {
    v: 1,
    id: 'raced-0',
    type: 'message.send',
    ts: new Date(Date.now() - 70 * DAY_MS).toISOString(),
    tenant: 'initech',
    user: 'u9',
    module: 'mail',
    ip: '81.166.12.77',
  }
  const profileTime = new Date(Date.now() - 6 * DAY_MS)
  const legacy: { cls: RetentionClass; index: string; id: string }[] = [
    {
      cls: 'long',
      index: dailyIndex(t.name, 'long', new Date(event.ts)),
      id: documentId('initech', event.id),
    },
    { cls: 'profiles', index: dailyIndex(t.name, 'profiles', profileTime), id: 'profile-raced' },
  ]
  // The first layout: a daily long index of the first shape, and a daily profiles index.
  await createFirstShapeIndex(t.es, legacy[0]!.index, 'long')
  const longDoc = toFirstShape(
    enrichEvent(event, 'long', enrichers, new Date(event.ts)) as unknown as Record<string, unknown>,
  )
  await t.es.index({ index: legacy[0]!.index, id: legacy[0]!.id, document: longDoc, refresh: true })
  await t.es.index({
    index: legacy[1]!.index,
    id: legacy[1]!.id,
    refresh: true,
    document: {
      '@timestamp': profileTime.toISOString(),
      day: profileTime.toISOString().slice(0, 10),
      tenant: 'initech',
      user: { pseudo: subject.pseudo },
      segments: ['power_user'],
    },
  })
  await installIndexSetup(t.es, t.config)

  // Each daily index is moved right after a point-in-time page of the erasure returned its
  // document, before the erasure writes (long: the anonymised copy; profiles: the delete).
  const moved = new Map<string, MigratedIndex>()
  let pointsInTime = 0
  const es = interleaved({
    openPointInTime: async () => {
      pointsInTime++
    },
    search: async (params, result) => {
      for (const { index, id } of legacy) {
        if (moved.has(index) || !params?.pit) continue
        if (
          !result.hits.hits.some((h: { _index: string; _id: string }) => h._index === index && h._id === id)
        )
          continue
        const source = { ...parseClassIndex(index)!, name: index }
        moved.set(
          index,
          await migrateIndex(t.es, source, t.name, toCurrentShape, {
            now: new Date(),
            graceMs: EMPTIED_GRACE_MS,
          }),
        )
      }
    },
  })
  const erasure = await eraseSubject(deps(es), subject, { key: 'cli' })
  // Both moved documents were followed to their new index within the sweep that missed them:
  // one sweep (profiles, short, long), not a second one that found them by counting.
  expect(pointsInTime).toBe(3)

  await t.es.indices.refresh({ index: `${t.name}-*` })
  for (const { index } of legacy) {
    expect(moved.get(index)).toMatchObject({ moved: 1, emptied: true, deleted: false })
    // Nothing was written back where the document was: the daily index stays empty for its grace.
    expect({ index, count: (await t.es.count({ index })).count }).toEqual({ index, count: 0 })
  }
  // The long document's copy in its target has no identifiers.
  const kept = await t.es.get<Record<string, any>>({
    index: classIndex(t.name, 'long', new Date(event.ts)),
    id: legacy[0]!.id,
  })
  expect(kept._source!.user).toBeUndefined()
  expect(kept._source!.spor.user_erased).toBe(true)
  expect(erasure.anonymised.long).toBe(1)
  // The profile's copy in its target was deleted.
  expect(await countDocs(t, 'profiles-*', { term: { 'user.pseudo': subject.pseudo } })).toBe(0)
  expect(erasure.deleted.profiles).toBe(1)
}, 120_000)

it('while the person keeps being written, the erasure says it is not complete, and a retry completes it', async () => {
  const subject = subjectResolver(t.config)('initech', 'u10')
  const now = Date.now()
  const shortDoc = (n: number) => ({
    '@timestamp': new Date(now - n * 1000).toISOString(),
    event: { id: `late-${n}`, action: 'page.view', kind: 'event', ingested: new Date().toISOString() },
    organization: { id: 'initech' },
    user: { id: 'u10', hash: subject.pseudo },
    spor: { event_version: 1 },
  })
  const shortIndex = classIndex(t.name, 'short', new Date(now))
  // A writer that does not know the tombstone (an old instance, a stuck batch): after every
  // delete of the erasure, another of the person's documents lands.
  let writes = 0
  let writing = true
  const es = interleaved({
    bulk: async (params) => {
      const deletes = (params?.operations ?? []).some((op: Record<string, unknown>) => 'delete' in op)
      if (!writing || !deletes) return
      writes++
      await t.es.index({
        index: shortIndex,
        id: `initech:late-${writes}`,
        document: shortDoc(writes),
        refresh: true,
      })
    },
  })
  await t.es.index({ index: shortIndex, id: 'initech:late-0', document: shortDoc(0), refresh: true })

  const failed = await eraseSubject(deps(es), subject, { key: 'cli' }).catch((error: Error) => error)
  expect(failed).toBeInstanceOf(Error)
  expect(failed).toMatchObject({ code: 'SPOR_ERR_ERASURE_INCOMPLETE', statusCode: 503, retriable: true })
  expect((failed as Error).message).toMatch(/erasure not complete; retry it: documents of the person/)
  expect(writes).toBeGreaterThanOrEqual(5)
  // The tombstone is in force (ingest refuses the person) but not marked completed.
  const tombstone = await findTombstone(t.es, t.name, subject.hash)
  expect(tombstone).toBeDefined()
  expect(tombstone!.completed_at).toBeUndefined()

  // The writer stops; the retry finishes and nothing of the person is left in the short class.
  writing = false
  const done = await eraseSubject(deps(es), subject, { key: 'cli' })
  expect(done.deleted.short).toBeGreaterThanOrEqual(1)
  expect(await countDocs(t, 'short-*', { term: { 'user.hash': subject.pseudo } })).toBe(0)
  expect((await findTombstone(t.es, t.name, subject.hash))!.completed_at).toBeDefined()
}, 120_000)

it.each([
  { when: 'before the move copies it (the copy is refused: the target has one)', after: 'search', age: 3 },
  { when: 'after the move copied it (the copy is overwritten)', after: 'bulk', age: 4 },
] as const)(
  'spor migrate never deletes a copy another writer put in the target: recomputed $when',
  async ({ after, age }) => {
    // A statistics row of the first layout; while it is moved, the rollup job recomputes the day
    // (a fresh row, same id, in the current layout) and deletes the daily row as stale.
    const time = new Date(Date.now() - age * DAY_MS)
    const day = time.toISOString().slice(0, 10)
    const daily = dailyIndex(t.name, 'stats', time)
    const target = classIndex(t.name, 'stats', time)
    const id = `stats-raced-${day}`
    const row = (events: number) => ({
      day,
      tenant: 'initech',
      module: 'mail',
      dim: 'total',
      key: '_',
      events,
      v: 1,
    })
    await t.es.index({ index: daily, id, document: row(7), refresh: true })
    await installIndexSetup(t.es, t.config)

    let recomputed = false
    const recompute = async () => {
      recomputed = true
      await t.es.index({ index: target, id, document: row(9), refresh: true })
      await t.es.delete({ index: daily, id, refresh: true })
    }
    const es = interleaved({
      // before: right after the move read the daily row
      search: async (params, result) => {
        if (after !== 'search' || recomputed || !params?.pit) return
        if (result.hits.hits.some((h: { _id: string }) => h._id === id)) await recompute()
      },
      // after: right after the move wrote its copy to the target
      bulk: async (params) => {
        if (after !== 'bulk' || recomputed) return
        const copied = (params?.operations ?? []).some(
          (op: Record<string, { _index?: string; _id?: string }>) =>
            op.create?._index === target && op.create?._id === id,
        )
        if (copied) await recompute()
      },
    })
    const source = { ...parseClassIndex(daily)!, name: daily }
    const moved = await migrateIndex(es, source, t.name, toCurrentShape, { now: new Date(), graceMs: 0 })

    expect(recomputed).toBe(true)
    expect(moved).toMatchObject({ moved: 1, reconciled: 1, emptied: true, deleted: true })
    // The recomputed row is the one left: the move neither replaced nor deleted it.
    const kept = await t.es.get<Record<string, unknown>>({ index: target, id })
    expect(kept._source).toEqual(row(9))
  },
  60_000,
)

it('a profile job running across an erasure does not write the profile of the person erased meanwhile', async () => {
  const enrichers = createEnrichers({ uaCacheSize: 10, pseudonymKey: requirePseudonymKey(t.config) })
  const day = utcDayStart(new Date(Date.now() - DAY_MS))
  const users = ['seg-kept', 'seg-erased']
  const operations: object[] = []
  for (const user of users) {
    for (let n = 0; n < 6; n++) {
      const event: SporEvent = {
        v: 1,
        id: `${user}-${n}`,
        type: 'page.view',
        ts: new Date(day.getTime() + (9 * 60 + n) * 60_000).toISOString(),
        tenant: 'initech',
        user,
        module: 'crm',
      }
      operations.push(
        {
          index: {
            _index: classIndex(t.name, 'short', new Date(event.ts)),
            _id: documentId('initech', event.id),
          },
        },
        enrichEvent(event, 'short', enrichers, new Date(event.ts)),
      )
    }
  }
  expect((await t.es.bulk({ refresh: true, operations })).errors).toBe(false)

  // The erasure's tombstone is written right after the job read the page holding the person,
  // and the job takes longer than one tombstone refresh before it writes that page.
  const erased = subjectResolver(t.config)('initech', 'seg-erased')
  let tombstoned = false
  const es = interleaved({
    search: async (params) => {
      if (tombstoned || !params?.aggs?.users?.composite) return
      tombstoned = true
      await writeTombstone(t.es, t.name, {
        hash: erased.hash,
        tenant: 'initech',
        erased_at: new Date().toISOString(),
        requested_by: 'cli',
      })
      await sleep(t.config.privacy.tombstoneRefreshMs + 100)
    },
  })
  const report = await runSegmentsJob({ es, config: t.config, log: t.log, table: loadSegmentTable() }, day)

  expect(tombstoned).toBe(true)
  expect(report).toMatchObject({ users: 1, skippedErased: 1 })
  await t.es.indices.refresh({ index: `${t.name}-profiles-*` })
  const kept = subjectResolver(t.config)('initech', 'seg-kept')
  expect(await countDocs(t, 'profiles-*', { term: { 'user.pseudo': kept.pseudo } })).toBe(1)
  expect(await countDocs(t, 'profiles-*', { term: { 'user.pseudo': erased.pseudo } })).toBe(0)
}, 60_000)

it('an alert acknowledged in its daily index stays acknowledged when the detector writes its copy in the new layout and spor migrate moves the daily one', async () => {
  const store = new AlertStore(t.es, t.name)
  const tracker = new IncidentTracker({ find: store.find, indexPrefix: t.name, maxOpen: 10 })
  const start = Date.now() - 2 * DAY_MS
  const finding = (failures: number): Finding => ({
    rule: 'brute_force',
    severity: 'high',
    tenant: 'initech',
    subject: { kind: 'account', value: 'dana@initech.example' },
    relatedUsers: ['dana'],
    windowStart: start,
    windowEnd: start + failures * 1000,
    counts: { failures },
    evidence: Array.from({ length: failures }, (_, i) => `bf-${i}`),
    explanation: `${failures} failed logins`,
  })
  // The first layout: the alert in its daily index, acknowledged by a person.
  const first = new IncidentTracker({ find: async () => undefined, indexPrefix: t.name, maxOpen: 10 })
  const { incident: raised } = await first.absorb(finding(10), 30 * 60_000)
  const daily = dailyIndex(t.name, 'alerts', new Date(start))
  await t.es.index({
    index: daily,
    id: raised.alertId,
    refresh: true,
    document: {
      ...toDocument(raised, start + 20_000),
      status: 'acknowledged',
      acknowledged_by: 'admin-1',
      acknowledged_at: new Date(start + 60_000).toISOString(),
      announced_at: new Date(start + 21_000).toISOString(),
    },
  })
  await installIndexSetup(t.es, t.config)

  // The detector picks the incident up from the daily index and writes it where the current
  // layout keeps it; then the migration moves the daily copy (the newer one in place is kept).
  const { incident, change } = await tracker.absorb(finding(12), 30 * 60_000)
  expect(change).toBe('updated')
  await store.write([incident], Date.now())
  const source = { ...parseClassIndex(daily)!, name: daily }
  await migrateIndex(t.es, source, t.name, toCurrentShape, { now: new Date(), graceMs: 0 })

  const kept = await t.es.get<AlertDocument>({
    index: classIndex(t.name, 'alerts', new Date(start)),
    id: raised.alertId,
  })
  expect(kept._source).toMatchObject({
    status: 'acknowledged',
    acknowledged_by: 'admin-1',
    announced_at: new Date(start + 21_000).toISOString(),
    // the detector's update is there too
    counts: { failures: 12 },
    evidence_total: 12,
  })
  expect(await t.es.indices.exists({ index: daily })).toBe(false)
}, 60_000)
