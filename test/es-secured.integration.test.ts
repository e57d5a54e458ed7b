import { spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../core/config.ts'
import type { SporError } from '../core/errors.ts'
import { createEsClient, waitForEs } from '../core/es.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

const API_KEY_ID = 'VuaCfGcBCdbkQm-e5aOx'
const API_KEY = 'ui2lp2axTNmsyakw9tvNnw'
const ENCODED = Buffer.from(`${API_KEY_ID}:${API_KEY}`).toString('base64')

/**
 * Elasticsearch as a secured cluster presents itself: TLS with a private CA and requests refused
 * without the expected `Authorization: ApiKey …` (or basic credentials). The local node has no
 * security module, so a TLS-terminating proxy in front of it plays that part and forwards
 * authorised requests unchanged.
 */
function startProxy(cert: string, key: string, target: URL): Promise<Server> {
  const allowed = new Set([
    `ApiKey ${ENCODED}`,
    `Basic ${Buffer.from('spor:basic-password').toString('base64')}`,
  ])
  const server = createServer({ cert, key }, (req, res) => {
    if (!allowed.has(req.headers.authorization ?? '')) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'ApiKey' })
      res.end(
        JSON.stringify({
          error: { type: 'security_exception', reason: 'missing authentication credentials' },
          status: 401,
        }),
      )
      return
    }
    const { authorization: _checked, ...headers } = req.headers
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...headers, host: target.host },
      },
      (response) => {
        res.writeHead(response.statusCode ?? 502, response.headers)
        response.pipe(res)
      },
    )
    upstream.on('error', () => {
      res.writeHead(502)
      res.end()
    })
    req.pipe(upstream)
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

describe('secured Elasticsearch: TLS and an API key', () => {
  let dir: string
  let proxy: Server
  let url: string
  let caFile: string
  let fingerprint: string
  let t: TestEnv

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'spor-es-tls-'))
    caFile = join(dir, 'cert.pem')
    const made = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      caFile,
    ])
    expect(made.status, made.stderr?.toString()).toBe(0)
    const cert = readFileSync(caFile, 'utf8')
    fingerprint = new X509Certificate(cert).fingerprint256
    const target = new URL(process.env.SPOR_ES_URL ?? 'http://127.0.0.1:9200')
    proxy = await startProxy(cert, readFileSync(join(dir, 'key.pem'), 'utf8'), target)
    url = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    await t?.cleanup()
    await new Promise((r) => proxy?.close(r))
  })

  it('a whole installation works through TLS with an "id:key" API key and a CA file', async () => {
    t = await createTestEnv('estls', {
      SPOR_ES_URL: url,
      SPOR_ES_API_KEY: `${API_KEY_ID}:${API_KEY}`,
      SPOR_ES_CA_FILE: caFile,
    })
    await t.es.index({ index: `${t.name}-probe`, id: '1', document: { ok: true }, refresh: true })
    const found = await t.es.search({ index: `${t.name}-probe` })
    expect(found.hits.hits).toHaveLength(1)
  })

  it.each([
    [
      'the encoded API key and the CA fingerprint',
      () => ({ SPOR_ES_API_KEY: ENCODED, SPOR_ES_CA_FINGERPRINT: fingerprint }),
    ],
    [
      'basic credentials',
      () => ({ SPOR_ES_USERNAME: 'spor', SPOR_ES_PASSWORD: 'basic-password', SPOR_ES_CA_FILE: caFile }),
    ],
  ])('%s work too', async (_name, settings) => {
    const es = createEsClient(loadConfig({ SPOR_ES_URL: url, ...settings() }))
    await expect(waitForEs(es, 20_000)).resolves.toBeDefined()
    await es.close()
  })

  it.each([
    ['no API key', () => ({ SPOR_ES_CA_FILE: caFile }), /SPOR_ERR_ES_AUTH|answered 401/],
    ['a wrong API key', () => ({ SPOR_ES_CA_FILE: caFile, SPOR_ES_API_KEY: 'id:wrong' }), /answered 401/],
    ['an untrusted certificate', () => ({ SPOR_ES_API_KEY: ENCODED }), /TLS certificate is not trusted/],
    [
      'a fingerprint of another CA',
      () => ({ SPOR_ES_API_KEY: ENCODED, SPOR_ES_CA_FINGERPRINT: 'AB'.repeat(32) }),
      /TLS certificate is not trusted/,
    ],
  ])('%s fails at once with a clear error', async (_name, settings, message) => {
    const es = createEsClient(loadConfig({ SPOR_ES_URL: url, ...settings() }))
    const failure = (await waitForEs(es, 60_000).catch((e) => e)) as SporError
    expect(failure.code).toBe('SPOR_ERR_ES_AUTH')
    expect(failure.message).toMatch(message)
    await es.close()
  })
})
