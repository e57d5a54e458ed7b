import type { Producer } from 'kafkajs'
import type { SporEvent } from '../core/event-schema.ts'
import { partitionKey } from '../ingest/collector/app.ts'

/** Sends events to a topic in batches; reports progress after each batch. */
export async function produceEvents(
  producer: Producer,
  topic: string,
  events: Iterable<SporEvent>,
  options: { batchSize?: number; onProgress?: (sent: number) => void } = {},
): Promise<number> {
  const batchSize = options.batchSize ?? 1000
  let batch: SporEvent[] = []
  let sent = 0
  const flush = async () => {
    if (batch.length === 0) return
    await producer.send({
      topic,
      acks: -1,
      messages: batch.map((event) => ({ key: partitionKey(event), value: JSON.stringify(event) })),
    })
    sent += batch.length
    batch = []
    options.onProgress?.(sent)
  }
  for (const event of events) {
    batch.push(event)
    if (batch.length >= batchSize) await flush()
  }
  await flush()
  return sent
}

/** Posts events to a running collector, like a browser or app would. */
export async function postEvents(
  url: string,
  key: string,
  events: Iterable<SporEvent>,
  options: { batchSize?: number; onProgress?: (sent: number) => void } = {},
): Promise<{ accepted: number; rejected: number }> {
  const batchSize = options.batchSize ?? 200
  let batch: SporEvent[] = []
  const totals = { accepted: 0, rejected: 0 }
  const flush = async () => {
    if (batch.length === 0) return
    const response = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: batch }),
    })
    const body = (await response.json()) as { accepted?: number; rejected?: unknown[]; message?: string }
    if (response.status !== 202) throw new Error(`collector answered ${response.status}: ${body.message}`)
    totals.accepted += body.accepted ?? 0
    totals.rejected += body.rejected?.length ?? 0
    batch = []
    options.onProgress?.(totals.accepted + totals.rejected)
  }
  for (const event of events) {
    batch.push(event)
    if (batch.length >= batchSize) await flush()
  }
  await flush()
  return totals
}
