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

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** `"Android"` → `Android` (structured-header strings). */
function unquote(value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  return trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1) : trimmed
}

/** Parses a Sec-CH-UA brand list: `"Chromium";v="120", "Google Chrome";v="120"`. */
export function parseBrandList(value: string | undefined): { brand: string; version: string }[] | undefined {
  if (!value) return undefined
  const brands: { brand: string; version: string }[] = []
  for (const match of value.matchAll(/"((?:[^"\\]|\\.)*)"\s*;\s*v\s*=\s*"((?:[^"\\]|\\.)*)"/g)) {
    const brand = match[1]!.slice(0, 64)
    const version = match[2]!.slice(0, 64)
    if (brand && version) brands.push({ brand, version })
    if (brands.length === 10) break
  }
  return brands.length > 0 ? brands : undefined
}

/** User-Agent Client Hints from request headers, if the browser sent any. */
export function clientHintsFromHeaders(headers: Headers): ClientHints | undefined {
  const hints: ClientHints = {
    brands: parseBrandList(header(headers, 'sec-ch-ua')),
    fullVersionList: parseBrandList(header(headers, 'sec-ch-ua-full-version-list')),
    platform: unquote(header(headers, 'sec-ch-ua-platform'))?.slice(0, 64) || undefined,
    platformVersion: unquote(header(headers, 'sec-ch-ua-platform-version'))?.slice(0, 64) || undefined,
    model: unquote(header(headers, 'sec-ch-ua-model'))?.slice(0, 128),
    mobile:
      header(headers, 'sec-ch-ua-mobile') === undefined
        ? undefined
        : header(headers, 'sec-ch-ua-mobile')?.trim() === '?1',
  }
  const present = Object.entries(hints).filter(([, v]) => v !== undefined && v !== '')
  return present.length > 0 ? (Object.fromEntries(present) as ClientHints) : undefined
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
