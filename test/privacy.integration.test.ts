import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { systemClock } from '../core/clock.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { classOf, DEFAULT_EVENT_TYPES } from '../core/event-types.ts'
import { classIndex } from '../core/indices.ts'
import { KeyStore } from '../core/keys.ts'
import { DAY_MS } from '../core/retention.ts'
import { generateTraffic, simulatedUsers } from '../generate/traffic.ts'
import { csvSafeText, parseCsv } from '../privacy/export-format.ts'
import { subjectResolver } from '../privacy/subject.ts'
import { writeTombstone } from '../privacy/tombstones.ts'
import { buildQueryApp } from '../query/app.ts'
import { waitForCommittedToEnd } from './helpers/ingest.ts'
import {
  produceAll,
  resetToEarliest,
  seedAlerts,
  startIngestWithTombstones,
} from './helpers/privacy-fixture.ts'
import { countDocs, createTestEnv, type TestEnv } from './helpers/test-env.ts'

const exec = promisify(execFile)
const REPO = join(import.meta.dirname, '..')

const now = new Date()
const population = { seed: 11, tenants: ['acme', 'globex'], usersPerTenant: 6 }
// A frequent user (active most days), an administrator who handles the requests, and a colleague.
const SUBJECT = simulatedUsers(population).find(
  (u) => u.tenant === 'acme' && !u.admin && u.activity === 0.9,
)!.user
const ADMIN = 'u0000'
const OTHER = simulatedUsers(population).find(
  (u) => u.tenant === 'acme' && !u.admin && u.user !== SUBJECT && u.activity >= 0.5,
)!.user

/** Business-history and device events the generator may not give the subject on its own. */
function extraEvents(tenant: string): SporEvent[] {
  return [2, 5, 8].flatMap((daysAgo) => {
    const ts = new Date(now.getTime() - daysAgo * DAY_MS).toISOString()
    return [
      {
        v: 1,
        id: `extra-msg-${tenant}-${daysAgo}`,
        type: 'message.send',
        ts,
        tenant,
        user: SUBJECT,
        session: `s-extra-${daysAgo}`,
        ip: '81.166.12.34',
        module: 'mail',
        function: 'campaign.send',
        props: { recipients: 40 + daysAgo },
      },
      {
        v: 1,
        id: `extra-pos-${tenant}-${daysAgo}`,
        type: 'page.view',
        ts,
        tenant,
        user: SUBJECT,
        session: `s-extra-${daysAgo}`,
        ip: '81.166.12.34',
        module: 'crm',
        function: 'contacts.view',
        device: { ua: 'Mozilla/5.0 (X11; Linux x86_64) "quoted", with comma', deviceId: 'dev-extra-1' },
        position: { lat: 59.91, lon: 10.75, accuracyM: 12 },
      },
    ] satisfies SporEvent[]
  })
}

const events: SporEvent[] = [
  ...generateTraffic({ ...population, days: 12, end: now }),
  ...extraEvents('acme'),
  ...extraEvents('globex'),
]
const idsOf = (tenant: string, user: string) =>
  new Set(events.filter((e) => e.tenant === tenant && e.user === user).map((e) => `${tenant}:${e.id}`))
const longIdsOf = (tenant: string, user: string) =>
  new Set(
    events
      .filter(
        (e) => e.tenant === tenant && e.user === user && classOf(DEFAULT_EVENT_TYPES, e.type) === 'long',
      )
      .map((e) => `${tenant}:${e.id}`),
  )

interface NdRecord {
  class: string
  index: string
  id: string
  document: Record<string, any>
}

function parseNdjson(text: string): { manifest: any; records: NdRecord[] } {
  const lines = text.trim().split('\n')
  return { manifest: JSON.parse(lines[0]!).manifest, records: lines.slice(1).map((l) => JSON.parse(l)) }
}

/** The test's own flattening (independent of the exporter's): dotted leaf paths, JSON at arrays. */
function leafCells(value: unknown, path = '', out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value)
    // geo points and flattened props are one column holding JSON
    if (path.endsWith('location') || path === 'props' || path === 'figures' || path === 'rules') {
      out.set(path, JSON.stringify(value))
      return out
    }
    for (const [k, v] of entries) leafCells(v, path ? `${path}.${k}` : k, out)
    return out
  }
  out.set(path, Array.isArray(value) ? JSON.stringify(value) : String(value))
  return out
}

describe('data-subject rights: export, erasure, audit', () => {
  let t: TestEnv
  let ingest: { stop: () => Promise<void> }
  let app: FastifyInstance
  let acmeKey: { key: string; id: string }
  let globexKey: string
  let productKey: string
  const resolve = () => subjectResolver(t.config)
  const auth = (key: string) => ({ authorization: `Bearer ${key}` })
  const exportUrl = (tenant: string, user: string, query = '') =>
    `/v1/tenants/${tenant}/subjects/${user}/export${query}`
  /** Completed exports of acme's subject through the API, to check the audit trail against. */
  let subjectExports = 0
  const exportSubject = async (query = '') => {
    const response = await app.inject({
      method: 'GET',
      url: exportUrl('acme', SUBJECT, query),
      headers: auth(acmeKey.key),
    })
    if (response.statusCode === 200) subjectExports++
    return response
  }

  beforeAll(async () => {
    t = await createTestEnv('privacy', { SPOR_TOMBSTONE_REFRESH_MS: '500', SPOR_ERASE_GRACE_MS: '500' })
    ingest = await startIngestWithTombstones(t)
    await produceAll(t, events)
    await waitForCommittedToEnd(t)
    // Paused while the exports are compared (nothing moves between two exports); restarted
    // before the erasure.
    await ingest.stop()

    // Alerts from detection name users in related_users; one about the subject in each tenant.
    const alertsIndex = classIndex(t.name, 'alerts', new Date(now.getTime() - DAY_MS))
    await seedAlerts(t, alertsIndex, [
      { id: 'a1', tenant: 'acme', related_users: [SUBJECT, OTHER], at: now, rule: 'password_spray' },
      { id: 'a2', tenant: 'acme', related_users: [SUBJECT], at: now, rule: 'impossible_travel' },
      { id: 'a3', tenant: 'acme', related_users: [OTHER], at: now, rule: 'brute_force' },
      { id: 'a4', tenant: 'globex', related_users: [SUBJECT], at: now, rule: 'brute_force' },
    ])
    // Profiles (issue 8) are keyed by the pseudonym only.
    const pseudo = (tenant: string, user: string) => resolve()(tenant, user).pseudo
    const profilesIndex = classIndex(t.name, 'profiles', now)
    const day = now.toISOString().slice(0, 10)
    await t.es.bulk({
      refresh: 'wait_for',
      operations: [
        ['acme', SUBJECT],
        ['globex', SUBJECT],
        ['acme', OTHER],
      ].flatMap(([tenant, user]) => [
        { index: { _index: profilesIndex, _id: `${pseudo(tenant!, user!)}:${day}` } },
        {
          '@timestamp': `${day}T00:00:00.000Z`,
          day,
          tenant,
          user: { pseudo: pseudo(tenant!, user!) },
          segments: ['power_user'],
          figures: { active_days: 9, events: 120 },
          rules: [{ segment: 'power_user', matched: true, because: 'active on 9 of 21 days (at least 8)' }],
          rules_version: 'test',
        },
      ]),
    })

    const keys = new KeyStore(t.es, t.config.es.indexPrefix, 0)
    const acme = await keys.create({ kind: 'api', scope: 'tenant', tenant: 'acme', name: 'acme admin' })
    acmeKey = { key: acme.key, id: acme.record.id }
    globexKey = (await keys.create({ kind: 'api', scope: 'tenant', tenant: 'globex', name: 'globex admin' }))
      .key
    productKey = (await keys.create({ kind: 'api', scope: 'product', name: 'product team' })).key
    app = await buildQueryApp({ config: t.config, es: t.es, keys, log: t.log, clock: systemClock })
  })

  afterAll(async () => {
    await app?.close()
    await ingest?.stop()
    await t?.cleanup()
  })

  it('exports every document of the subject across classes and days, and nobody else’s', async () => {
    const response = await exportSubject()
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toContain('application/x-ndjson')
    const { manifest, records } = parseNdjson(response.body)

    const byClass = (cls: string) => new Set(records.filter((r) => r.class === cls).map((r) => r.id))
    const expectedEvents = idsOf('acme', SUBJECT)
    const exportedEvents = new Set([...byClass('short'), ...byClass('long')])
    expect(exportedEvents).toEqual(expectedEvents)
    expect(byClass('long')).toEqual(longIdsOf('acme', SUBJECT))
    expect(byClass('alerts')).toEqual(new Set(['a1', 'a2']))
    expect(byClass('profiles').size).toBe(1)
    // Several daily indices per class: the walk crosses days.
    expect(new Set(records.filter((r) => r.class === 'short').map((r) => r.index)).size).toBeGreaterThan(5)
    for (const r of records) {
      // Event documents by their ECS name, alerts and profiles by their own.
      expect(r.class === 'short' || r.class === 'long' ? r.document.organization.id : r.document.tenant).toBe(
        'acme',
      )
      if (r.class === 'short' || r.class === 'long') expect(r.document.user.id).toBe(SUBJECT)
    }
    // The raw identifiers the policy names are there (S1, S3).
    const pos = records.find((r) => r.id === 'acme:extra-pos-acme-2')!
    expect(pos.document).toMatchObject({
      source: { ip: '81.166.12.34' },
      device: { id: 'dev-extra-1' },
      spor: { position: { location: { lat: 59.91, lon: 10.75 } } },
    })

    expect(manifest.total).toBe(records.length)
    expect(manifest.classes.short.count + manifest.classes.long.count).toBe(expectedEvents.size)
    expect(manifest.classes.alerts.count).toBe(2)
    expect(manifest.classes.profiles.count).toBe(1)
    expect(new Date(manifest.time_span.first).getTime()).toBeLessThan(now.getTime() - 8 * DAY_MS)
    expect(manifest.not_included.map((n: { what: string }) => n.what).join(' ')).toContain('Kafka')
  })

  it('CSV and NDJSON exports agree, field by field', async () => {
    // Each export adds its own audit record about the subject, which the next export lists:
    // so the CSV is compared with an NDJSON export made right after it (one record more).
    const csvResponse = await exportSubject('?format=csv')
    const nd = parseNdjson((await exportSubject()).body)
    expect(csvResponse.statusCode).toBe(200)
    expect(csvResponse.headers['content-type']).toContain('text/csv')
    const [header, ...rows] = parseCsv(csvResponse.body)
    expect(JSON.parse(String(csvResponse.headers['x-spor-manifest'])).total).toBe(rows.length)
    expect(rows).toHaveLength(nd.records.length - 1)
    const col = new Map(header!.map((name, i) => [name, i]))
    const ndById = new Map(nd.records.map((r) => [r.id, r]))
    const notInCsv = new Set(ndById.keys())
    for (const row of rows) {
      const record = ndById.get(row[col.get('id')!]!)!
      expect(record, row[col.get('id')!]).toBeDefined()
      notInCsv.delete(record.id)
      expect(row[col.get('class')!]).toBe(record.class)
      expect(row[col.get('index')!]).toBe(record.index)
      const cells = leafCells(record.document)
      for (const [path, text] of cells) {
        expect(col.has(path), `column ${path}`).toBe(true)
        const cell = row[col.get(path)!]!
        if (text.startsWith('{') || text.startsWith('[')) expect(JSON.parse(cell)).toEqual(JSON.parse(text))
        else expect(cell, `${record.id} ${path}`).toBe(csvSafeText(text))
      }
      // and no cell holds a value the NDJSON document lacks
      const filled = header!.filter((name, i) => !['class', 'index', 'id'].includes(name) && row[i] !== '')
      expect(new Set(filled)).toEqual(new Set(cells.keys()))
    }
    expect([...notInCsv].map((id) => ndById.get(id)!.document.event.action)).toEqual(['privacy.export'])
  })

  it('refuses another tenant’s user exactly like an unknown user; product-wide keys get 403', async () => {
    const crossExport = await app.inject({
      method: 'GET',
      url: exportUrl('globex', SUBJECT),
      headers: auth(acmeKey.key),
    })
    const unknownExport = await app.inject({
      method: 'GET',
      url: exportUrl('acme', 'nobody-here'),
      headers: auth(acmeKey.key),
    })
    // Same answer apart from the request id every error carries (random per request).
    const answer = (response: { json: () => Record<string, unknown> }) => {
      const { requestId: _id, ...rest } = response.json()
      return rest
    }
    expect(crossExport.statusCode).toBe(404)
    expect(answer(crossExport)).toEqual(answer(unknownExport))
    expect(unknownExport.statusCode).toBe(404)

    const eraseUrl = (tenant: string, user: string) => `/v1/tenants/${tenant}/subjects/${user}/erase`
    const crossErase = await app.inject({
      method: 'POST',
      url: eraseUrl('globex', SUBJECT),
      headers: auth(acmeKey.key),
    })
    const unknownErase = await app.inject({
      method: 'POST',
      url: eraseUrl('acme', 'nobody-here'),
      headers: auth(acmeKey.key),
    })
    expect(crossErase.statusCode).toBe(404)
    expect(answer(crossErase)).toEqual(answer(unknownErase))
    expect(answer(crossErase)).toEqual(answer(crossExport))

    const product = await app.inject({
      method: 'GET',
      url: exportUrl('acme', SUBJECT),
      headers: auth(productKey),
    })
    expect(product.statusCode).toBe(403)
    // globex's own admin does see globex's user of the same id
    const own = await app.inject({
      method: 'GET',
      url: exportUrl('globex', SUBJECT),
      headers: auth(globexKey),
    })
    expect(own.statusCode).toBe(200)
    // nothing was erased in globex by the refused attempt
    expect(
      await countDocs(t, 'short-*', {
        bool: { filter: [{ term: { 'organization.id': 'globex' } }, { term: { 'user.id': SUBJECT } }] },
      }),
    ).toBeGreaterThan(0)
  })

  it('the CLI export writes the same documents, with a manifest file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spor-export-'))
    const out = join(dir, 'subject.ndjson')
    const { stderr } = await exec(
      process.execPath,
      [
        join(REPO, 'bin', 'spor.js'),
        'subject',
        'export',
        '--tenant',
        'acme',
        '--user',
        SUBJECT,
        '--out',
        out,
      ],
      { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...t.env } },
    )
    expect(stderr).toMatch(/exported \d+ documents/)
    const cli = parseNdjson(readFileSync(out, 'utf8'))
    const api = parseNdjson((await exportSubject()).body)
    const key = (r: NdRecord) => `${r.class}/${r.id}`
    // The API export additionally lists the audit record of the CLI export (made just before).
    const apiKeys = new Set(api.records.map(key))
    for (const r of cli.records) expect(apiKeys.has(key(r)), key(r)).toBe(true)
    expect(JSON.parse(readFileSync(`${out}.manifest.json`, 'utf8')).total).toBe(cli.records.length)
  })

  it('erases: raw data and profile gone, history kept without identifiers, receipt says what and until when', async () => {
    ingest = await startIngestWithTombstones(t)
    const response = await app.inject({
      method: 'POST',
      url: `/v1/tenants/acme/subjects/${SUBJECT}/erase?requested_by=${ADMIN}`,
      headers: auth(acmeKey.key),
    })
    expect(response.statusCode).toBe(200)
    const receipt = response.json()
    const expectedShort = idsOf('acme', SUBJECT).size - longIdsOf('acme', SUBJECT).size
    expect(receipt.deleted).toEqual({ short: expectedShort, profiles: 1 })
    expect(receipt.anonymised.long).toBe(longIdsOf('acme', SUBJECT).size)
    const keptLong = receipt.kept.find((k: { class: string }) => k.class === 'long')
    expect(keptLong.count).toBe(longIdsOf('acme', SUBJECT).size)
    expect(keptLong.what).toContain('free-form properties removed')
    expect(new Date(keptLong.expires_by).getTime()).toBeGreaterThan(now.getTime() + 300 * DAY_MS)
    expect(receipt.kept.find((k: { class: string }) => k.class === 'alerts').count).toBe(2)
    // The tombstone outlives every way back: the long class's year plus the topics' retention.
    const tombstoneLife = Date.parse(receipt.tombstone.expires_by) - Date.parse(receipt.tombstone.recorded_at)
    expect(tombstoneLife).toBeGreaterThan((t.config.retentionDays.long + 7) * DAY_MS)

    await assertErased()
    // The other tenant's user with the same id, and the subject's colleagues, are untouched.
    expect(await countDocs(t, 'short-*', subjectFilter('globex', SUBJECT))).toBe(
      idsOf('globex', SUBJECT).size - longIdsOf('globex', SUBJECT).size,
    )
    expect(await countDocs(t, 'profiles-*')).toBe(2)
  })

  it('a retried erasure completes idempotently and keeps the first tombstone date', async () => {
    const first = await t.es.search({ index: `${t.name}-tombstones`, size: 10 })
    const response = await app.inject({
      method: 'POST',
      url: `/v1/tenants/acme/subjects/${SUBJECT}/erase`,
      headers: auth(acmeKey.key),
    })
    expect(response.statusCode).toBe(200)
    const receipt = response.json()
    expect(receipt.deleted).toEqual({ short: 0, profiles: 0 })
    expect(receipt.anonymised.long).toBe(0)
    const second = await t.es.search<{ erased_at: string; hash: string }>({
      index: `${t.name}-tombstones`,
      size: 10,
    })
    expect(second.hits.hits).toHaveLength(1)
    expect(second.hits.hits[0]!._source!.erased_at).toBe(
      (first.hits.hits[0]!._source as { erased_at: string }).erased_at,
    )
    // The tombstone holds a keyed hash, never the id.
    expect(JSON.stringify(second.hits.hits[0]!._source)).not.toContain(SUBJECT)
    await assertErased()
  })

  it('a replay of the topic from the beginning, and a late event, do not bring the subject back', async () => {
    const othersBefore = await countDocs(t, 'short-*', {
      bool: { must_not: [subjectFilter('acme', SUBJECT)] },
    })
    await ingest.stop()
    await resetToEarliest(t)
    ingest = await startIngestWithTombstones(t)
    const late: SporEvent = {
      v: 1,
      id: 'late-after-erasure',
      type: 'session.login',
      ts: new Date().toISOString(),
      tenant: 'acme',
      user: SUBJECT,
      username: 'late@acme.example',
      session: 'late',
      ip: '81.166.12.34',
    }
    await produceAll(t, [late])
    await waitForCommittedToEnd(t)
    await assertErased()
    expect(await countDocs(t, 'short-*', { bool: { must_not: [subjectFilter('acme', SUBJECT)] } })).toBe(
      othersBefore,
    )
    expect(await countDocs(t, '*', { ids: { values: ['acme:late-after-erasure'] } })).toBe(0)
  })

  it('an erasure that crashed after its tombstone is already enforced by ingest, and a retry finishes it', async () => {
    const other = resolve()('acme', OTHER)
    // The crash: the tombstone was written, nothing else happened.
    await writeTombstone(t.es, t.name, {
      hash: other.hash,
      tenant: 'acme',
      erased_at: new Date().toISOString(),
      requested_by: 'cli',
    })
    await new Promise((r) => setTimeout(r, 3 * t.config.privacy.tombstoneRefreshMs))
    const before = await countDocs(t, 'short-*', subjectFilter('acme', OTHER))
    expect(before).toBeGreaterThan(0)
    await produceAll(t, [
      {
        v: 1,
        id: 'after-crash',
        type: 'page.view',
        ts: new Date().toISOString(),
        tenant: 'acme',
        user: OTHER,
        session: 'x',
      },
    ])
    await waitForCommittedToEnd(t)
    expect(await countDocs(t, '*', { ids: { values: ['acme:after-crash'] } })).toBe(0)
    expect(await countDocs(t, 'short-*', subjectFilter('acme', OTHER))).toBe(before)

    const retry = await app.inject({
      method: 'POST',
      url: `/v1/tenants/acme/subjects/${OTHER}/erase`,
      headers: auth(acmeKey.key),
    })
    expect(retry.statusCode).toBe(200)
    expect(retry.json().deleted).toEqual({ short: before, profiles: 1 })
    expect(await countDocs(t, 'short-*', subjectFilter('acme', OTHER))).toBe(0)
  })

  it('every export and erasure has its audit record, listed in the requesting admin’s own export', async () => {
    const subjectPseudo = resolve()('acme', SUBJECT).pseudo
    await t.es.indices.refresh({ index: `${t.name}-long-*` })
    const audits = await t.es.search<Record<string, any>>({
      index: `${t.name}-long-*`,
      size: 100,
      query: { prefix: { 'event.action': 'privacy.' } },
      sort: [{ '@timestamp': 'asc' }],
    })
    const docs = audits.hits.hits.map((h) => h._source!)
    const ofType = (type: string, tenant = 'acme') =>
      docs.filter(
        (d) =>
          d.event.action === type && d.organization.id === tenant && d.props.subject_pseudo === subjectPseudo,
      )
    const exports = ofType('privacy.export')
    expect(exports.filter((d) => d.props.requester_key === 'cli')).toHaveLength(1)
    expect(exports.filter((d) => d.props.requester_key === acmeKey.id)).toHaveLength(subjectExports)
    expect(exports).toHaveLength(subjectExports + 1)
    for (const d of exports) expect(d.props.count_complete).toBe(1)
    const erasures = ofType('privacy.erase')
    expect(erasures).toHaveLength(2)
    expect(erasures[0]!.props.count_short).toBe(idsOf('acme', SUBJECT).size - longIdsOf('acme', SUBJECT).size)
    expect(erasures[1]!.props.count_short).toBe(0)
    // The subject's id never appears in an audit record.
    for (const d of docs) expect(JSON.stringify(d)).not.toContain(`"${SUBJECT}"`)
    // Refused and unknown requests exported nothing and are not audited as exports.
    expect(
      docs.filter((d) => d.organization.id === 'globex' && d.event.action === 'privacy.export'),
    ).toHaveLength(1)

    // The first erasure named its requesting admin: it is in the admin's own export.
    const adminExport = parseNdjson(
      (await app.inject({ method: 'GET', url: exportUrl('acme', ADMIN), headers: auth(acmeKey.key) })).body,
    )
    const listed = adminExport.records.filter((r) => r.document.event?.action === 'privacy.erase')
    expect(listed).toHaveLength(1)
    expect(listed[0]!.document.user.id).toBe(ADMIN)
    expect(listed[0]!.document.props.requester_key).toBe(acmeKey.id)
  })

  function subjectFilter(tenant: string, user: string) {
    return { bool: { filter: [{ term: { 'organization.id': tenant } }, { term: { 'user.id': user } }] } }
  }

  async function assertErased() {
    expect(await countDocs(t, 'short-*', subjectFilter('acme', SUBJECT))).toBe(0)
    expect(await countDocs(t, 'long-*', subjectFilter('acme', SUBJECT))).toBe(0)
    const pseudo = resolve()('acme', SUBJECT).pseudo
    expect(await countDocs(t, 'profiles-*', { term: { 'user.pseudo': pseudo } })).toBe(0)
    expect(await countDocs(t, '*', { term: { 'user.pseudo': pseudo } })).toBe(0)
    expect(await countDocs(t, '*', { term: { 'user.hash': pseudo } })).toBe(0)
    const kept = await t.es.search<Record<string, any>>({
      index: `${t.name}-long-*`,
      size: 100,
      query: { ids: { values: [...longIdsOf('acme', SUBJECT)] } },
    })
    expect(kept.hits.hits).toHaveLength(longIdsOf('acme', SUBJECT).size)
    for (const hit of kept.hits.hits) {
      const doc = hit._source!
      expect(doc.user).toBeUndefined()
      expect(doc.spor.user_erased).toBe(true)
      expect(doc.spor.session).toBeUndefined()
      expect(doc.spor.source?.ip_prefix).toBeUndefined()
      // Client-supplied properties may hold e-mail addresses or recipients: not kept.
      expect(doc.props).toBeUndefined()
      expect(doc.event.action).toBeDefined()
      expect(doc.organization.id).toBe('acme')
    }
    // What is still held: the kept alerts (S7) and the pseudonymous audit records of the requests.
    const after = await exportSubject()
    expect(after.statusCode).toBe(200)
    const { manifest, records } = parseNdjson(after.body)
    expect(manifest.classes.short.count).toBe(0)
    expect(manifest.classes.profiles.count).toBe(0)
    expect(
      records
        .filter((r) => r.class === 'alerts')
        .map((r) => r.id)
        .sort(),
    ).toEqual(['a1', 'a2'])
    for (const r of records.filter((r) => r.class === 'long')) {
      expect(r.document.event.action).toMatch(/^privacy\./)
      expect(r.document.props.subject_pseudo).toBe(pseudo)
    }
  }
})
