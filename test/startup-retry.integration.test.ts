import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { generateTraffic } from '../generate/traffic.ts'
import { tombstoneIndex } from '../privacy/tombstones.ts'
import { type EsFaultProxy, type OtherRequestInfo, startEsFaultProxy } from './helpers/es-fault-proxy.ts'
import { produce, REPO_ROOT } from './helpers/ingest.ts'
import { runSpor } from './helpers/run-process.ts'
import {
  countDocs,
  createTestEnv,
  endOfLatestWorkingDays,
  freePort,
  type TestEnv,
  waitFor,
} from './helpers/test-env.ts'

/**
 * Start-up against an Elasticsearch that answers 502 now and then (core/startup.ts): each service
 * retries the failed step and comes up serving; a refused key or a rejected template ends the
 * start at once with its coded error and exit 1. Faults come from the fault proxy, counted, so
 * "at once" is one request, not a stopwatch.
 */

interface Started {
  child: ChildProcess
  /** pino lines of the child (stdout), parsed. */
  lines: Record<string, unknown>[]
  exit: Promise<number | null>
}

const children = new Set<ChildProcess>()

function spawnSpor(t: TestEnv, command: string, env: Record<string, string>): Started {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'spor.js'), command], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...t.env, SPOR_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  const lines: Record<string, unknown>[] = []
  let rest = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = rest + chunk.toString('utf8')
    const parts = text.split('\n')
    rest = parts.pop() ?? ''
    for (const line of parts) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        // not a log line
      }
    }
  })
  child.stderr!.resume()
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child)
      resolve(code)
    }),
  )
  return { child, lines, exit }
}

async function httpStatus(url: string): Promise<number> {
  try {
    return (await fetch(url)).status
  } catch {
    return 0 // not listening (yet)
  }
}

/** Waits for `probe` to hold, failing at once (with the last log lines) if the process exits first. */
async function whileRunning<T>(
  started: Started,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
): Promise<void> {
  let exited = false
  const early = started.exit.then((code) => {
    exited = true
    return code
  })
  await waitFor(
    async () => (exited ? undefined : await probe()),
    (value) => exited || done(value as T),
    { what, timeoutMs: 90_000 },
  )
  if (exited)
    throw new Error(
      `process exited ${await early} before ${what}: ${JSON.stringify(started.lines.slice(-5))}`,
    )
}

function retryWarnings(lines: Record<string, unknown>[], step: string): Record<string, unknown>[] {
  return lines.filter((l) => l.msg === 'start-up step failed; retrying' && l.step === step)
}

/** Answers `status` to the first `times` requests matching `match`, passes everything else. */
function failFirst(
  times: number,
  status: number,
  match: (r: OtherRequestInfo) => boolean,
): (n: number, r: OtherRequestInfo) => { status: number } | undefined {
  let failed = 0
  return (_n, request) => {
    if (!match(request) || failed >= times) return undefined
    failed++
    return { status }
  }
}

const FAST = { SPOR_STARTUP_BACKOFF_BASE_MS: '50', SPOR_STARTUP_BACKOFF_MAX_MS: '400' }

describe('start-up against transient Elasticsearch failures', () => {
  let t: TestEnv
  let proxy: EsFaultProxy

  beforeAll(async () => {
    t = await createTestEnv('startup')
    proxy = await startEsFaultProxy(process.env.SPOR_ES_URL ?? 'http://127.0.0.1:9200')
  })
  afterEach(() => {
    for (const child of children) child.kill('SIGKILL')
  })
  afterAll(async () => {
    await proxy?.close()
    await t?.cleanup()
  })

  it('spor ingest retries 502s while creating the tombstone index, then consumes', async () => {
    const tombstones = tombstoneIndex(t.config.es.indexPrefix)
    proxy.setPlan({ other: failFirst(4, 502, (r) => r.path.startsWith(`/${tombstones}`)) })
    const faultsBefore = proxy.ledger.otherFaults.length
    const opsPort = await freePort()
    const ingest = spawnSpor(t, 'ingest', {
      ...FAST,
      SPOR_ES_URL: proxy.url,
      SPOR_INGEST_HTTP_PORT: String(opsPort),
    })
    await whileRunning(
      ingest,
      () => httpStatus(`http://127.0.0.1:${opsPort}/ready`),
      (s) => s === 200,
      'ingest ready',
    )
    const faults = proxy.ledger.otherFaults.slice(faultsBefore)
    expect(faults).toHaveLength(4)
    expect(faults.every((f) => f.status === 502 && f.path.startsWith(`/${tombstones}`))).toBe(true)
    expect(retryWarnings(ingest.lines, 'tombstones').map((l) => l.attempt)).toEqual([1, 2, 3, 4])
    expect(ingest.lines).toContainEqual(
      expect.objectContaining({
        msg: 'start-up step succeeded after retries',
        step: 'tombstones',
        attempts: 5,
      }),
    )

    // And it serves: events go through to Elasticsearch.
    const events = [
      ...generateTraffic({
        seed: 4501,
        tenants: ['acme'],
        usersPerTenant: 5,
        days: 1,
        end: endOfLatestWorkingDays(1),
      }),
    ].slice(0, 50)
    await produce(t, events)
    await whileRunning(
      ingest,
      () => countDocs(t),
      (n) => n === events.length,
      'the events indexed',
    )
  })

  it('spor query retries 502/503 on readiness and the key index, then answers', async () => {
    proxy.setPlan({
      other: failFirst(3, 503, (r) => r.path === '/_cluster/health' || r.path.endsWith('-keys')),
    })
    const faultsBefore = proxy.ledger.otherFaults.length
    const apiPort = await freePort()
    const query = spawnSpor(t, 'query', { ...FAST, SPOR_ES_URL: proxy.url, SPOR_QUERY_PORT: String(apiPort) })
    await whileRunning(
      query,
      () => httpStatus(`http://127.0.0.1:${apiPort}/health`),
      (s) => s === 200,
      'query health',
    )
    expect(proxy.ledger.otherFaults.length - faultsBefore).toBe(3)
    // The child's log lines arrive through a pipe, possibly after its health answer.
    const warnings = await waitFor(
      async () => query.lines.filter((l) => l.msg === 'start-up step failed; retrying'),
      (found) => found.length >= 3,
      { timeoutMs: 10_000, what: 'three start-up retry warnings' },
    ).catch(() => query.lines.filter((l) => l.msg === 'start-up step failed; retrying'))
    expect(warnings).toHaveLength(3)
    // An unauthenticated API call gets spor's 401: the app is up, not just the socket.
    expect(await httpStatus(`http://127.0.0.1:${apiPort}/v1/alerts`)).toBe(401)
  })

  it('spor collector retries 502s on the key index, then accepts requests', async () => {
    proxy.setPlan({ other: failFirst(2, 502, (r) => r.path.startsWith(`/${t.config.es.indexPrefix}-keys`)) })
    const faultsBefore = proxy.ledger.otherFaults.length
    const collectorPort = await freePort()
    const collector = spawnSpor(t, 'collector', {
      ...FAST,
      SPOR_ES_URL: proxy.url,
      SPOR_COLLECTOR_PORT: String(collectorPort),
    })
    await whileRunning(
      collector,
      () => httpStatus(`http://127.0.0.1:${collectorPort}/health`),
      (s) => s === 200,
      'collector health',
    )
    expect(proxy.ledger.otherFaults.length - faultsBefore).toBe(2)
    expect(retryWarnings(collector.lines, 'key index').map((l) => l.attempt)).toEqual([1, 2])
    // The app is up, not just the socket: an event without a key gets spor's 401.
    const unauthenticated = await fetch(`http://127.0.0.1:${collectorPort}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: [] }),
    })
    expect(unauthenticated.status).toBe(401)
  })

  it('spor detect retries 503s on its tombstones and alert mapping, then runs', async () => {
    const prefix = t.config.es.indexPrefix
    proxy.setPlan({
      other: failFirst(
        3,
        503,
        (r) =>
          r.path.startsWith(`/${prefix}-tombstones`) || (r.method === 'PUT' && r.path.endsWith('/_mapping')),
      ),
    })
    const faultsBefore = proxy.ledger.otherFaults.length
    const opsPort = await freePort()
    const detect = spawnSpor(t, 'detect', {
      ...FAST,
      SPOR_ES_URL: proxy.url,
      SPOR_DETECT_HTTP_PORT: String(opsPort),
    })
    await whileRunning(
      detect,
      () => httpStatus(`http://127.0.0.1:${opsPort}/ready`),
      (s) => s === 200,
      'detect ready',
    )
    expect(proxy.ledger.otherFaults.length - faultsBefore).toBe(3)
    const steps = detect.lines.filter((l) => l.msg === 'start-up step failed; retrying').map((l) => l.step)
    expect(steps).toHaveLength(3)
    expect(steps.every((step) => step === 'tombstones' || step === 'alert mapping')).toBe(true)
  })

  it('spor setup retries a 502 on a template and finishes', async () => {
    proxy.setPlan({
      other: failFirst(2, 502, (r) => r.method === 'PUT' && r.path.startsWith('/_index_template/')),
    })
    const faultsBefore = proxy.ledger.otherFaults.length
    const result = await runSpor(['setup'], {
      ...t.env,
      ...FAST,
      SPOR_LOG_LEVEL: 'info',
      SPOR_ES_URL: proxy.url,
    })
    expect(result.code, result.stderr).toBe(0)
    expect(proxy.ledger.otherFaults.length - faultsBefore).toBe(2)
    expect(result.stdout).toContain('index templates:')
    expect(result.stdout.match(/start-up step failed; retrying/g)).toHaveLength(2)
  })

  it('a refused key (401) ends spor ingest at once: one request, SPOR_ERR_ES_AUTH, exit 1', async () => {
    proxy.setPlan({ other: () => ({ status: 401 }) })
    const faultsBefore = proxy.ledger.otherFaults.length
    // A generous budget: only the classification can make this end quickly.
    const result = await runSpor(['ingest'], {
      ...t.env,
      SPOR_ES_URL: proxy.url,
      SPOR_INGEST_HTTP_PORT: '0',
      SPOR_STARTUP_TIMEOUT_MS: '600000',
    })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^spor: SPOR_ERR_ES_AUTH: .*answered 401/m)
    expect(proxy.ledger.otherFaults.length - faultsBefore).toBe(1)
  })

  it('a rejected template (400) ends spor setup at once with SPOR_ERR_ES_REJECTED, exit 1', async () => {
    proxy.setPlan({
      other: (_n, r) =>
        r.method === 'PUT' && r.path.startsWith('/_index_template/') ? { status: 400 } : undefined,
    })
    const faultsBefore = proxy.ledger.otherFaults.length
    const result = await runSpor(['setup'], {
      ...t.env,
      SPOR_ES_URL: proxy.url,
      SPOR_STARTUP_TIMEOUT_MS: '600000',
    })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^spor: SPOR_ERR_ES_REJECTED: .*answered 400/m)
    expect(proxy.ledger.otherFaults.length - faultsBefore).toBe(1)
  })
})
