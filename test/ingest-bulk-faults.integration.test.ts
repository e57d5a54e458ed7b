import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEsClient } from '../core/es.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { generateTraffic } from '../generate/traffic.ts'
import type { IngestConsumer } from '../ingest/consumer.ts'
import { ingestMetrics } from '../ingest/metrics.ts'
import { documentId } from '../ingest/plan-batch.ts'
import type { DlqReason, DropReason } from '../ingest/results.ts'
import { readTopicToMarker } from './helpers/dlq.ts'
import { type EsFaultProxy, type ItemFault, startEsFaultProxy } from './helpers/es-fault-proxy.ts'
import { produce, produceRaw, startIngest } from './helpers/ingest.ts'
import { committedOffsets, endOffsets, reached } from './helpers/offsets.ts'
import { countDocs, createTestEnv, endOfYesterday, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * The fault matrix of ingest, end to end: every dead-letter reason, every dropped reason and every
 * retry/hold branch of the bulk writer is produced (item faults and whole-request faults come
 * from the fault proxy in front of the real node), and the outcome is counted exactly:
 * indexed + dead-lettered + dropped = produced, per reason, with every offset committed.
 */

const ITEM_MAX_ATTEMPTS = 3
const MAX_EVENT_BYTES = 4096
const ENRICH_BOOM_UA = 'spor-test-enricher-throws/1.0'
const ERASED_USER = 'u-erased-by-test'
const now = new Date()
const end = endOfYesterday(now)

const good = [
  ...generateTraffic({ seed: 181, tenants: ['acme', 'initech'], usersPerTenant: 12, days: 2, end }),
]

/** Item faults by document id; `attempts` is what the proxy must have seen for each id. */
interface ItemCase {
  name: string
  fault: (seen: number) => ItemFault | undefined
  outcome: 'indexed' | 'es_rejected' | 'es_retries_exhausted'
  attempts: number
}
const ITEM_CASES: ItemCase[] = [
  {
    name: '429 once, then accepted',
    fault: (seen) => (seen < 1 ? { status: 429, type: 'es_rejected_execution_exception' } : undefined),
    outcome: 'indexed',
    attempts: 2,
  },
  {
    name: '500 twice, then accepted (last allowed attempt)',
    fault: (seen) => (seen < ITEM_MAX_ATTEMPTS - 1 ? { status: 500 } : undefined),
    outcome: 'indexed',
    attempts: ITEM_MAX_ATTEMPTS,
  },
  {
    name: '503 on every attempt',
    fault: () => ({ status: 503, type: 'unavailable_shards_exception' }),
    outcome: 'es_retries_exhausted',
    attempts: ITEM_MAX_ATTEMPTS,
  },
  {
    name: '400 mapping error',
    fault: () => ({ status: 400, type: 'document_parsing_exception' }),
    outcome: 'es_rejected',
    attempts: 1,
  },
  {
    name: '409 version conflict',
    fault: () => ({ status: 409, type: 'version_conflict_engine_exception' }),
    outcome: 'es_rejected',
    attempts: 1,
  },
  {
    name: '403 cluster block once (held, not dead-lettered)',
    fault: (seen) => (seen < 1 ? { status: 403, type: 'cluster_block_exception' } : undefined),
    outcome: 'indexed',
    attempts: 2,
  },
]
const PER_CASE = 7
const caseOf = new Map<string, ItemCase>()
ITEM_CASES.forEach((c, i) => {
  for (const e of good.slice(i * PER_CASE, (i + 1) * PER_CASE)) caseOf.set(documentId(e.tenant, e.id), c)
})

const base = good[0]!
const variant = (suffix: string, patch: Partial<SporEvent>): SporEvent => ({
  ...base,
  id: `${base.id}-${suffix}`,
  ...patch,
})
const day = 24 * 3600 * 1000
/** Messages that must end as a plan-level dead letter or drop, by reason. */
const BAD: { reason: DlqReason | DropReason; values: (string | null)[] }[] = [
  { reason: 'empty_message', values: [null, ''] },
  {
    reason: 'oversized',
    values: [JSON.stringify(variant('big', { props: { pad: 'x'.repeat(MAX_EVENT_BYTES) } }))],
  },
  { reason: 'invalid_json', values: ['{"v":1,', 'not json at all'] },
  { reason: 'schema_violation', values: ['{}', JSON.stringify({ ...base, v: 2 })] },
  { reason: 'unknown_type', values: [JSON.stringify(variant('unk', { type: 'nobody.knows' }))] },
  {
    reason: 'ts_in_future',
    values: [JSON.stringify(variant('fut', { ts: new Date(now.getTime() + 2 * day).toISOString() }))],
  },
  {
    reason: 'past_retention',
    values: [JSON.stringify(variant('old', { ts: new Date(now.getTime() - 3 * 365 * day).toISOString() }))],
  },
  {
    reason: 'subject_erased',
    values: [1, 2, 3].map((i) => JSON.stringify(variant(`erased${i}`, { user: ERASED_USER }))),
  },
  {
    reason: 'enrich_failed',
    values: [1, 2].map((i) =>
      JSON.stringify(variant(`boom${i}`, { device: { ...base.device, ua: ENRICH_BOOM_UA } })),
    ),
  },
]
const DROP_REASONS = new Set<string>(['past_retention', 'subject_erased'])

async function eventCounter(outcome: string, reason: string): Promise<number> {
  const metric = await ingestMetrics.events.get()
  return metric.values.find((v) => v.labels.outcome === outcome && v.labels.reason === reason)?.value ?? 0
}

describe('ingest: Elasticsearch faults and bad input, every outcome counted', () => {
  let t: TestEnv
  let proxy: EsFaultProxy
  let consumer: IngestConsumer
  let proxied: TestEnv['es']

  beforeAll(async () => {
    t = await createTestEnv('bulkfaults', {
      SPOR_ITEM_MAX_ATTEMPTS: String(ITEM_MAX_ATTEMPTS),
      SPOR_MAX_EVENT_BYTES: String(MAX_EVENT_BYTES),
      SPOR_RETRY_BASE_MS: '20',
      SPOR_RETRY_MAX_MS: '200',
      // Small bulk requests: several per batch, so request faults hit some requests, not all.
      SPOR_BULK_MAX_BYTES: '16384',
    })
    proxy = await startEsFaultProxy(t.config.es.url, {
      item: (item) => caseOf.get(item.id)?.fault(item.seen),
    })
    proxied = createEsClient({ ...t.config, es: { ...t.config.es, url: proxy.url } })
    consumer = await startIngest(t, {
      es: proxied,
      isErased: (_tenant, user) => user === ERASED_USER,
      enrichers: (real) => ({
        ...real,
        parseUserAgent: (ua) => {
          if (ua === ENRICH_BOOM_UA) throw new Error('user-agent parser blew up (test hook)')
          return real.parseUserAgent(ua)
        },
      }),
    })
  })
  afterAll(async () => {
    await consumer?.stop()
    await proxied?.close()
    await proxy?.close()
    await t?.cleanup()
  })

  async function allCommitted(what: string): Promise<void> {
    const ends = await endOffsets(t)
    // A consumer that gave up fails the test at once instead of after the timeout.
    await Promise.race([
      waitFor(
        () => committedOffsets(t),
        (c) => reached(c, ends),
        { timeoutMs: 90_000, what },
      ),
      consumer.fatal.then((error) => {
        throw error
      }),
    ])
  }

  it('item faults and bad input: indexed + dead-lettered + dropped = produced, per reason', async () => {
    // Every case has its documents and plenty pass untouched.
    expect(good.length).toBeGreaterThan(ITEM_CASES.length * PER_CASE * 2)
    const dropsBefore = Object.fromEntries(
      await Promise.all([...DROP_REASONS].map(async (r) => [r, await eventCounter('dropped', r)] as const)),
    )
    await produce(t, good)
    await produceRaw(
      t,
      BAD.flatMap((b) => b.values),
    )
    await allCommitted('every message of phase 1 committed')

    // Indexed: every good event except those whose item fault ends in the dead-letter topic.
    const dead = good.filter((e) => caseOf.get(documentId(e.tenant, e.id))?.outcome.startsWith('es_'))
    expect(await countDocs(t)).toBe(good.length - dead.length)

    // Dead letters: exactly one per failed message, with the right reason, and nothing else.
    const letters = await readTopicToMarker(t.kafka, t.config.kafka.dlqTopic)
    const byReason: Record<string, number> = {}
    for (const l of letters) byReason[l.reason] = (byReason[l.reason] ?? 0) + 1
    const expected: Record<string, number> = {}
    for (const c of ITEM_CASES)
      if (c.outcome !== 'indexed') expected[c.outcome] = (expected[c.outcome] ?? 0) + PER_CASE
    for (const b of BAD) if (!DROP_REASONS.has(b.reason)) expected[b.reason] = b.values.length
    expect(byReason).toEqual(expected)
    const keys = letters.map((l) => `${l.origin.partition}/${l.origin.offset}`)
    expect(new Set(keys).size).toBe(keys.length)
    // The bulk failures carry the original bytes and Elasticsearch's status.
    for (const l of letters.filter((l) => l.step === 'bulk_index')) {
      const event = JSON.parse(l.payload!) as SporEvent
      const c = caseOf.get(documentId(event.tenant, event.id))!
      expect(l.reason).toBe(c.outcome)
      expect(l.detail).toMatch(/^(503|400|409) /)
    }
    expect(letters.filter((l) => l.reason === 'enrich_failed').every((l) => l.step === 'enrich_event')).toBe(
      true,
    )

    // Dropped: counted by reason, never indexed nor dead-lettered.
    for (const b of BAD.filter((b) => DROP_REASONS.has(b.reason))) {
      expect((await eventCounter('dropped', b.reason)) - dropsBefore[b.reason]!).toBe(b.values.length)
    }

    // Attempts per document as Elasticsearch (the proxy) saw them: retries are bounded and exact.
    for (const e of good) {
      const id = documentId(e.tenant, e.id)
      expect({ id, attempts: proxy.ledger.attempts.get(id) }).toEqual({
        id,
        attempts: caseOf.get(id)?.attempts ?? 1,
      })
    }
    expect(proxy.ledger.attempts.has(documentId(base.tenant, `${base.id}-erased1`))).toBe(false)
    expect(proxy.ledger.attempts.has(documentId(base.tenant, `${base.id}-boom1`))).toBe(false)
  })

  it('whole-request faults (503, connection dropped mid-response, delay) lose and duplicate nothing', async () => {
    const second = [
      ...generateTraffic({ seed: 182, tenants: ['umbrella'], usersPerTenant: 15, days: 2, end }),
    ]
    const docsBefore = await countDocs(t)
    const lettersBefore = (await readTopicToMarker(t.kafka, t.config.kafka.dlqTopic)).length
    const retriesBefore =
      (await ingestMetrics.bulkRetries.get()).values.find((v) => v.labels.cause === 'request')?.value ?? 0
    const first = proxy.ledger.bulkRequests
    proxy.setPlan({
      request: (n) =>
        (
          [
            { kind: 'status', status: 503 },
            { kind: 'status', status: 503 },
            { kind: 'drop_mid_response' },
            { kind: 'delay', ms: 300 },
          ] as const
        )[n - first],
    })
    await produce(t, second)
    await allCommitted('every message of phase 2 committed')

    expect(proxy.ledger.requestFaults).toEqual({ status: 2, drop_mid_response: 1, delay: 1 })
    expect(await countDocs(t)).toBe(docsBefore + second.length)
    expect((await readTopicToMarker(t.kafka, t.config.kafka.dlqTopic)).length).toBe(lettersBefore)
    const retries = (await ingestMetrics.bulkRetries.get()).values.find(
      (v) => v.labels.cause === 'request',
    )!.value
    expect(retries - retriesBefore).toBe(3)
    // The dropped response's writes happened, and its resend overwrote them: each id is there once.
    for (const e of second) {
      const id = documentId(e.tenant, e.id)
      expect(proxy.ledger.attempts.get(id)).toBeGreaterThanOrEqual(1)
    }
    expect(consumer.state).toBe('running')
  })
})
