import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchExpansion, sizeFetchesByDecodedBytes, wireSizes } from '../core/fetch-sizing.ts'
import { createGroupConsumer, createProducer, createTopicsReady } from '../core/kafka.ts'
import { generateTraffic } from '../generate/traffic.ts'
import { createTestEnv, endOfYesterday, type TestEnv, waitFor } from './helpers/test-env.ts'

/**
 * Fetch sizes are budgets in decoded bytes (core/fetch-sizing.ts), against a real broker that
 * stores the topic's batches zstd-compressed: a consumer sized that way gets batches of about
 * its budget, where one sized in wire bytes alone gets the whole partition in its first fetch.
 */
const BUDGET = { maxBytes: 512 * 1024, maxBytesPerPartition: 256 * 1024, minBytes: 32 * 1024 }
const events = [
  ...generateTraffic({ seed: 4242, tenants: ['acme'], usersPerTenant: 250, days: 7, end: endOfYesterday() }),
]
/** Events per producer send: the broker recompresses each send into one batch of the topic. */
const PER_SEND = 50

let t: TestEnv
let topic: string
let decodedTotal = 0

beforeAll(async () => {
  t = await createTestEnv('fetchsize')
  topic = `${t.name}-zstd-events`
  const admin = t.kafka.admin()
  await admin.connect()
  try {
    await createTopicsReady(admin, [
      { topic, numPartitions: 1, configEntries: [{ name: 'compression.type', value: 'zstd' }] },
    ])
  } finally {
    await admin.disconnect()
  }
  const producer = createProducer(t.kafka)
  await producer.connect()
  for (let i = 0; i < events.length; i += PER_SEND) {
    const messages = events.slice(i, i + PER_SEND).map((e) => ({ value: JSON.stringify(e) }))
    for (const m of messages) decodedTotal += Buffer.byteLength(m.value)
    await producer.send({ topic, acks: -1, messages })
  }
  await producer.disconnect()
}, 120_000)

afterAll(async () => {
  await t?.cleanup()
})

/** Reads the whole topic with a fresh group; the decoded bytes of each batch, in order. */
async function batchBytes(groupId: string): Promise<number[]> {
  const consumer = createGroupConsumer(t.kafka, t.config, t.log, {
    groupId,
    consumer: 'fetch-sizing-test',
    fetch: { ...wireSizes(BUDGET, 1), maxWaitTimeInMs: 200 },
  })
  const sizes: number[] = []
  let read = 0
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachBatch: async ({ batch }) => {
        let bytes = 0
        for (const m of batch.messages) bytes += m.value?.length ?? 0
        if (batch.messages.length > 0) sizes.push(bytes)
        read += batch.messages.length
      },
    })
    await waitFor(
      async () => read,
      (n) => n >= events.length,
      { timeoutMs: 60_000, what: `all ${events.length} events read` },
    )
  } finally {
    await consumer.disconnect()
  }
  return sizes
}

describe('fetch sizes in decoded bytes, zstd batches from a real broker', () => {
  it('the data is many times the budget and compresses well (else the test proves nothing)', () => {
    expect(events.length).toBeGreaterThan(4_000)
    expect(decodedTotal).toBeGreaterThan(8 * BUDGET.maxBytesPerPartition)
  })

  it('sized in wire bytes alone, the first fetch decodes far beyond the budget', async () => {
    const sizes = await batchBytes(`${t.name}-unsized`)
    expect(Math.max(...sizes)).toBeGreaterThan(4 * BUDGET.maxBytesPerPartition)
  })

  it('sized in decoded bytes, every batch stays near the budget and the expansion is learnt', async () => {
    const groupId = `${t.name}-sized`
    sizeFetchesByDecodedBytes(groupId, BUDGET)
    const sizes = await batchBytes(groupId)
    const oneSend = (decodedTotal / events.length) * PER_SEND
    // Kafka returns whole record batches: a fetch may end one broker batch past its size.
    for (const bytes of sizes) expect(bytes).toBeLessThanOrEqual(2 * BUDGET.maxBytesPerPartition + oneSend)
    expect(sizes.length).toBeGreaterThan(decodedTotal / (2 * BUDGET.maxBytesPerPartition + oneSend))
    // JSON events in zstd batches: several times their compressed size.
    expect(fetchExpansion()).toBeGreaterThan(3)
  })
})
