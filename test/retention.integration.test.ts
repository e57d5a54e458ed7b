import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fixedClock, systemClock } from '../core/clock.ts'
import { loadConfig, requirePseudonymKey } from '../core/config.ts'
import { hasIlm } from '../core/es.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { classIndex, dailyIndex } from '../core/indices.ts'
import { createProducer } from '../core/kafka.ts'
import { DAY_MS, DEFAULT_RETENTION_DAYS, RETENTION_CLASSES, utcDayStart } from '../core/retention.ts'
import { ensureDetectTopics, repartitionTopic } from '../detect/topics.ts'
import { createEnrichers } from '../enrich/index.ts'
import { produceEvents } from '../generate/produce.ts'
import type { AuditReport } from '../ilm-policies/auditor.ts'
import { enforceRetention } from '../ilm-policies/enforcer.ts'
import { SHORT_ONLY_FIELDS } from '../ilm-policies/mappings.ts'
import { lifecyclePolicy, policyName } from '../ilm-policies/policies.ts'
import { retentionMetrics } from '../ilm-policies/retention-metrics.ts'
import { startIngestRetention } from '../ilm-policies/retention-schedule.ts'
import { templateName } from '../ilm-policies/templates.ts'
import { validateWithElasticsearch } from '../ilm-policies/validate/validate-policies.ts'
import { IngestConsumer } from '../ingest/consumer.ts'
import { ingestMetrics } from '../ingest/metrics.ts'
import { ensureTopics, TOPIC_SEGMENT_MS } from '../ingest/topics.ts'
import { findTombstone, tombstoneLifetimeMs, writeTombstone } from '../privacy/tombstones.ts'
import { readTopicToMarker } from './helpers/dlq.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

const run = promisify(execFile)
const SPOR = join(import.meta.dirname, '..', 'bin', 'spor.js')
const HOUR = 3_600_000

/** Runs the real CLI as a user would, with the test installation's environment. */
async function spor(
  t: TestEnv,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [SPOR, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...t.env, SPOR_LOG_LEVEL: 'error' },
      timeout: 60_000,
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string }
    if (typeof e.code !== 'number') throw error
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

async function auditJson(t: TestEnv): Promise<{ code: number; report: AuditReport }> {
  const { code, stdout, stderr } = await spor(t, 'retention', 'audit', '--json')
  const start = stdout.indexOf('{\n')
  if (start < 0) throw new Error(`no JSON report (exit ${code}): ${stdout} ${stderr}`)
  return { code, report: JSON.parse(stdout.slice(start)) as AuditReport }
}

async function indexNames(t: TestEnv, pattern: string): Promise<string[]> {
  const rows = await t.es.cat.indices({
    index: pattern,
    format: 'json',
    h: 'index',
    expand_wildcards: ['open', 'closed'],
  })
  return (rows as { index?: string }[]).map((r) => r.index!).sort()
}

/** A counter or gauge value for one label set (this process's prom-client registry). */
async function metricValue(
  metric: { get: () => Promise<{ values: { labels: object; value: number }[] }> },
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get()
  const found = values.find((v) =>
    Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x),
  )
  return found?.value ?? 0
}

describe('retention: three weeks and one year (S10)', () => {
  let t: TestEnv
  const outside: string[] = []

  beforeAll(async () => {
    t = await createTestEnv('retention')
  })
  afterAll(async () => {
    // Foreign indices outside the test prefix are not removed by cleanup(): delete them by name.
    if (outside.length > 0) await t?.es.indices.delete({ index: outside, ignore_unavailable: true })
    await t?.cleanup()
  })

  it('the enforcer deletes exactly the expired daily indices, in every class, and nothing else', async () => {
    const p = t.name
    // 2026 is not a leap year: 2025-06-15 + 365 d = 2026-06-15, 2026-05-25 + 21 d = 2026-06-15.
    const now = '2026-06-15T10:00:00.000Z'
    const expired = [
      `${p}-short-2026.05.24`,
      `${p}-short-2026.05.25`,
      `${p}-long-2025.06.15`,
      `${p}-long-2025.01.01`, // closed: still holds data, still deleted
      `${p}-alerts-2025.06.14`,
      `${p}-alerts-2025.06.15`,
    ].sort()
    const kept = [
      `${p}-short-2026.05.26`,
      `${p}-short-2026.06.15`,
      `${p}-long-2025.06.16`,
      `${p}-long-2026.05.01`, // older than three weeks, but a long-class index
      `${p}-alerts-2025.06.16`,
    ]
    // Similar names that are not this installation's daily indices, all far past any retention.
    const foreignInside = [`${p}-short-2020.01.01-restored`, `${p}-short-2020.02.31`, `${p}-long-20200101`]
    const foreignOutside = [`${p}x-short-2020.01.01`, `o${p}-short-2020.01.01`, `${p}x-long-2020.01.01`]
    outside.push(...foreignOutside)
    for (const index of [...expired, ...kept, ...foreignInside, ...foreignOutside]) {
      await t.es.indices.create({ index, settings: { number_of_shards: 1, number_of_replicas: 0 } })
    }
    await t.es.indices.close({ index: `${p}-long-2025.01.01` })

    // Dry run through the CLI: lists exactly the expired ones, deletes nothing.
    const dry = await spor(t, 'retention', 'enforce', '--dry-run', '--json', '--now', now)
    expect(dry.code).toBe(0)
    const dryReport = JSON.parse(dry.stdout.slice(dry.stdout.indexOf('{\n'))) as {
      deleted: { index: string }[]
      ignored: string[]
    }
    expect(dryReport.deleted.map((d) => d.index).sort()).toEqual(expired)
    expect(dryReport.ignored.sort()).toEqual([...foreignInside].sort())
    expect(await indexNames(t, `${p}-*`)).toEqual([...expired, ...kept, ...foreignInside].sort())

    const before = await metricValue(retentionMetrics.deletedIndices, { class: 'short' })
    const options = { prefix: p, retentionDays: t.config.retentionDays, clock: fixedClock(now), log: t.log }
    const report = await enforceRetention(t.es, options)
    expect(report.deleted.map((d) => d.index).sort()).toEqual(expired)
    expect(report.failed).toEqual([])
    expect(await indexNames(t, `${p}-*`)).toEqual([...kept, ...foreignInside].sort())
    for (const index of foreignOutside) expect(await t.es.indices.exists({ index })).toBe(true)
    expect(await metricValue(retentionMetrics.deletedIndices, { class: 'short' })).toBe(before + 2)

    // Idempotent: a second run finds nothing more to delete.
    const again = await enforceRetention(t.es, options)
    expect(again.deleted).toEqual([])
    expect(await indexNames(t, `${p}-*`)).toEqual([...kept, ...foreignInside].sort())

    // A future --now would delete data early: refused unless it is a dry run.
    const early = await spor(t, 'retention', 'enforce', '--now', '2099-01-01T00:00:00Z')
    expect(early.code).not.toBe(0)
    expect(early.stderr).toContain('--dry-run')
    expect(await indexNames(t, `${p}-*`)).toEqual([...kept, ...foreignInside].sort())

    await t.es.indices.delete({ index: [...kept, ...foreignInside] })
  })

  it('after setup the events and dead-letter topics keep records inside the short class', async () => {
    const admin = t.kafka.admin()
    await admin.connect()
    try {
      const { eventsTopic, dlqTopic } = t.config.kafka
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [eventsTopic, dlqTopic].map((name) => ({
          type: 2,
          name,
          configNames: ['retention.ms', 'message.timestamp.type'],
        })),
      })
      expect(described.resources).toHaveLength(2)
      for (const resource of described.resources) {
        const retention = Number(
          resource.configEntries.find((e) => e.configName === 'retention.ms')!.configValue,
        )
        expect(retention).toBeGreaterThan(0)
        expect(retention).toBeLessThanOrEqual(t.config.retentionDays.short * DAY_MS)
        // Retention counts from arrival at the broker, whatever clock the producer had.
        const stamp = resource.configEntries.find((e) => e.configName === 'message.timestamp.type')
        expect(stamp?.configValue).toBe('LogAppendTime')
      }
    } finally {
      await admin.disconnect()
    }
  })

  it('setup run by several instances at once on fresh installations: every topic is usable at once', async () => {
    // Two instances of each installation start together (both create, one wins), three
    // installations side by side; right after setup returns, every partition takes a record.
    const configs = [1, 2, 3].map((i) => loadConfig({ ...t.env, SPOR_TOPIC_PREFIX: `${t.name}f${i}` }))
    const topics = configs.flatMap((c) => [c.kafka.eventsTopic, c.kafka.dlqTopic, c.kafka.alertsTopic])
    const producer = createProducer(t.kafka)
    const admin = t.kafka.admin()
    await Promise.all([producer.connect(), admin.connect()])
    try {
      const reports = await Promise.all(
        configs.flatMap((c) => [ensureTopics(t.kafka, c), ensureTopics(t.kafka, c)]),
      )
      expect(reports).toHaveLength(6)
      const partitions = t.config.kafka.partitions
      const sent = await producer.sendBatch({
        acks: -1,
        topicMessages: topics.map((topic) => ({
          topic,
          messages: Array.from({ length: partitions }, (_, partition) => ({ partition, value: 'x' })),
        })),
      })
      expect(sent).toHaveLength(topics.length * partitions)
      expect(sent.every((r) => r.errorCode === 0)).toBe(true)
    } finally {
      await admin.deleteTopics({ topics }).catch(() => {})
      await Promise.all([producer.disconnect(), admin.disconnect()])
    }
  })

  it('the enforcer deletes erasure tombstones past their lifetime and keeps the others', async () => {
    const now = new Date('2027-03-01T12:00:00Z')
    const lifetime = tombstoneLifetimeMs(t.config)
    const erasedAt = (ms: number) => new Date(now.getTime() - ms).toISOString()
    const record = (hash: string, at: string) => ({ hash, tenant: 'acme', erased_at: at, requested_by: 'k1' })
    await writeTombstone(t.es, t.name, record('old', erasedAt(lifetime + DAY_MS)))
    await writeTombstone(t.es, t.name, record('recent', erasedAt(lifetime - DAY_MS)))
    const run = (dryRun: boolean) =>
      enforceRetention(t.es, {
        prefix: t.name,
        retentionDays: t.config.retentionDays,
        clock: fixedClock(now.toISOString()),
        log: t.log,
        dryRun,
        tombstoneLifetimeMs: lifetime,
      })
    expect((await run(true)).tombstonesExpired).toBe(1)
    expect(await findTombstone(t.es, t.name, 'old')).toBeDefined()
    expect((await run(false)).tombstonesExpired).toBe(1)
    expect(await findTombstone(t.es, t.name, 'old')).toBeUndefined()
    expect(await findTombstone(t.es, t.name, 'recent')).toBeDefined()
    expect((await run(false)).tombstonesExpired).toBe(0)
    // Long enough that no replay (topics) and no late event (classes) can predate it.
    expect(lifetime).toBeGreaterThan(t.config.retentionDays.long * DAY_MS + t.config.kafka.topicRetentionMs)
  })

  it('the auditor passes a clean installation and reports a topic set longer by hand', async () => {
    const clean = await auditJson(t)
    expect(clean.report.violations).toEqual([])
    expect(clean.code).toBe(0)

    const admin = t.kafka.admin()
    await admin.connect()
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: 2,
          name: t.config.kafka.dlqTopic,
          configEntries: [{ name: 'retention.ms', value: String(30 * DAY_MS) }],
        },
      ],
    })
    await admin.disconnect()

    const broken = await auditJson(t)
    expect(broken.code).toBe(1)
    expect(broken.report.violations).toHaveLength(1)
    expect(broken.report.violations[0]).toContain(`topic ${t.config.kafka.dlqTopic}`)
    expect(broken.report.topics?.find((x) => x.topic === t.config.kafka.dlqTopic)?.retentionMs).toBe(
      30 * DAY_MS,
    )

    // `spor setup` (ensureTopics) brings it back into line.
    await ensureTopics(t.kafka, t.config)
  })

  it("the auditor covers detect's repartition topic (IPs, user ids) once it exists", async () => {
    const topic = repartitionTopic(t.config)
    const before = await auditJson(t)
    expect(before.report.topics?.find((x) => x.topic === topic)).toMatchObject({
      exists: false,
      problems: [],
    })

    // As `spor detect` creates it: default 360 h retention, daily segments.
    await ensureDetectTopics(t.kafka, t.config)
    const clean = await auditJson(t)
    expect(clean.report.violations).toEqual([])
    expect(clean.report.topics?.find((x) => x.topic === topic)).toMatchObject({
      exists: true,
      role: 'repartition',
      retentionMs: 360 * HOUR,
      segmentMs: TOPIC_SEGMENT_MS,
    })

    // The retention without daily segments (broker default 7 d): 15 d + 7 d can outlive the short
    // class. (alterConfigs replaces all of a topic's overrides, so retention.ms is set again.)
    const admin = t.kafka.admin()
    await admin.connect()
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: 2,
          name: topic,
          configEntries: [
            { name: 'retention.ms', value: String(360 * HOUR) },
            { name: 'segment.ms', value: String(7 * DAY_MS) },
          ],
        },
      ],
    })
    await admin.disconnect()
    const broken = await auditJson(t)
    expect(broken.code).toBe(1)
    expect(broken.report.violations).toHaveLength(1)
    expect(broken.report.violations[0]).toContain(`topic ${topic}`)

    // Starting detect again brings it back into line.
    await ensureDetectTopics(t.kafka, t.config)
    expect((await auditJson(t)).report.violations).toEqual([])
  })

  it('the auditor reports shards per class and fails when the retention table cannot fit the budget', async () => {
    const index = classIndex(t.name, 'long', new Date())
    await t.es.indices.create({ index })
    try {
      const ok = await auditJson(t)
      const long = ok.report.capacity.classes.find((c) => c.cls === 'long')!
      expect(long).toMatchObject({ period: 'month', indices: 1, primaries: 1, projected: 14 })
      expect(ok.report.capacity.projectedPrimaries).toBe(58)
      expect(ok.report.capacity.cluster.limit).toBeGreaterThan(0)
      expect(ok.report.capacity.violations).toEqual([])

      // Three months of daily short indices (profiles follow short): 93 + 14 + 14 + 4 + 5 primaries.
      const over = await spor(
        { ...t, env: { ...t.env, SPOR_RETENTION_SHORT_DAYS: '90' } },
        'retention',
        'audit',
        '--json',
      )
      expect(over.code).toBe(1)
      const report = JSON.parse(over.stdout.slice(over.stdout.indexOf('{\n'))) as AuditReport
      expect(report.capacity.violations).toEqual([
        expect.stringContaining('projected steady state of 130 primary shards exceeds the budget of 100'),
      ])
      expect(report.violations).toEqual(expect.arrayContaining(report.capacity.violations))
    } finally {
      await t.es.indices.delete({ index })
    }
  })

  it('the auditor reports planted too-old documents per class and exits non-zero', async () => {
    const now = Date.now()
    const doc = (id: string, type: string, ageDays: number) => ({
      '@timestamp': new Date(now - ageDays * DAY_MS).toISOString(),
      event: { id, action: type, ingested: new Date(now).toISOString() },
      organization: { id: 'acme' },
    })
    const shortIndex = classIndex(t.name, 'short', new Date(now))
    const longIndex = classIndex(t.name, 'long', new Date(now))
    // Recent-dated indices, so neither the enforcer nor the index name gives the old data away.
    await t.es.index({ index: shortIndex, id: 'short-ok', document: doc('short-ok', 'page.view', 20) })
    await t.es.index({ index: shortIndex, id: 'short-old', document: doc('short-old', 'page.view', 30) })
    await t.es.index({ index: longIndex, id: 'long-ok', document: doc('long-ok', 'job.start', 300) })
    await t.es.index({ index: longIndex, id: 'long-old', document: doc('long-old', 'job.start', 367) })
    await t.es.indices.refresh({ index: [shortIndex, longIndex] })

    const { code, report } = await auditJson(t)
    expect(code).toBe(1)
    const byClass = Object.fromEntries(report.classes.map((c) => [c.cls, c]))
    expect(byClass.short!.violations).toEqual([
      { index: shortIndex, count: 1, oldest: new Date(now - 30 * DAY_MS).toISOString() },
    ])
    expect(byClass.long!.violations).toEqual([
      { index: longIndex, count: 1, oldest: new Date(now - 367 * DAY_MS).toISOString() },
    ])
    expect(byClass.short!.oldest).toBe(new Date(now - 30 * DAY_MS).toISOString())
    expect(byClass.short!.oldestAgeSeconds).toBeGreaterThanOrEqual(30 * 86_400)
    expect(report.violations).toHaveLength(2)

    // The human-readable output names the index too.
    const text = await spor(t, 'retention', 'audit')
    expect(text.code).toBe(1)
    expect(text.stdout).toContain(`VIOLATION ${shortIndex}: 1 document(s)`)

    await t.es.indices.delete({ index: [shortIndex, longIndex] })
  })

  it('the schedule inside spor ingest deletes an expired index and publishes the oldest age per class', async () => {
    const now = Date.now()
    const expiredIndex = classIndex(t.name, 'short', new Date(now - 22 * DAY_MS))
    const keptIndex = classIndex(t.name, 'short', new Date(now - 2 * DAY_MS))
    const doc = (ageMs: number) => ({
      '@timestamp': new Date(now - ageMs).toISOString(),
      event: { id: 'x', action: 'page.view' },
      organization: { id: 'acme' },
    })
    await t.es.index({ index: expiredIndex, id: 'old', document: doc(22 * DAY_MS) })
    await t.es.index({ index: keptIndex, id: 'recent', document: doc(2 * DAY_MS) })
    await t.es.indices.refresh({ index: [expiredIndex, keptIndex] })
    const runsBefore = await metricValue(retentionMetrics.enforceRuns, { outcome: 'ok' })

    // The same wiring `spor ingest` uses (SPOR_ENFORCE_EVERY_MS, default one hour; first run at start).
    const schedule = startIngestRetention(t.es, t.config, t.log, systemClock)
    expect(schedule).toBeDefined()
    try {
      await waitFor(
        () => metricValue(retentionMetrics.enforceRuns, { outcome: 'ok' }),
        (runs) => runs > runsBefore,
        { what: 'one enforcement run' },
      )
    } finally {
      await schedule!.stop()
    }
    expect(await t.es.indices.exists({ index: expiredIndex })).toBe(false)
    expect(await t.es.indices.exists({ index: keptIndex })).toBe(true)
    // The gauge now shows the oldest document left: two days old, not 22.
    const age = await metricValue(retentionMetrics.oldestAge, { class: 'short' })
    expect(age).toBeGreaterThanOrEqual(2 * 86_400)
    expect(age).toBeLessThan(2 * 86_400 + 600)
    expect(await metricValue(retentionMetrics.violatingDocs, { class: 'short' })).toBe(0)
    await t.es.indices.delete({ index: keptIndex })
  })

  it('ingest drops a late event past retention, indexes one just inside, dead-letters a future one', async () => {
    const consumer = new IngestConsumer({
      config: t.config,
      es: t.es,
      kafka: t.kafka,
      log: t.log,
      enrichers: createEnrichers({ uaCacheSize: 100, pseudonymKey: requirePseudonymKey(t.config) }),
      clock: systemClock,
    })
    const today = utcDayStart(new Date()).getTime()
    const base = { v: 1 as const, tenant: 'acme', user: 'u-17', session: 's-1' }
    const events: SporEvent[] = [
      // Its day is the oldest still retained: expires at the next midnight.
      {
        ...base,
        id: 'short-inside',
        type: 'session.login',
        ts: new Date(today - 20 * DAY_MS + HOUR).toISOString(),
      },
      // Its day expired at today's midnight (the last minute of that day).
      {
        ...base,
        id: 'short-past',
        type: 'session.login',
        ts: new Date(today - 20 * DAY_MS - 60_000).toISOString(),
      },
      {
        ...base,
        id: 'long-inside',
        type: 'job.start',
        ts: new Date(today - 364 * DAY_MS + HOUR).toISOString(),
      },
      {
        ...base,
        id: 'long-past',
        type: 'job.start',
        ts: new Date(today - 364 * DAY_MS - 60_000).toISOString(),
      },
      { ...base, id: 'future', type: 'page.view', ts: new Date(Date.now() + DAY_MS).toISOString() },
    ]
    const droppedBefore = await metricValue(ingestMetrics.events, {
      outcome: 'dropped',
      reason: 'past_retention',
    })
    const futureBefore = await metricValue(ingestMetrics.events, { outcome: 'dlq', reason: 'ts_in_future' })
    await consumer.start()
    try {
      const producer = createProducer(t.kafka)
      await producer.connect()
      await produceEvents(producer, t.config.kafka.eventsTopic, events)
      await producer.disconnect()

      await waitFor(
        async () => ({
          docs: (await countDocs(t, 'short-*')) + (await countDocs(t, 'long-*')),
          dropped: await metricValue(ingestMetrics.events, { outcome: 'dropped', reason: 'past_retention' }),
          future: await metricValue(ingestMetrics.events, { outcome: 'dlq', reason: 'ts_in_future' }),
        }),
        (s) => s.docs === 2 && s.dropped === droppedBefore + 2 && s.future === futureBefore + 1,
        { what: '2 indexed, 2 dropped past retention, 1 dead-lettered' },
      )
    } finally {
      await consumer.stop()
    }
    // Each message counted once (a re-fetched batch would count again), and never dead-lettered.
    expect(await metricValue(ingestMetrics.events, { outcome: 'dropped', reason: 'past_retention' })).toBe(
      droppedBefore + 2,
    )
    // Dead-lettered: only the future event (read from the topic itself; a metric label that is
    // never emitted would read 0 whatever happened).
    const letters = await readTopicToMarker(t.kafka, t.config.kafka.dlqTopic)
    expect(letters.map((l) => [JSON.parse(l.payload!).id, l.reason])).toEqual([['future', 'ts_in_future']])
    const at = (id: string) => new Date(events.find((e) => e.id === id)!.ts)
    expect(
      await t.es.exists({ index: classIndex(t.name, 'short', at('short-inside')), id: 'acme:short-inside' }),
    ).toBe(true)
    expect(
      await t.es.exists({ index: classIndex(t.name, 'long', at('long-inside')), id: 'acme:long-inside' }),
    ).toBe(true)
    // Dropped events did not even create their (expired) daily index, nor a document anywhere.
    expect(await t.es.indices.exists({ index: classIndex(t.name, 'short', at('short-past')) })).toBe(false)
    expect(await t.es.indices.exists({ index: dailyIndex(t.name, 'short', at('short-past')) })).toBe(false)
    expect(await countDocs(t, 'long-*', { ids: { values: ['acme:long-past'] } })).toBe(0)
  })

  it('a long-class document carries no raw IP, username, device id or precise position', async () => {
    const consumer = new IngestConsumer({
      config: t.config,
      es: t.es,
      kafka: t.kafka,
      log: t.log,
      enrichers: createEnrichers({ uaCacheSize: 100, pseudonymKey: requirePseudonymKey(t.config) }),
      clock: systemClock,
    })
    const event: SporEvent = {
      v: 1,
      id: 'job-with-everything',
      type: 'job.start',
      ts: new Date().toISOString(),
      tenant: 'acme',
      user: 'u-42',
      username: 'kari.nordmann@example.no',
      module: 'mail',
      function: 'distribution',
      object: { type: 'mailing', id: 'm-9' },
      ip: '81.166.12.77',
      device: {
        ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
        deviceId: 'dev-7f3a9c',
        network: { type: 'wifi', id: 'ssid-hash-1' },
      },
      position: { lat: 59.91273, lon: 10.74609, accuracyM: 12 },
    }
    await consumer.start()
    try {
      const producer = createProducer(t.kafka)
      await producer.connect()
      await produceEvents(producer, t.config.kafka.eventsTopic, [event])
      await producer.disconnect()
      await waitFor(
        () => countDocs(t, 'long-*', { ids: { values: ['acme:job-with-everything'] } }),
        (n) => n === 1,
        { what: 'the long-class document' },
      )
    } finally {
      await consumer.stop()
    }
    const stored = await t.es.get<Record<string, unknown>>({
      index: classIndex(t.name, 'long', new Date(event.ts)),
      id: 'acme:job-with-everything',
    })
    const source = stored._source!
    // "Who did what": user id, action, object, time, tenant, truncated IP.
    expect(source).toMatchObject({
      organization: { id: 'acme' },
      user: { id: 'u-42' },
      event: { action: 'job.start' },
      spor: { module: 'mail', object: { type: 'mailing', id: 'm-9' }, source: { ip_prefix: '81.166.12.0' } },
    })
    for (const field of SHORT_ONLY_FIELDS) expect(source).not.toHaveProperty(field)
    expect(source).not.toHaveProperty('source.ip')
    const text = JSON.stringify(source)
    for (const raw of [
      '81.166.12.77',
      'kari.nordmann',
      'dev-7f3a9c',
      'ssid-hash-1',
      '59.91273',
      '10.74609',
    ]) {
      expect(text).not.toContain(raw)
    }
  })

  it.each([
    ['source.ip', { source: { ip: '81.166.12.77' } }],
    ['user.name', { user: { id: 'u-1', name: 'kari' } }],
    ['device.id', { device: { id: 'dev-1' } }],
    ['spor.position', { spor: { position: { location: { lat: 59.9, lon: 10.7 } } } }],
    ['user_agent.original', { user_agent: { original: 'Mozilla/5.0' } }],
    ['spor.device.hash', { spor: { device: { hash: 'h' } } }],
  ])('the strict long mapping rejects a document carrying %s', async (_field, extra) => {
    const index = classIndex(t.name, 'long', new Date())
    const document = {
      '@timestamp': new Date().toISOString(),
      event: { id: 'x', action: 'job.start' },
      organization: { id: 'acme' },
      ...extra,
    }
    await expect(t.es.index({ index, id: `reject-${_field}`, document })).rejects.toThrow(
      /strict_dynamic_mapping_exception/,
    )
  })

  it('spor setup says what deletes on this cluster, and the templates match it', async () => {
    const { code, stdout } = await spor(t, 'setup')
    expect(code).toBe(0)
    const ilm = await hasIlm(t.es)
    for (const cls of ['short', 'long'] as const) {
      const found = await t.es.indices.getIndexTemplate({ name: templateName(t.name, cls) })
      const settings = found.index_templates[0]!.index_template.template!.settings!
      const lifecycle = JSON.stringify(settings)
      if (ilm) expect(lifecycle).toContain(policyName(t.name, cls))
      else expect(lifecycle).not.toContain('lifecycle')
    }
    if (ilm) expect(stdout).toContain('lifecycle policies installed')
    else expect(stdout).toMatch(/no ILM: retention is enforced by spor itself/)
  })
})

describe("lifecycle policies checked by Elasticsearch's own ILM code (x-pack-core)", () => {
  it("accepts spor's generated policies and rejects broken ones with Elasticsearch's message", async () => {
    const custom = { short: 14, long: 400, alerts: 90, stats: 800, profiles: 14 }
    const spors = Object.fromEntries(
      RETENTION_CLASSES.flatMap((cls) => [
        [policyName('spor', cls), lifecyclePolicy(cls, DEFAULT_RETENTION_DAYS)],
        [policyName('custom', cls), lifecyclePolicy(cls, custom)],
      ]),
    )
    const good = lifecyclePolicy('short', DEFAULT_RETENTION_DAYS)
    const broken = {
      'misspelt-action': { phases: { delete: { min_age: '21d', actions: { delet: {} } } } },
      'bad-min-age': { phases: { delete: { min_age: '21 days', actions: { delete: {} } } } },
      'action-in-wrong-phase': {
        phases: { delete: { min_age: '21d', actions: { rollover: { max_age: '1d' } } } },
      },
      'phases-out-of-order': {
        phases: {
          warm: { min_age: '30d', actions: {} },
          delete: { min_age: '21d', actions: { delete: {} } },
        },
      },
    }
    const verdicts = await validateWithElasticsearch({ ...spors, ...broken, 'copy-of-good': good })
    const byName = Object.fromEntries(verdicts.map((v) => [v.name, v]))
    expect(verdicts).toHaveLength(Object.keys(spors).length + Object.keys(broken).length + 1)
    for (const name of [...Object.keys(spors), 'copy-of-good'])
      expect(byName[name]).toEqual({ name, valid: true })
    expect(byName['misspelt-action']).toMatchObject({
      valid: false,
      message: expect.stringContaining('unknown field [delet]'),
    })
    expect(byName['bad-min-age']).toMatchObject({
      valid: false,
      message: expect.stringContaining('failed to parse [21 days]'),
    })
    expect(byName['action-in-wrong-phase']).toMatchObject({
      valid: false,
      message: 'invalid action [rollover] defined in phase [delete]',
    })
    expect(byName['phases-out-of-order']).toMatchObject({
      valid: false,
      message: expect.stringContaining('delete phase (min_age: 21d) before the warm phase'),
    })
  })
})
