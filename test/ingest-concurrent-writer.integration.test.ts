import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BulkBudget } from '../ingest/bulk-budget.ts'
import { BulkWriter, type IndexRequest } from '../ingest/bulk-writer.ts'
import { BatchAbandoned, type WriteControl } from '../ingest/write-control.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * The writer sends one batch as several bulk requests at once. When one of them cannot be
 * delivered while its siblings succeed, the batch must not be reported done (the consumer
 * commits a batch only when `finish()` resolves), however long the failure lasts; the siblings'
 * documents are in Elasticsearch under their deterministic ids, so the re-delivery after a
 * restart overwrites them instead of duplicating.
 */
describe('bulk writer: concurrent requests of one batch', () => {
  let t: TestEnv
  const good = () => `${t.name}-short-2026.01.01`
  const held = () => `${t.name}-short-2026.01.02`

  beforeAll(async () => {
    t = await createTestEnv('cwrite')
    for (const index of [good(), held()]) await t.es.indices.create({ index })
  })
  afterAll(async () => {
    await t?.es.indices
      .putSettings({ index: held(), settings: { 'index.blocks.write': false } })
      .catch(() => {})
    await t?.cleanup()
  })

  function requests(): IndexRequest<number>[] {
    const doc = (i: number) => ({
      '@timestamp': '2026-01-01T00:00:00Z',
      tenant: 'acme',
      module: `m${i}`.padEnd(200, 'x'),
    })
    // 30 documents, the ten in the middle to the held index: with ~1 kB requests that is
    // several requests before, one or more held, and several after.
    return Array.from({ length: 30 }, (_, i) => ({
      index: i >= 10 && i < 20 ? held() : good(),
      id: `doc-${i}`,
      document: doc(i),
      ref: i,
    }))
  }

  function writer(): BulkWriter {
    return new BulkWriter(
      t.es,
      {
        maxBytes: 1200,
        itemMaxAttempts: 3,
        backoff: { baseMs: 20, maxMs: 200 },
        // Room for every request of the batch: held requests keep their slot while they retry.
        budget: new BulkBudget({ maxBytes: 1_000_000, maxRequests: 16 }),
      },
      t.log,
    )
  }

  it('siblings are written, the batch stays unfinished while one request is held, and abandoning it is an error, not a result', async () => {
    await t.es.indices.putSettings({ index: held(), settings: { 'index.blocks.write': true } })
    let keepGoing = true
    const control: WriteControl = { shouldContinue: () => keepGoing, heartbeat: async () => {} }
    let finished = false
    const result = writer()
      .write(requests(), control)
      .finally(() => {
        finished = true
      })
    result.catch(() => {})
    // Evidence that the other requests went through while the held one is retrying.
    await waitFor(
      () => countDocs(t, 'short-2026.01.01'),
      (n) => n === 20,
      { what: 'the 20 documents of the requests that succeed' },
    )
    expect(finished).toBe(false)
    expect(await countDocs(t, 'short-2026.01.02')).toBe(0)

    keepGoing = false // shutdown or rebalance: the batch is abandoned, never reported delivered
    await expect(result).rejects.toBeInstanceOf(BatchAbandoned)
  })

  it('once the held request goes through, the batch is complete: every document once', async () => {
    await t.es.indices.putSettings({ index: held(), settings: { 'index.blocks.write': true } })
    const control: WriteControl = { shouldContinue: () => true, heartbeat: async () => {} }
    const result = writer().write(requests(), control)
    await waitFor(
      () => countDocs(t, 'short-2026.01.01'),
      (n) => n === 20,
      { what: 'the documents of the requests that succeed' },
    )
    await t.es.indices.putSettings({ index: held(), settings: { 'index.blocks.write': false } })
    const outcome = await result
    expect(outcome).toEqual({ indexed: 30, failed: [], dropped: 0 })
    expect(await countDocs(t, 'short-2026.01.0*')).toBe(30)
  })

  it('a partly filled request goes out at once while fewer than two are out, and fills up otherwise', async () => {
    // Requests to the write-blocked index stay out (retried) until it is unblocked, so what the
    // writer has sent is exactly what the budget counts.
    await t.es.indices.putSettings({ index: held(), settings: { 'index.blocks.write': true } })
    const budget = new BulkBudget({ maxBytes: 1_000_000, maxRequests: 16 })
    const bigChunks = new BulkWriter(
      t.es,
      { maxBytes: 1_000_000, itemMaxAttempts: 3, backoff: { baseMs: 20, maxMs: 200 }, budget },
      t.log,
    )
    const control: WriteControl = { shouldContinue: () => true, heartbeat: async () => {} }
    const batch = bigChunks.begin<number>(control)
    const one = (index: string, i: number): IndexRequest<number> => ({
      index,
      id: `early-${i}`,
      document: { '@timestamp': '2026-01-01T00:00:00Z', n: i },
      ref: i,
    })
    await batch.add([one(held(), 0)])
    expect(budget.inFlightRequests).toBe(1) // nothing was out: sent, far from full
    await batch.add([one(held(), 1)])
    expect(budget.inFlightRequests).toBe(2) // one was out: sent too
    await batch.add([one(good(), 2), one(good(), 3)])
    expect(budget.inFlightRequests).toBe(2) // two are out: this one waits to fill
    await t.es.indices.putSettings({ index: held(), settings: { 'index.blocks.write': false } })
    expect(await batch.finish()).toEqual({ indexed: 4, failed: [], dropped: 0 })
    expect(budget.inFlightRequests).toBe(0)
  })

  it("a document Elasticsearch itself rejects comes back with its own status, type and reason, in its request's order", async () => {
    // The writer asks for a small answer (status and error only); the per-item outcome must
    // still name the right document and say why.
    const strict = `${t.name}-short-2026.01.03`
    await t.es.indices.create({
      index: strict,
      mappings: { dynamic: 'strict', properties: { n: { type: 'integer' } } },
    })
    const docs: IndexRequest<string>[] = ['a', 'b', 'c', 'd', 'e'].map((id, i) => ({
      index: strict,
      id,
      document: i === 1 ? { n: 'not a number' } : i === 3 ? { unknown: 1 } : { n: i },
      ref: id,
    }))
    const control: WriteControl = { shouldContinue: () => true, heartbeat: async () => {} }
    const outcome = await writer().write(docs, control)
    expect(outcome.indexed).toBe(3)
    expect(outcome.failed.map((f) => [f.ref, f.reason])).toEqual([
      ['b', 'es_rejected'],
      ['d', 'es_rejected'],
    ])
    expect(outcome.failed[0]!.detail).toMatch(/^400 document_parsing_exception: .*\[n\]/)
    expect(outcome.failed[1]!.detail).toMatch(/^400 strict_dynamic_mapping_exception: .*unknown/)
    await t.es.indices.refresh({ index: strict })
    const ids = (await t.es.search({ index: strict, query: { match_all: {} } })).hits.hits
      .map((h) => h._id)
      .sort()
    expect(ids).toEqual(['a', 'c', 'e'])
  })
})
