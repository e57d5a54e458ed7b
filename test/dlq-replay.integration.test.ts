import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../core/config.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { DEFAULT_EVENT_TYPES } from '../core/event-types.ts'
import { createProducer } from '../core/kafka.ts'
import type { IngestConsumer } from '../ingest/consumer.ts'
import { type ReplayReport, replayDeadLetters } from '../ingest/dlq-replay.ts'
import { readTopic } from './helpers/dlq.ts'
import { produce, REPO_ROOT, startIngest } from './helpers/ingest.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor, whenShardsStarted } from './helpers/test-env.ts'

const event = (id: string, type: string): SporEvent => ({
  v: 1,
  id,
  type,
  ts: new Date().toISOString(),
  tenant: 'acme',
  user: `u-${id}`,
  module: 'billing',
  function: 'invoice.create',
})

/**
 * The recovery an operator runs: events were dead-lettered (a type the table did not know yet),
 * the table is fixed and ingest restarted, then `spor dlq replay` sends the range back. Each fixed
 * event ends up indexed exactly once, also when the replay is run again.
 */
describe('spor dlq replay', () => {
  let t: TestEnv
  let fixed: TestEnv
  let ingest: IngestConsumer | undefined
  const started = new Date(Date.now() - 1000)
  const billingIds = ['b1', 'b2', 'b3', 'b4']

  beforeAll(async () => {
    t = await createTestEnv('replay')
    const dir = mkdtempSync(join(tmpdir(), 'spor-types-'))
    writeFileSync(join(dir, 'types.json'), JSON.stringify({ ...DEFAULT_EVENT_TYPES, 'billing.*': 'long' }))
    const env = { ...t.env, SPOR_EVENT_TYPES_FILE: join(dir, 'types.json') }
    fixed = { ...t, env, config: loadConfig(env) }

    // Before the fix: four billing events and one broken message are dead-lettered.
    ingest = await startIngest(t)
    await produce(t, [...billingIds.map((id) => event(id, 'billing.invoice')), event('p1', 'page.view')])
    const producer = createProducer(t.kafka)
    await producer.connect()
    await producer.send({
      topic: t.config.kafka.eventsTopic,
      messages: [{ key: 'acme:x', value: '{"v":1,' }],
    })
    await producer.disconnect()
    await readTopic(t.kafka, t.config.kafka.dlqTopic, 5)
    await waitFor(
      () => countDocs(t),
      (n) => n === 1,
      { what: 'the valid page view' },
    )
    await ingest.stop()
    // The fix is deployed: ingest runs with the new table.
    ingest = await startIngest(fixed)
  })
  afterAll(async () => {
    await ingest?.stop()
    await t?.cleanup()
  })

  const billingVersions = async () => {
    await countDocs(t)
    // The replay may have created the long-class index after the count: "not yet" until its shard starts.
    const result = await whenShardsStarted(() =>
      t.es.search({
        index: `${t.name}-long-*`,
        size: 10,
        version: true,
        query: { ids: { values: billingIds.map((id) => `acme:${id}`) } },
      }),
    )
    return result.hits.hits.map((hit) => hit._version ?? 0).sort()
  }

  it('a dry run counts by reason and produces nothing', async () => {
    const report = await replayDeadLetters(t.kafka, fixed.config, {
      since: started,
      until: new Date(),
      reasons: ['unknown_type'],
      dryRun: true,
    })
    expect(report).toMatchObject({
      read: 5,
      replayed: 0,
      byReason: { unknown_type: 4 },
      skipped: { other_reason: 1 },
    })
  })

  it('an offset range reads exactly that range of one partition', async () => {
    const all = await replayDeadLetters(t.kafka, fixed.config, {
      since: started,
      until: new Date(),
      dryRun: true,
    })
    const busiest = [...all.partitions].sort((a, b) => b.read - a.read)[0]!
    const one = await replayDeadLetters(t.kafka, fixed.config, {
      partitions: [busiest.partition],
      fromOffset: BigInt(busiest.from),
      toOffset: BigInt(busiest.from),
      dryRun: true,
    })
    expect(one.read).toBe(1)
    expect(one.partitions).toEqual([
      { partition: busiest.partition, from: busiest.from, to: busiest.from, read: 1 },
    ])
  })

  it('re-indexes the fixed events once; a second replay overwrites them instead of adding', async () => {
    const first = await replayDeadLetters(t.kafka, fixed.config, {
      since: started,
      until: new Date(),
      reasons: ['unknown_type'],
    })
    expect(first).toMatchObject({ replayed: 4, byReason: { unknown_type: 4 } })
    await waitFor(billingVersions, (v) => v.length === 4, { what: 'the four billing events indexed' })
    expect(await countDocs(t)).toBe(5)

    const second = await replayDeadLetters(t.kafka, fixed.config, {
      since: started,
      until: new Date(),
      reasons: ['unknown_type'],
    })
    expect(second.replayed).toBe(4)
    // Evidence that ingest processed the second replay: each document was written again.
    expect(await waitFor(billingVersions, (v) => v.every((n) => n === 2), { what: 'version 2' })).toEqual([
      2, 2, 2, 2,
    ])
    expect(await countDocs(t)).toBe(5)
    expect(await countDocs(t, 'long-*')).toBe(4)
  })

  it('the CLI prints the same report as JSON', async () => {
    const child = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'bin', 'spor.js'),
        'dlq',
        'replay',
        '--since',
        started.toISOString(),
        '--dry-run',
        '--json',
      ],
      {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...fixed.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.resume()
    const code = await new Promise((resolve) => child.once('close', resolve))
    expect(code).toBe(0)
    const report = JSON.parse(stdout) as ReplayReport
    expect(report).toMatchObject({ dryRun: true, read: 5, byReason: { unknown_type: 4, invalid_json: 1 } })
  })
})
