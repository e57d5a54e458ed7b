import { isIP } from 'node:net'
import type { Static } from 'typebox'
import type { ClientHintsSchema } from '../../core/event-schema.ts'

type ClientHints = Static<typeof ClientHintsSchema>
type Headers = Record<string, string | string[] | undefined>

/** What the collector knows about a request that the client's events may not carry. */
export interface RequestContext {
  tenant: string
  ip: string
  userAgent?: string
  clientHints?: ClientHints
}

/**
 * Every header value is cut to this many characters before any parsing: a real Sec-CH-UA list is
 * under 200 characters, the full-version list under 400. Parsing below is a single forward scan
 * besides, so the cap bounds the work per header absolutely, not just the memory.
 */
export const MAX_HEADER_CHARS = 1024
const MAX_BRANDS = 10

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name]
  const first = Array.isArray(value) ? value[0] : value
  return first === undefined ? undefined : first.slice(0, MAX_HEADER_CHARS)
}

/** `"Android"` → `Android` (structured-header strings). */
function unquote(value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')
    ? trimmed.slice(1, -1)
    : trimmed
}

/**
 * Reads an RFC 8941 sf-string starting at `start` (which must be a quote). Returns the decoded
 * text and the index after the closing quote, or undefined when the string never closes.
 */
function readString(value: string, start: number): { text: string; end: number } | undefined {
  let text = ''
  for (let i = start + 1; i < value.length; i++) {
    const ch = value[i]!
    if (ch === '\\') {
      i++
      if (i < value.length) text += value[i]
    } else if (ch === '"') return { text, end: i + 1 }
    else text += ch
  }
  return undefined
}

function skipSpaces(value: string, i: number): number {
  while (i < value.length && (value[i] === ' ' || value[i] === '\t')) i++
  return i
}

/**
 * Parses a Sec-CH-UA brand list: `"Chromium";v="120", "Google Chrome";v="120"`. One forward scan
 * over at most MAX_HEADER_CHARS characters: every character is looked at a bounded number of
 * times, whatever the input (the earlier regex re-scanned from every quote: quadratic).
 * Malformed items are skipped up to the next comma outside a string.
 */
export function parseBrandList(value: string | undefined): { brand: string; version: string }[] | undefined {
  if (!value) return undefined
  const input = value.slice(0, MAX_HEADER_CHARS)
  const brands: { brand: string; version: string }[] = []
  let i = 0
  while (i < input.length && brands.length < MAX_BRANDS) {
    i = skipSpaces(input, i)
    const item = readItem(input, i)
    if (item.brand && item.version)
      brands.push({ brand: item.brand.slice(0, 64), version: item.version.slice(0, 64) })
    i = item.next
  }
  return brands.length > 0 ? brands : undefined
}

/** One list item: `"brand"` then parameters `;v="…"`; always returns an index past a comma or the end. */
function readItem(input: string, start: number): { brand?: string; version?: string; next: number } {
  let brand: string | undefined
  let version: string | undefined
  let i = start
  if (input[i] === '"') {
    const s = readString(input, i)
    if (!s) return { next: input.length }
    brand = s.text
    i = s.end
    // parameters: ;name=value, only `v` kept
    for (;;) {
      i = skipSpaces(input, i)
      if (input[i] !== ';') break
      i = skipSpaces(input, i + 1)
      let name = ''
      while (i < input.length && /[a-z0-9_.*-]/.test(input[i]!)) name += input[i++]
      i = skipSpaces(input, i)
      if (input[i] !== '=') break
      i = skipSpaces(input, i + 1)
      if (input[i] === '"') {
        const v = readString(input, i)
        if (!v) return { next: input.length }
        if (name === 'v') version = v.text
        i = v.end
      } else break
    }
  }
  // Skip whatever is left of a malformed item, stepping over strings, to the next comma.
  while (i < input.length && input[i] !== ',') {
    if (input[i] === '"') {
      const s = readString(input, i)
      if (!s) return { next: input.length }
      i = s.end
    } else i++
  }
  return { brand, version, next: i + 1 }
}

/** User-Agent Client Hints from request headers, if the browser sent any. */
export function clientHintsFromHeaders(headers: Headers): ClientHints | undefined {
  const mobile = header(headers, 'sec-ch-ua-mobile')
  const hints: ClientHints = {
    brands: parseBrandList(header(headers, 'sec-ch-ua')),
    fullVersionList: parseBrandList(header(headers, 'sec-ch-ua-full-version-list')),
    platform: unquote(header(headers, 'sec-ch-ua-platform'))?.slice(0, 64) || undefined,
    platformVersion: unquote(header(headers, 'sec-ch-ua-platform-version'))?.slice(0, 64) || undefined,
    model: unquote(header(headers, 'sec-ch-ua-model'))?.slice(0, 128),
    mobile: mobile === undefined ? undefined : mobile.trim() === '?1',
  }
  const present = Object.entries(hints).filter(([, v]) => v !== undefined && v !== '')
  return present.length > 0 ? (Object.fromEntries(present) as ClientHints) : undefined
}

/**
 * The address an event is recorded with. Behind a trusted proxy fastify takes it from
 * X-Forwarded-For, which a proxy may pass on malformed (`unknown`, `garbage`) or as
 * `[v6]:port` / `v4:port`: such a value is normalised when it is still an address, and otherwise
 * replaced by the socket's address, so a bad header never turns a whole batch into 400s.
 */
export function clientAddress(forwarded: string | undefined, socket: string | undefined): string {
  const candidate = normaliseAddress(forwarded)
  if (candidate) return candidate
  return normaliseAddress(socket) ?? '0.0.0.0'
}

export function normaliseAddress(raw: string | undefined): string | undefined {
  if (!raw) return undefined
  let value = raw.trim().slice(0, 64)
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::\d{1,5})?$/.exec(value)
  if (bracketed) value = bracketed[1]!
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/.test(value)) value = value.slice(0, value.lastIndexOf(':'))
  if (value.toLowerCase().startsWith('::ffff:') && isIP(value.slice(7)) === 4) value = value.slice(7)
  return isIP(value) ? value : undefined
}

/**
 * Adds what the server observed to a client's event: the tenant of the key (when the event names
 * none), the connection's IP (always: a client must not choose the IP it is recorded with), and
 * the User-Agent and Client Hints headers when the event carries no device data of its own.
 * Returns a new object; anything not an object is returned as is for validation to reject.
 */
export function withRequestContext(raw: unknown, context: RequestContext): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw
  const event = { ...(raw as Record<string, unknown>) }
  if (event.tenant === undefined) event.tenant = context.tenant
  event.ip = context.ip
  const device = event.device
  if (device === undefined || (typeof device === 'object' && device !== null && !Array.isArray(device))) {
    const merged = { ...((device as Record<string, unknown> | undefined) ?? {}) }
    if (merged.ua === undefined && context.userAgent) merged.ua = context.userAgent.slice(0, 1024)
    if (merged.ch === undefined && context.clientHints) merged.ch = context.clientHints
    if (Object.keys(merged).length > 0) event.device = merged
  }
  return event
}
