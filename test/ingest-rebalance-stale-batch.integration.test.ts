import kafkajs, { type Consumer, type PartitionAssigner } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEsClient } from '../core/es.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { generateTraffic } from '../generate/traffic.ts'
import type { IngestConsumer } from '../ingest/consumer.ts'
import { readTopicToMarker } from './helpers/dlq.ts'
import { type EsFaultProxy, startEsFaultProxy } from './helpers/es-fault-proxy.ts'
import { produce, produceRaw, startIngest } from './helpers/ingest.ts'
import { committedOffsets } from './helpers/offsets.ts'
import { createTestEnv, endOfLatestWorkingDays, type TestEnv, waitFor } from './helpers/test-env.ts'

// CommonJS: Node's ESM loader does not see these among kafkajs's named exports.
const { Kafka, AssignerProtocol } = kafkajs

/**
 * A pipelined batch is still being written when its partition moves to another member, which
 * processes and commits past it; then the partition comes back. The old batch can never commit
 * (it belongs to an earlier generation), and it must not move the returning owner's position
 * back either: the records the group committed in between are not read (nor dead-lettered) again.
 *
 * The other member leads the group with an assigner of the same protocol name as spor's, so the
 * test decides who owns the partition; a third, idle member's joining and leaving triggers the
 * rebalances.
 */
describe('ingest: a batch of an earlier generation, still in flight when its partition comes back', () => {
  let t: TestEnv
  let proxy: EsFaultProxy
  let ingest: IngestConsumer
  const others: Consumer[] = []
  /** Per member, the partitions of its latest join (kafkajs GROUP_JOIN). */
  const assigned = new Map<string, number[]>()
  let owner: 'ingest' | 'other' = 'ingest'
  let openGate!: () => void
  const gate = new Promise<void>((resolve) => {
    openGate = resolve
  })
  let gateOpen = false

  beforeAll(async () => {
    t = await createTestEnv('stalegen', { SPOR_KAFKA_PARTITIONS: '1' })
    proxy = await startEsFaultProxy(t.config.es.url, {
      request: () => (gateOpen ? undefined : { kind: 'delay', until: gate }),
    })
  })
  afterAll(async () => {
    gateOpen = true
    openGate()
    await ingest?.stop()
    for (const c of others) await c.disconnect().catch(() => {})
    await proxy?.close()
    await t?.cleanup()
  })

  const chooser: PartitionAssigner = () => ({
    name: 'RoundRobinAssigner',
    version: 0,
    async assign({ members, topics }) {
      const ids = members.map((m) => m.memberId)
      const target =
        owner === 'other'
          ? ids.find((id) => id.startsWith('other-b'))
          : ids.find((id) => !id.startsWith('other-'))
      if (!target) return []
      return [
        {
          memberId: target,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: 0,
            assignment: Object.fromEntries(topics.map((topic) => [topic, [0]])),
            userData: Buffer.alloc(0),
          }),
        },
      ]
    },
    protocol({ topics }) {
      return {
        name: 'RoundRobinAssigner',
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
      }
    },
  })

  /** A group member that commits what it is given (another instance that processed it). */
  async function member(clientId: string): Promise<Consumer> {
    const kafka = new Kafka({ clientId, brokers: t.config.kafka.brokers, logLevel: 0 })
    const consumer = kafka.consumer({
      groupId: t.config.kafka.ingestGroup,
      partitionAssigners: [chooser],
      heartbeatInterval: 500,
    })
    others.push(consumer)
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) =>
      assigned.set(clientId, payload.memberAssignment[t.config.kafka.eventsTopic] ?? []),
    )
    await consumer.connect()
    await consumer.subscribe({ topics: [t.config.kafka.eventsTopic], fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, commitOffsetsIfNecessary }) => {
        const offset = (BigInt(batch.lastOffset()) + 1n).toString()
        await commitOffsetsIfNecessary({
          topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset }] }],
        })
      },
    })
    return consumer
  }

  it('does not read again what the group committed meanwhile', async () => {
    const events: SporEvent[] = [
      ...generateTraffic({
        seed: 3,
        tenants: ['acme'],
        usersPerTenant: 5,
        days: 1,
        end: endOfLatestWorkingDays(1),
      }),
    ].slice(0, 14)
    expect(events).toHaveLength(14)
    const id = (e: SporEvent) => `${e.tenant}:${e.id}`

    await member('other-b') // the group's leader, owning nothing yet
    const es = createEsClient({ ...t.config, es: { ...t.config.es, url: proxy.url } })
    ingest = await startIngest(t, { es })
    await waitFor(
      async () => ingest.state,
      (s) => s === 'running',
      { what: 'ingest joined' },
    )

    // Batch 1 (offsets 0..9, one of them not JSON; one send, so one fetch) is being written:
    // Elasticsearch holds it.
    await produceRaw(t, [
      ...events.slice(0, 9).map((e) => JSON.stringify(e)),
      'not json, dead-lettered by whoever processes it',
    ])
    await waitFor(
      async () => events.slice(0, 9).every((e) => proxy.ledger.attempts.has(id(e))),
      (all) => all,
      { what: 'batch 1 sent to Elasticsearch' },
    )

    // The partition moves to the other member, which commits past batch 1.
    owner = 'other'
    const idle = await member('other-c')
    await waitFor(
      async () => (await committedOffsets(t)).get(0),
      (offset) => offset === 10,
      { what: 'the other member committed batch 1' },
    )

    // The partition comes back; batch 2 (offsets 10..13) is fetched while batch 1 is still held.
    // The other member must have given the partition up before batch 2 exists: it commits
    // whatever it is handed, and would take batch 2 as well.
    owner = 'ingest'
    assigned.delete('other-b')
    await idle.disconnect()
    await waitFor(
      async () => assigned.get('other-b'),
      (partitions) => partitions?.length === 0,
      { what: 'the other member gave the partition up' },
    )
    await produce(t, events.slice(9, 14))
    await waitFor(
      async () => events.slice(9, 14).every((e) => proxy.ledger.attempts.has(id(e))),
      (all) => all,
      { what: 'batch 2 sent to Elasticsearch' },
    )
    gateOpen = true
    openGate()

    await waitFor(
      async () => (await committedOffsets(t)).get(0),
      (offset) => offset === 15,
      { what: 'batch 2 committed' },
    )
    // Batch 1 was the other member's: ingest neither re-reads nor dead-letters it again.
    expect(await readTopicToMarker(t.kafka, t.config.kafka.dlqTopic)).toEqual([])
    expect(events.slice(0, 9).map((e) => proxy.ledger.attempts.get(id(e)))).toEqual(
      events.slice(0, 9).map(() => 1),
    )
    expect(ingest.state).toBe('running')
    await es.close()
  })
})
