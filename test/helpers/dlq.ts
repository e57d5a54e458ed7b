import type { Kafka } from 'kafkajs'
import type { DlqRecord } from '../../ingest/dlq-record.ts'

/**
 * Reads a topic from the beginning in its own group until `expected` records arrived (or the
 * timeout), then `settleMs` longer, so that a record beyond the expected ones (a duplicate) is seen.
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
