import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Producer } from 'kafkajs'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildClient } from '../client/build.ts'
import { systemClock } from '../core/clock.ts'
import { createProducer } from '../core/kafka.ts'
import { KeyStore } from '../core/keys.ts'
import { buildCollector } from '../ingest/collector/app.ts'
import type { IngestConsumer } from '../ingest/consumer.ts'
import { CHROMIUM_ARGS, ensureChromium } from './helpers/chromium.ts'
import { startIngest } from './helpers/ingest.ts'
import { countDocs, createTestEnv, type TestEnv, waitFor } from './helpers/test-env.ts'

// The client's own types need the DOM library, which the Node side of the project does not load.
interface ClientWindow {
  createSporClient(options: Record<string, unknown>): {
    track(type: string, fields?: Record<string, unknown>): string | undefined
    flush(): Promise<void>
    setConsent(granted: boolean): void
  }
}

interface StoredEvent {
  event_id?: string
  id?: string
  user_agent?: { name?: string }
  spor?: {
    user_agent?: { major?: string; source?: string }
    device?: { screen?: { w: number } }
    module?: string
  }
  source?: { ip?: string }
}

/**
 * A page served from one origin (this test's own HTTP server) loads the built client and sends
 * to the collector on another origin (another port), through Debian's Chromium: a CORS preflight
 * and a JSON POST while the page lives, a beacon when it goes away; the events reach
 * Elasticsearch enriched by the real ingest consumer.
 */
describe('browser client → collector on another origin → Elasticsearch', () => {
  let t: TestEnv
  let collector: FastifyInstance
  let producer: Producer
  let ingest: IngestConsumer
  let pages: Server
  let browser: Browser
  let pageOrigin: string
  let collectorUrl: string
  let key: string

  beforeAll(async () => {
    const executablePath = await ensureChromium()
    t = await createTestEnv('browser')
    const { code } = await buildClient()
    pages = createServer((request, response) => {
      if (request.url === '/spor.js') {
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(code)
      } else if (request.url === '/') {
        response.writeHead(200, { 'content-type': 'text/html' }).end(
          // The page loads the client as a module, as an application would.
          `<!doctype html><title>app</title><script type="module">
            import { createSporClient } from '/spor.js'
            globalThis.createSporClient = createSporClient
          </script>`,
        )
      } else if (request.url === '/next') {
        response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>next</title>')
      } else response.writeHead(404).end()
    })
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve))
    pageOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`

    const keys = new KeyStore(t.es, t.config.es.indexPrefix, 0)
    key = (
      await keys.create({
        kind: 'ingest',
        scope: 'tenant',
        tenant: 'acme',
        name: 'web',
        allowedOrigins: [pageOrigin],
      })
    ).key
    producer = createProducer(t.kafka)
    await producer.connect()
    collector = await buildCollector({ config: t.config, keys, producer, log: t.log, clock: systemClock })
    await collector.listen({ host: '127.0.0.1', port: 0 })
    collectorUrl = `http://127.0.0.1:${(collector.server.address() as AddressInfo).port}`
    ingest = await startIngest(t)
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS })
  })
  afterAll(async () => {
    await browser?.close()
    await ingest?.stop()
    await collector?.close()
    await producer?.disconnect()
    await new Promise((resolve) => pages?.close(resolve))
    await t?.cleanup()
  })

  async function stored(ids: string[]): Promise<StoredEvent[]> {
    await countDocs(t) // refreshes (and waits out a just-created index)
    const result = await t.es.search<StoredEvent>({
      index: `${t.name}-short-*`,
      size: 100,
      query: { ids: { values: ids.map((id) => `acme:${id}`) } },
    })
    return result.hits.hits.map((hit) => hit._source!)
  }

  it('sends batches while the page lives and the rest by beacon on unload; nothing before consent', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    // What reached the collector, seen from its side (a browser hides preflights from scripts).
    const toCollector: { method?: string; contentType?: string }[] = []
    collector.server.on('request', (request) =>
      toCollector.push({ method: request.method, contentType: request.headers['content-type'] }),
    )
    await page.goto(`${pageOrigin}/`)
    await page.waitForFunction('typeof globalThis.createSporClient === "function"')
    const ids = await page.evaluate(
      async ({ endpoint, key }) => {
        const { createSporClient } = globalThis as unknown as ClientWindow
        const errors: unknown[] = []
        const spor = createSporClient({
          endpoint,
          key,
          batchSize: 3,
          flushIntervalMs: 600_000, // only a full batch or the page going away sends
          onError: (e: unknown) => errors.push(e),
        })
        const beforeConsent = spor.track('page.view', { module: 'crm', function: 'home' })
        spor.setConsent(true)
        const live = [1, 2, 3].map((i: number) =>
          spor.track('page.view', { user: `u${i}`, session: 's1', module: 'crm', function: 'contacts.view' }),
        )
        await spor.flush()
        const atUnload = [4, 5].map((i: number) =>
          spor.track('feature.use', { user: `u${i}`, session: 's1', module: 'crm', function: 'export' }),
        )
        const invalid = spor.track('Not A Type', {})
        return { beforeConsent, live, atUnload, invalid, errors }
      },
      { endpoint: collectorUrl, key },
    )
    expect(ids.beforeConsent).toBeUndefined()
    expect(ids.invalid).toBeUndefined()
    expect(ids.errors).toMatchObject([{ reason: 'invalid_event' }])
    expect(ids.live).toHaveLength(3)
    expect(ids.atUnload).toHaveLength(2)

    const live = await waitFor(
      () => stored(ids.live as string[]),
      (docs) => docs.length === 3,
      { what: 'the three live events in Elasticsearch' },
    )
    // Leaving the page: the two queued events go out by beacon.
    await page.goto(`${pageOrigin}/next`)
    const unloaded = await waitFor(
      () => stored(ids.atUnload as string[]),
      (docs) => docs.length === 2,
      { what: 'the two events sent on unload' },
    )
    expect(await countDocs(t)).toBe(5) // nothing before consent, nothing twice

    for (const doc of [...live, ...unloaded]) {
      expect(doc.user_agent?.name).toMatch(/Chrom/)
      expect(doc.spor?.user_agent?.source).toBe('ua+ch') // Client Hints collected by the client were used
      expect(doc.spor?.device?.screen?.w).toBeGreaterThan(0)
      expect(doc.source?.ip).toBe('127.0.0.1')
    }
    // One preflight for the JSON POST, then the POST; the beacon is a simple request (text/plain).
    expect(toCollector).toEqual([
      { method: 'OPTIONS' },
      { method: 'POST', contentType: 'application/json' },
      { method: 'POST', contentType: 'text/plain;charset=UTF-8' },
    ])
    await context.close()
  })

  it('from an origin the key does not list, nothing is accepted', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    // Same page server, reached as "localhost": another origin for the browser.
    await page.goto(pageOrigin.replace('127.0.0.1', 'localhost'))
    await page.waitForFunction('typeof globalThis.createSporClient === "function"')
    const result = await page.evaluate(
      async ({ endpoint, key }) => {
        const { createSporClient } = globalThis as unknown as ClientWindow
        const errors: { reason: string }[] = []
        const spor = createSporClient({
          endpoint,
          key,
          consent: true,
          maxAttempts: 2,
          retryBaseMs: 10,
          onError: (e: { reason: string }) => errors.push(e),
        })
        spor.track('page.view', { user: 'u9', module: 'crm', function: 'home' })
        await spor.flush()
        return errors.map((e) => e.reason)
      },
      { endpoint: collectorUrl, key },
    )
    // The browser blocks the refused preflight: the client cannot tell it from a network error.
    expect(result).toEqual(['retries_exhausted'])
    await context.close()
  })
})
