import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateTraffic } from '../generate/traffic.ts'
import { produce, spawnIngest } from './helpers/ingest.ts'
import { createTestEnv, endOfLatestWorkingDays, type TestEnv } from './helpers/test-env.ts'

/**
 * A misbehaving HTTP proxy in front of the real Elasticsearch: everything passes through except
 * `_bulk`, which it answers with 400 for the whole request (as a broken gateway would). That is
 * not retryable, so the consumer fails its batch, kafkajs restarts it, and after the restart
 * budget the process must exit non-zero with a clear line instead of looping forever.
 */
function breakingProxy(target: URL): Server {
  return createServer((req, res) => {
    if (req.url?.includes('_bulk')) {
      req.resume()
      res.writeHead(400, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' })
      res.end(
        JSON.stringify({
          error: { type: 'illegal_argument_exception', reason: 'broken gateway' },
          status: 400,
        }),
      )
      return
    }
    // A fresh upstream connection per request (no keep-alive races), and a clear 502 on errors.
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
        agent: false,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      },
    )
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    })
    req.pipe(upstream)
  })
}

describe('ingest: bounded restart policy', () => {
  let t: TestEnv
  let proxy: Server
  beforeAll(async () => {
    t = await createTestEnv('restarts')
    proxy = breakingProxy(new URL(t.config.es.url))
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  })
  afterAll(async () => {
    proxy?.close()
    await t?.cleanup()
  })

  it('exits non-zero with a clear log line after repeated fatal errors, without committing', async () => {
    const produced = await produce(
      t,
      generateTraffic({
        seed: 3,
        tenants: ['acme'],
        usersPerTenant: 10,
        days: 3,
        end: endOfLatestWorkingDays(3),
      }),
    )
    expect(produced).toBeGreaterThan(0)
    const port = (proxy.address() as AddressInfo).port
    const child = spawnIngest(t, {
      SPOR_ES_URL: `http://127.0.0.1:${port}`,
      SPOR_MAX_RESTARTS: '2',
      SPOR_LOG_LEVEL: 'info',
    })
    let output = ''
    child.stdout!.on('data', (chunk) => {
      output += chunk
    })
    let errors = ''
    child.stderr!.on('data', (chunk) => {
      errors += chunk
    })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(code).toBe(1)
    expect(errors).toBe('') // exit 1 must come from the restart budget, not from a start-up error
    const lines = output
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: number; msg: string; restartsInWindow?: number })
    expect(lines.filter((l) => l.msg === 'ingest consumer failed; restarting')).toHaveLength(2)
    expect(lines.some((l) => l.msg === 'ingest consumer failed too often; giving up')).toBe(true)
    expect(
      lines.some((l) => l.level === 60 && l.msg === 'ingest consumer stopped after repeated fatal errors'),
    ).toBe(true)

    const admin = t.kafka.admin()
    await admin.connect()
    const [offsets] = await admin.fetchOffsets({
      groupId: t.config.kafka.ingestGroup,
      topics: [t.config.kafka.eventsTopic],
    })
    await admin.disconnect()
    expect(offsets!.partitions.every((p) => p.offset === '-1')).toBe(true)
  })
})
