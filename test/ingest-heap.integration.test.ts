import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { generateTraffic } from '../generate/traffic.ts'
import { produce, REPO_ROOT, spawnIngest } from './helpers/ingest.ts'
import { committedOffsets, endOffsets, sum } from './helpers/offsets.ts'
import {
  countDocs,
  createTestEnv,
  endOfYesterday,
  freePort,
  type TestEnv,
  waitFor,
} from './helpers/test-env.ts'

/**
 * `spor ingest`'s heap cap (SPOR_INGEST_HEAP_MB; bin/spor.js runs the pipeline in a worker thread
 * with that limit): the limit in effect is the configured one, the pipeline indexes and commits
 * everything under it, and SIGTERM, which reaches the main thread, still drains and exits 0.
 */
const MB = 1024 * 1024
const events = [
  ...generateTraffic({ seed: 1616, tenants: ['acme'], usersPerTenant: 30, days: 1, end: endOfYesterday() }),
]

describe('ingest process: heap cap', () => {
  let t: TestEnv | undefined
  let child: ChildProcess | undefined
  afterEach(async () => {
    child?.kill('SIGKILL')
    await t?.cleanup()
  })

  async function metric(port: number, name: string): Promise<number | undefined> {
    try {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
      const line = text.split('\n').find((l) => l.startsWith(`${name} `))
      return line === undefined ? undefined : Number(line.slice(name.length + 1))
    } catch {
      return undefined // not listening yet
    }
  }

  /** Starts `spor ingest`, indexes the events, returns the heap limit it reported, then SIGTERM. */
  async function ingestUnder(
    env: Record<string, string>,
  ): Promise<{ limitMb: number; exitCode: number | null }> {
    t = await createTestEnv('heap')
    await produce(t, events)
    const port = await freePort()
    child = spawnIngest(t, { ...env, SPOR_INGEST_HTTP_PORT: String(port) })
    const exit = new Promise<number | null>((resolve) => child!.once('exit', resolve))
    const limit = await waitFor(
      () => metric(port, 'spor_ingest_heap_limit_bytes'),
      (v) => v !== undefined,
      { intervalMs: 100, what: 'the heap limit on /metrics' },
    )
    const ends = sum(await endOffsets(t))
    expect(ends).toBe(events.length)
    await waitFor(
      async () => sum(await committedOffsets(t!)),
      (committed) => committed === ends,
      { timeoutMs: 90_000, what: 'every event committed' },
    )
    expect(await countDocs(t)).toBe(events.length)
    child.kill('SIGTERM')
    return { limitMb: limit! / MB, exitCode: await exit }
  }

  it('caps the heap at SPOR_INGEST_HEAP_MB by default (224 MB old generation) and drains on SIGTERM', async () => {
    const { limitMb, exitCode } = await ingestUnder({})
    // V8's limit is the old generation plus the young one (12 MB, three 4 MB semi-spaces).
    expect(limitMb).toBeGreaterThanOrEqual(224)
    expect(limitMb).toBeLessThanOrEqual(224 + 16)
    expect(exitCode).toBe(0)
  })

  it('follows a configured cap', async () => {
    const { limitMb, exitCode } = await ingestUnder({ SPOR_INGEST_HEAP_MB: '160' })
    expect(limitMb).toBeGreaterThanOrEqual(160)
    expect(limitMb).toBeLessThanOrEqual(160 + 16)
    expect(exitCode).toBe(0)
  })

  it('runs with Node’s own limits when SPOR_INGEST_HEAP_MB=0', async () => {
    const { limitMb, exitCode } = await ingestUnder({ SPOR_INGEST_HEAP_MB: '0' })
    expect(limitMb).toBeGreaterThan(224 + 16)
    expect(exitCode).toBe(0)
  })

  it('ends by the signal itself when SIGTERM comes before the CLI handles it (still starting)', async () => {
    // Elasticsearch unreachable: start-up retries it, before any signal handler is installed.
    child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'spor.js'), 'ingest'], {
      env: {
        PATH: process.env.PATH,
        SPOR_ES_URL: 'http://127.0.0.1:1',
        SPOR_PSEUDONYM_KEY: 'k'.repeat(32),
        SPOR_INGEST_HTTP_PORT: String(await freePort()),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exit = new Promise<NodeJS.Signals | null>((resolve) =>
      child!.once('exit', (_code, signal) => resolve(signal)),
    )
    let output = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8')
    })
    await waitFor(
      async () => output,
      (text) => text.includes('elasticsearch ready'),
      { intervalMs: 50, what: 'a start-up retry of Elasticsearch' },
    )
    child.kill('SIGTERM')
    expect(await exit).toBe('SIGTERM')
  })
})
