/**
 * spor's browser client: an ES module with no dependencies, small enough to inline.
 *
 *   import { createSporClient } from './spor.js'
 *   const spor = createSporClient({ endpoint: 'https://collect.example.com', key: 'spor_ik_…', consent: true })
 *   spor.track('page.view', { module: 'crm', function: 'contacts.view', user: 'u42' })
 *
 * - Batches events (by count and by age) and posts them to the collector's `POST /v1/events`.
 * - Retries 429, 5xx and network failures with exponential backoff and full jitter, honouring
 *   `Retry-After`; a batch the collector refuses for what it is (400, 401, 403, 413) is dropped and
 *   reported through `onError`, never retried in a loop.
 * - On page unload (`pagehide`, or the tab becoming hidden) sends what is queued with
 *   `navigator.sendBeacon`, falling back to `fetch(…, { keepalive: true })`. Event ids make the
 *   collector's path idempotent, so an event sent twice (a retry that raced a beacon) is stored once.
 * - Collects User-Agent Client Hints (`navigator.userAgentData.getHighEntropyValues`) once.
 * - Sends only fields of the event contract v1 that a browser may set: never `ip` (the collector
 *   records the connection's), never `tenant` (the key decides), never `position` or `username`.
 *   Events that would break the contract are dropped locally and reported.
 * - Sends nothing without consent: until `consent` is true, `track` keeps nothing; withdrawing it
 *   empties the queue.
 *
 * The ingest key travels as `?key=` because beacons and CORS preflights cannot carry a header;
 * the collector only accepts it from the origins listed on the key.
 */

export interface SporClientOptions {
  /** Collector base URL, e.g. `https://collect.example.com`. */
  endpoint: string
  /** A browser ingest key (`spor keys create --kind ingest --allowed-origin <your origin>`). */
  key: string
  /** Whether the visitor agreed to usage telemetry. Default false: nothing is sent. */
  consent?: boolean
  /** Default user and session for every event (each event may override them). */
  user?: string
  session?: string
  /** Send when this many events are queued (default 20) or the oldest is this old (default 5 s). */
  batchSize?: number
  flushIntervalMs?: number
  /** Queue bound: beyond it the oldest events are dropped and reported (default 1000). */
  maxQueue?: number
  /** Attempts per batch before it is dropped (default 8), and the backoff range. */
  maxAttempts?: number
  retryBaseMs?: number
  retryMaxMs?: number
  /** Collect User-Agent Client Hints (default true). */
  clientHints?: boolean
  /** Called for every event that will not be delivered, with the reason. */
  onError?: (error: SporClientError) => void
}

export interface SporClientError {
  reason: 'invalid_event' | 'queue_full' | 'refused' | 'retries_exhausted'
  message: string
  eventIds: string[]
}

/** The fields a page may set on an event. */
export interface TrackFields {
  user?: string
  session?: string
  module?: string
  function?: string
  object?: { type: string; id: string }
  props?: Record<string, string | number | boolean>
  /** Event time; defaults to now. */
  ts?: Date
}

export interface SporClient {
  /** Queues one event; returns its id, or undefined when it was not queued (no consent, invalid). */
  track(type: string, fields?: TrackFields): string | undefined
  /** Sends everything queued now; resolves when the collector answered (or gave up). */
  flush(): Promise<void>
  setConsent(granted: boolean): void
  /** Removes the page listeners and timers (single-page apps tearing down). */
  close(): void
}

interface Brand {
  brand: string
  version: string
}
interface ClientHints {
  brands?: Brand[]
  fullVersionList?: Brand[]
  platform?: string
  platformVersion?: string
  model?: string
  mobile?: boolean
}
interface WireEvent {
  v: 1
  id: string
  type: string
  ts: string
  user?: string
  session?: string
  module?: string
  function?: string
  object?: { type: string; id: string }
  props?: Record<string, string | number | boolean>
  device?: { ch?: ClientHints; screen?: { w: number; h: number } }
}

// The same patterns as the contract (core/event-schema.ts): a browser learns of a mistake here,
// not as a 400 for the whole batch.
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$/
const TYPE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/
const PROP_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/
// sendBeacon and keepalive fetches share a 64 KiB in-flight budget per page.
const BEACON_BYTES = 60_000

type Hinted = Navigator & {
  userAgentData?: {
    brands?: Brand[]
    mobile?: boolean
    platform?: string
    getHighEntropyValues?(hints: string[]): Promise<ClientHints>
  }
}

function identifier(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length <= max && IDENTIFIER.test(value)
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

function cleanBrands(list: unknown): Brand[] | undefined {
  if (!Array.isArray(list)) return undefined
  const brands = list
    .filter((b) => typeof b?.brand === 'string' && typeof b?.version === 'string' && b.brand && b.version)
    .slice(0, 10)
    .map((b) => ({ brand: String(b.brand).slice(0, 64), version: String(b.version).slice(0, 64) }))
  return brands.length ? brands : undefined
}

async function collectClientHints(): Promise<ClientHints | undefined> {
  const data = (navigator as Hinted).userAgentData
  if (!data) return undefined
  let values: ClientHints = { brands: data.brands, mobile: data.mobile, platform: data.platform }
  try {
    values = {
      ...values,
      ...(await data.getHighEntropyValues?.(['platformVersion', 'model', 'fullVersionList'])),
    }
  } catch {
    // A browser may refuse high-entropy hints; the low-entropy ones still help.
  }
  const hints: ClientHints = {
    brands: cleanBrands(values.brands),
    fullVersionList: cleanBrands(values.fullVersionList),
    platform: values.platform ? String(values.platform).slice(0, 64) : undefined,
    platformVersion:
      typeof values.platformVersion === 'string' ? values.platformVersion.slice(0, 64) : undefined,
    model: typeof values.model === 'string' ? values.model.slice(0, 128) : undefined,
    mobile: typeof values.mobile === 'boolean' ? values.mobile : undefined,
  }
  for (const k of Object.keys(hints) as (keyof ClientHints)[]) if (hints[k] === undefined) delete hints[k]
  return Object.keys(hints).length ? hints : undefined
}

/** Builds the wire event, or the reason it would break the contract. */
function buildEvent(type: string, fields: TrackFields, defaults: SporClientOptions): WireEvent | string {
  if (typeof type !== 'string' || type.length > 64 || !TYPE.test(type)) return `bad type ${String(type)}`
  const event: WireEvent = { v: 1, id: randomId(), type, ts: (fields.ts ?? new Date()).toISOString() }
  const user = fields.user ?? defaults.user
  const session = fields.session ?? defaults.session
  for (const [name, value, max] of [
    ['user', user, 128],
    ['session', session, 128],
    ['module', fields.module, 64],
    ['function', fields.function, 64],
  ] as const) {
    if (value === undefined) continue
    if (!identifier(value, max)) return `bad ${name}`
    event[name] = value
  }
  if (fields.object !== undefined) {
    const { type: objectType, id } = fields.object
    if (!identifier(objectType, 64) || !identifier(id, 128)) return 'bad object'
    event.object = { type: objectType, id }
  }
  if (fields.props !== undefined) {
    const entries = Object.entries(fields.props)
    if (entries.length > 32) return 'more than 32 props'
    for (const [k, v] of entries) {
      const scalar =
        typeof v === 'number' ? Number.isFinite(v) : typeof v === 'boolean' || typeof v === 'string'
      if (k.length > 64 || !PROP_KEY.test(k) || !scalar || (typeof v === 'string' && v.length > 256))
        return `bad prop ${k}`
    }
    event.props = Object.fromEntries(entries)
  }
  return event
}

export function createSporClient(options: SporClientOptions): SporClient {
  const base = options.endpoint.replace(/\/+$/, '')
  const url = `${base}/v1/events?key=${encodeURIComponent(options.key)}`
  const batchSize = options.batchSize ?? 20
  const flushIntervalMs = options.flushIntervalMs ?? 5000
  const maxQueue = options.maxQueue ?? 1000
  const maxAttempts = options.maxAttempts ?? 8
  const retryBaseMs = options.retryBaseMs ?? 1000
  const retryMaxMs = options.retryMaxMs ?? 60_000
  const report = (reason: SporClientError['reason'], message: string, events: { id: string }[]) =>
    options.onError?.({ reason, message, eventIds: events.map((e) => e.id) })

  let consent = options.consent === true
  let queue: WireEvent[] = []
  let inFlight: WireEvent[] = []
  let sending: Promise<void> | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  let hints: ClientHints | undefined
  const hintsReady =
    options.clientHints === false
      ? Promise.resolve()
      : collectClientHints().then((collected) => {
          hints = collected
        })
  const screenSize =
    typeof screen !== 'undefined' && screen.width > 0 ? { w: screen.width, h: screen.height } : undefined

  const withDevice = (event: WireEvent): WireEvent =>
    hints || screenSize
      ? {
          ...event,
          device: { ...(hints ? { ch: hints } : {}), ...(screenSize ? { screen: screenSize } : {}) },
        }
      : event

  const schedule = (delayMs: number) => {
    if (timer === undefined) timer = setTimeout(() => void flush(), delayMs)
  }

  /** One POST; 'retry' with the server's Retry-After (ms) when there is one. */
  async function post(batch: WireEvent[]): Promise<'done' | { retryAfterMs?: number }> {
    let response: Response
    try {
      response = await fetch(url, {
        method: 'POST',
        mode: 'cors',
        credentials: 'omit',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ events: batch }),
      })
    } catch {
      return {} // offline, DNS, CORS refusal: indistinguishable from here, so retried
    }
    if (response.status === 202) {
      const body = (await response.json().catch(() => ({}))) as {
        rejected?: { id?: string; reason: string }[]
      }
      const rejected = body.rejected ?? []
      if (rejected.length)
        report(
          'refused',
          rejected.map((r) => r.reason).join(', '),
          rejected.map((r) => ({ id: r.id ?? '' })),
        )
      return 'done'
    }
    if (response.status === 429 || response.status >= 500) {
      const seconds = Number(response.headers.get('retry-after'))
      return { retryAfterMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined }
    }
    report('refused', `collector answered ${response.status}`, batch)
    return 'done'
  }

  async function sendLoop(): Promise<void> {
    await hintsReady
    while (consent && queue.length > 0) {
      inFlight = queue.splice(0, batchSize).map(withDevice)
      for (let attempt = 1; ; attempt++) {
        const outcome = await post(inFlight)
        if (outcome === 'done' || !consent) break
        if (attempt >= maxAttempts) {
          report('retries_exhausted', `gave up after ${attempt} attempts`, inFlight)
          break
        }
        const ceiling = Math.min(retryMaxMs, retryBaseMs * 2 ** (attempt - 1))
        const delay = Math.max(outcome.retryAfterMs ?? 0, Math.random() * ceiling)
        await new Promise((resolve) => setTimeout(resolve, delay))
        if (inFlight.length === 0) break // handed to a beacon on unload meanwhile
      }
      inFlight = []
    }
  }

  function flush(): Promise<void> {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (!sending) sending = sendLoop().finally(() => (sending = undefined))
    return sending
  }

  /** Page is going away: hand everything unsent to the browser, which delivers after unload. */
  function flushOnUnload(): void {
    if (!consent) return
    const pending = [...inFlight, ...queue].map((e) => (e.device ? e : withDevice(e)))
    inFlight = []
    queue = []
    let chunk: WireEvent[] = []
    let bytes = 12
    const send = () => {
      if (chunk.length === 0) return
      const body = JSON.stringify({ events: chunk })
      // A string body is sent as text/plain, a CORS-safelisted type: no preflight needed.
      const queued = typeof navigator.sendBeacon === 'function' && navigator.sendBeacon(url, body)
      if (!queued)
        void fetch(url, {
          method: 'POST',
          keepalive: true,
          mode: 'cors',
          credentials: 'omit',
          headers: { 'content-type': 'text/plain' },
          body,
        }).catch(() => {})
      chunk = []
      bytes = 12
    }
    for (const event of pending) {
      const size = JSON.stringify(event).length + 1
      if (bytes + size > BEACON_BYTES) send()
      chunk.push(event)
      bytes += size
    }
    send()
  }

  const onHidden = () => {
    if (document.visibilityState === 'hidden') flushOnUnload()
  }
  addEventListener('pagehide', flushOnUnload)
  document.addEventListener('visibilitychange', onHidden)

  return {
    track(type, fields = {}) {
      if (!consent) return undefined
      const event = buildEvent(type, fields, options)
      if (typeof event === 'string') {
        report('invalid_event', event, [])
        return undefined
      }
      queue.push(event)
      if (queue.length > maxQueue)
        report('queue_full', `more than ${maxQueue} events queued`, queue.splice(0, queue.length - maxQueue))
      if (queue.length >= batchSize) void flush()
      else schedule(flushIntervalMs)
      return event.id
    },
    flush,
    setConsent(granted) {
      consent = granted
      if (!granted) {
        queue = []
        inFlight = []
      }
    },
    close() {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      removeEventListener('pagehide', flushOnUnload)
      document.removeEventListener('visibilitychange', onHidden)
    },
  }
}
