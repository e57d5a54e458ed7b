import { randomBytes } from 'node:crypto'
import type { Kafka } from 'kafkajs'
import type { DlqRecord } from '../../ingest/dlq-record.ts'

/**
 * Reads a topic from the beginning in its own group until `expected` records arrived (or the
 * timeout), then `settleMs` longer, so that a record beyond the expected ones (a duplicate) is seen.
 * Prefer `readTopicToMarker` where the test can say that the writers are done: it needs no wait.
 */
export async function readTopic<T = DlqRecord>(
  kafka: Kafka,
  topic: string,
  expected: number,
  timeoutMs = 30_000,
  settleMs = 0,
): Promise<T[]> {
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}` })
  const records: T[] = []
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs)
    void consumer.run({
      eachMessage: async ({ message }) => {
        records.push(JSON.parse(message.value!.toString('utf8')) as T)
        if (records.length === expected) {
          clearTimeout(timer)
          setTimeout(resolve, settleMs)
        }
      },
    })
  })
  await consumer.disconnect()
  return records
}

const MARKER_HEADER = 'spor-test-marker'

/**
 * Everything a topic holds (committed records only, as a read_committed consumer sees them),
 * proven complete by evidence rather than by waiting: a marker record is appended to every
 * partition first, and reading stops when each partition's marker has been read. Call it once
 * the writers are known to be done (e.g. the ingest group committed up to the events' end):
 * their transactions are then committed, so their records come before the markers.
 * Consumer crashes fail the read instead of being taken for an empty topic.
 */
export async function readTopicToMarker<T = DlqRecord>(
  kafka: Kafka,
  topic: string,
  timeoutMs = 60_000,
): Promise<T[]> {
  const nonce = randomBytes(6).toString('hex')
  const admin = kafka.admin()
  await admin.connect()
  const partitions = (await admin.fetchTopicOffsets(topic)).map((p) => p.partition)
  await admin.disconnect()
  const producer = kafka.producer()
  await producer.connect()
  await producer.send({
    topic,
    acks: -1,
    messages: partitions.map((partition) => ({
      partition,
      value: '{}',
      headers: { [MARKER_HEADER]: nonce },
    })),
  })
  await producer.disconnect()

  const consumer = kafka.consumer({ groupId: `reader-${topic}-${nonce}` })
  const records: T[] = []
  const pending = new Set(partitions)
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`markers of partitions ${[...pending]} of ${topic} not read in ${timeoutMs} ms`)),
        timeoutMs,
      )
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        clearTimeout(timer)
        reject(payload.error)
      })
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const marker = message.headers?.[MARKER_HEADER]?.toString()
            if (marker !== undefined) {
              if (marker === nonce) pending.delete(partition)
              if (pending.size === 0) {
                clearTimeout(timer)
                resolve()
              }
              return
            }
            if (pending.has(partition)) records.push(JSON.parse(message.value!.toString('utf8')) as T)
          },
        })
        .catch(reject)
    })
  } finally {
    await consumer.disconnect()
  }
  return records
}
