import { once } from 'node:events'
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gunzipSync } from 'node:zlib'

/**
 * An HTTP proxy in front of the local Elasticsearch node that injects faults into `_bulk`, so
 * every retry, dead-letter and hold branch of the bulk writer can be produced end to end against
 * the real cluster. Everything that is not a `_bulk` request passes through untouched.
 *
 * Per-item faults are real, not cosmetic: a faulted item is removed from the body the proxy
 * forwards (Elasticsearch never sees it) and its slot in the response carries the injected status;
 * the other items are indexed by Elasticsearch and keep their true result, in the original order.
 * Requests other than `_bulk` can be answered with a status instead (start-up faults: `other`).
 * Whole-request faults: a 503 answer without forwarding, a delay (or a gate the test opens), and a
 * connection dropped mid-response after Elasticsearch has performed the writes (the client sees a
 * failure for a bulk that did happen: the resend must not duplicate anything).
 */

export interface ItemFault {
  status: number
  type?: string
  reason?: string
}

export type RequestFault =
  /** Answers `status` without forwarding, after `afterMs` (default at once). */
  | { kind: 'status'; status: number; afterMs?: number }
  /** Forwards to Elasticsearch, then cuts the connection after part of the response is written. */
  | { kind: 'drop_mid_response' }
  /** Waits before forwarding: `ms`, or until `until` settles (a gate the test controls). */
  | { kind: 'delay'; ms?: number; until?: Promise<unknown> }

export interface BulkItemInfo {
  index: string
  id: string
  document: Record<string, unknown>
  /** How many earlier bulk requests got an answer for this document id (0 on its first attempt). */
  seen: number
}

/** A request that is not `_bulk` (start-up: health, index creation, templates, searches). */
export interface OtherRequestInfo {
  method: string
  /** Path without the query string, e.g. `/t1-tombstones`. */
  path: string
}

export interface FaultPlan {
  /**
   * Status answer (without forwarding) for the `n`th request that is not `_bulk` (0-based over
   * the proxy's life); undefined passes it through to Elasticsearch.
   */
  other?: (n: number, request: OtherRequestInfo) => { status: number; type?: string } | undefined
  /** Whole-request fault for the `n`th bulk request (0-based, counted over the proxy's life). */
  request?: (n: number, items: BulkItemInfo[]) => RequestFault | undefined
  /** Per-item fault; undefined lets the item through to Elasticsearch. */
  item?: (item: BulkItemInfo) => ItemFault | undefined
}

/** What the proxy did, for exact assertions (per document id and per injected status). */
export interface FaultLedger {
  bulkRequests: number
  /** Bulk requests answered (whatever the answer, the connection dropped included). */
  bulkAnswered: number
  /** Bulk requests that reached Elasticsearch. */
  forwarded: number
  requestFaults: Record<string, number>
  /** Injected item faults by status. */
  itemFaults: Record<number, number>
  /** Attempts per document id (every bulk request that carried it). */
  attempts: Map<string, number>
  /** Requests other than `_bulk`, and those the plan answered with a status (in order). */
  otherRequests: number
  otherFaults: (OtherRequestInfo & { status: number })[]
}

export interface EsFaultProxy {
  url: string
  ledger: FaultLedger
  setPlan: (plan: FaultPlan) => void
  close: () => Promise<void>
}

interface BulkItemResult {
  _index: string
  _id: string
  status: number
  error?: { type: string; reason: string }
  [key: string]: unknown
}

const BULK_PATH = /(^|\/)_bulk$/
/** The client refuses answers without it (its product check). */
const ES_HEADERS = { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' }

export async function startEsFaultProxy(target: string, plan: FaultPlan = {}): Promise<EsFaultProxy> {
  const upstream = new URL(target)
  let current = plan
  const ledger: FaultLedger = {
    bulkRequests: 0,
    bulkAnswered: 0,
    forwarded: 0,
    requestFaults: {},
    itemFaults: {},
    attempts: new Map(),
    otherRequests: 0,
    otherFaults: [],
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { type: 'fault_proxy_error', reason: error.message } }))
      } else {
        res.destroy(error)
      }
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req)
    const path = new URL(req.url ?? '/', 'http://proxy').pathname
    if (!((req.method === 'POST' || req.method === 'PUT') && BULK_PATH.test(path))) {
      const info = { method: req.method ?? 'GET', path }
      const fault = current.other?.(ledger.otherRequests++, info)
      if (!fault) return passThrough(req, res, body)
      ledger.otherFaults.push({ ...info, status: fault.status })
      res.writeHead(fault.status, ES_HEADERS)
      res.end(
        JSON.stringify({
          error: { type: fault.type ?? 'fault_injected', reason: `injected ${fault.status}` },
          status: fault.status,
        }),
      )
      return
    }

    const n = ledger.bulkRequests++
    try {
      await handleBulk(req, res, body, n)
    } finally {
      ledger.bulkAnswered++
    }
  }

  async function handleBulk(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    n: number,
  ): Promise<void> {
    const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8')
    const items = parseBulk(text, ledger.attempts)
    const requestFault = current.request?.(n, items)
    // A request refused as a whole never reached the items: it is not an attempt of theirs.
    if (requestFault?.kind !== 'status') for (const item of items) ledger.attempts.set(item.id, item.seen + 1)
    if (requestFault)
      ledger.requestFaults[requestFault.kind] = (ledger.requestFaults[requestFault.kind] ?? 0) + 1
    if (requestFault?.kind === 'status') {
      if (requestFault.afterMs) await new Promise((r) => setTimeout(r, requestFault.afterMs))
      res.writeHead(requestFault.status, ES_HEADERS)
      res.end(
        JSON.stringify({
          error: { type: 'fault_injected', reason: `injected ${requestFault.status}` },
          status: requestFault.status,
        }),
      )
      return
    }
    if (requestFault?.kind === 'delay') {
      if (requestFault.until) await requestFault.until
      if (requestFault.ms) await new Promise((r) => setTimeout(r, requestFault.ms))
    }

    const faults = items.map((item) => current.item?.(item))
    const forwardedLines: string[] = []
    items.forEach((item, i) => {
      if (faults[i]) return
      forwardedLines.push(
        JSON.stringify({ index: { _index: item.index, _id: item.id } }),
        JSON.stringify(item.document),
      )
    })
    let upstreamItems: BulkItemResult[] = []
    let took = 0
    if (forwardedLines.length > 0) {
      ledger.forwarded++
      const answer = await forward(req, `${forwardedLines.join('\n')}\n`)
      if (answer.status !== 200) {
        // Elasticsearch itself refused the whole request: pass its answer on unchanged.
        res.writeHead(answer.status, ES_HEADERS)
        res.end(answer.body)
        return
      }
      const parsed = JSON.parse(answer.body.toString('utf8')) as {
        took: number
        items: Record<string, BulkItemResult>[]
      }
      took = parsed.took
      upstreamItems = parsed.items.map((entry) => Object.values(entry)[0]!)
    }
    let next = 0
    const results = items.map((item, i) => {
      const fault = faults[i]
      if (!fault) return { index: upstreamItems[next++]! }
      ledger.itemFaults[fault.status] = (ledger.itemFaults[fault.status] ?? 0) + 1
      return {
        index: {
          _index: item.index,
          _id: item.id,
          status: fault.status,
          error: { type: fault.type ?? 'fault_injected', reason: fault.reason ?? `injected ${fault.status}` },
        },
      }
    })
    const payload = Buffer.from(
      JSON.stringify({ took, errors: results.some((r) => r.index.status >= 300), items: results }),
    )
    if (requestFault?.kind === 'drop_mid_response') {
      // Headers and half the body, then the socket goes: the writes above did happen.
      res.writeHead(200, { ...ES_HEADERS, 'content-length': String(payload.length) })
      res.write(payload.subarray(0, Math.floor(payload.length / 2)))
      await new Promise((r) => setImmediate(r))
      res.socket?.destroy()
      return
    }
    res.writeHead(200, ES_HEADERS)
    res.end(payload)
  }

  function passThrough(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const out = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
          // A fresh connection each time: a pooled keep-alive socket the node has closed would
          // surface as a proxy error ("socket hang up") that is not a fault anyone asked for.
          agent: false,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
          answer.once('end', () => resolve())
          answer.once('error', reject)
        },
      )
      out.once('error', reject)
      out.end(body)
    })
  }

  function forward(req: IncomingMessage, body: string): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: upstream.host }
      delete headers['content-encoding']
      delete headers['content-length']
      headers['accept-encoding'] = 'identity'
      const out = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: 'POST',
          path: req.url,
          headers,
          agent: false,
        },
        async (answer) => {
          try {
            resolve({ status: answer.statusCode ?? 502, body: await readBody(answer) })
          } catch (error) {
            reject(error)
          }
        },
      )
      out.once('error', reject)
      out.end(body)
    })
  }

  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    ledger,
    setPlan: (next) => {
      current = next
    },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** spor's bulk bodies are `index` action lines, each followed by its document. */
function parseBulk(text: string, attempts: ReadonlyMap<string, number>): BulkItemInfo[] {
  const lines = text.split('\n').filter((line) => line.length > 0)
  const items: BulkItemInfo[] = []
  for (let i = 0; i < lines.length; i += 2) {
    const action = JSON.parse(lines[i]!) as { index?: { _index: string; _id: string } }
    if (!action.index) throw new Error(`fault proxy supports only index actions, got ${lines[i]}`)
    const id = action.index._id
    const seen = attempts.get(id) ?? 0
    items.push({
      index: action.index._index,
      id,
      document: JSON.parse(lines[i + 1]!) as Record<string, unknown>,
      seen,
    })
  }
  return items
}

async function readBody(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
