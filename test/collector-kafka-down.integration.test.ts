import { performance } from 'node:perf_hooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCollectorKafka } from '../ingest/collector/kafka.ts'
import { type CollectorApp, pageView, startCollectorApp } from './helpers/collector-app.ts'
import { type KafkaCut, kafkaCut } from './helpers/kafka-cut.ts'
import { endOffsets, sum } from './helpers/offsets.ts'
import { waitFor } from './helpers/test-env.ts'

/**
 * The broker becomes unreachable under a running collector (issue 18): every connection of the
 * collector's producer is cut and new ones are refused, while the shared broker itself keeps
 * serving the test's own reads. The collector answers 502 SPOR_ERR_KAFKA with Retry-After and
 * stores nothing; once the broker is reachable again it answers 202 within seconds, and every
 * accepted event is on the topic exactly once.
 */
const event = pageView

describe('collector: Kafka unreachable', () => {
  let link: KafkaCut
  let collector: CollectorApp<'web'>

  beforeAll(async () => {
    link = await kafkaCut()
    collector = await startCollectorApp('colkafka', {
      env: { SPOR_COLLECTOR_RATE_LIMIT: '10000' },
      keys: { web: {} },
      producerOf: (t) =>
        createCollectorKafka(t.config, t.log, {
          clientId: 'collector-under-test',
          socketFactory: link.socketFactory,
        }),
    })
  })
  afterAll(async () => {
    link?.restore()
    await collector?.close()
    await link?.close()
  })

  const post = (id: string) =>
    collector.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${collector.keys.web}` },
      payload: JSON.stringify({ events: [event(id)] }),
      remoteAddress: '203.0.113.9',
    })

  it('answers 502 with Retry-After while the broker is unreachable, and 202 within seconds after', async () => {
    const { t } = collector
    expect((await post('before')).statusCode).toBe(202)
    const before = sum(await endOffsets(t))

    link.cut()
    const started = performance.now()
    const down = await post('while-down-1')
    const downMs = performance.now() - started
    expect(down.statusCode).toBe(502)
    expect(down.headers['retry-after']).toBe('5')
    const { requestId, ...body } = down.json()
    expect(body).toEqual({
      statusCode: 502,
      code: 'SPOR_ERR_KAFKA',
      message: expect.stringMatching(/retry the same batch/),
    })
    expect(requestId).toEqual(expect.any(String))
    // A second request while down fails the same way (the producer does not hang on the first).
    expect((await post('while-down-2')).statusCode).toBe(502)
    expect(link.refused()).toBeGreaterThan(0)
    // Nothing reached the topic (read over the test's own, uncut connection).
    expect(sum(await endOffsets(t))).toBe(before)

    link.restore()
    const back = performance.now()
    const ok = await waitFor(
      () => post('after'),
      (res) => res.statusCode === 202,
      { timeoutMs: 30_000, intervalMs: 200, what: 'the collector to accept again' },
    )
    const recoveryMs = performance.now() - back
    expect(ok.json()).toEqual({ accepted: 1, rejected: [] })
    console.info(
      `kafka down: 502 after ${Math.round(downMs)} ms; 202 again ${Math.round(recoveryMs)} ms after restore`,
    )
    // The one accepted event is on the topic, once; the refused ones are not.
    const ids = await readIds(collector)
    expect(ids.filter((id) => id === 'after')).toEqual(['after'])
    expect(ids.filter((id) => id.startsWith('while-down'))).toEqual([])
  })
})

async function readIds({ t }: CollectorApp<'web'>): Promise<string[]> {
  const ends = await endOffsets(t)
  const consumer = t.kafka.consumer({ groupId: `reader-${t.name}` })
  const ids: string[] = []
  const seen = new Map<number, number>()
  await consumer.connect()
  await consumer.subscribe({ topics: [t.config.kafka.eventsTopic], fromBeginning: true })
  const done = () => [...ends].every(([p, end]) => (seen.get(p) ?? 0) >= end)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`topic not read to its end offsets ${JSON.stringify(ends)}`)),
      30_000,
    )
    if (done()) resolve()
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        ids.push(JSON.parse(message.value!.toString('utf8')).id)
        seen.set(partition, Number(message.offset) + 1)
        if (done()) {
          clearTimeout(timer)
          resolve()
        }
      },
    })
  })
  await consumer.disconnect()
  return ids
}
