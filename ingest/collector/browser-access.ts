import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { SporError } from '../../core/errors.ts'
import type { VerifiedKey } from '../../core/keys.ts'

/**
 * What a browser needs from the collector, kept apart from the route itself:
 *
 * - **The key outside the header.** `navigator.sendBeacon` cannot set `Authorization`, and a CORS
 *   preflight never carries it, so a browser passes its ingest key as `?key=` in the URL. The key
 *   is verified exactly like a header key (same hash check, same record, same rate-limit bucket).
 *   A browser's ingest key is visible to anyone who opens the page anyway; what protects it is
 *   the origin list below and the per-key rate limit.
 * - **CORS per key.** An ingest key lists the origins whose pages may use it
 *   (`allowed_origins`, `spor keys create --allowed-origin`). A request or preflight carrying an
 *   `Origin` that the key does not list gets 403 and no CORS headers; requests without `Origin`
 *   (servers, mobile apps) are not affected. Preflights are cached by the browser for
 *   {@link PREFLIGHT_MAX_AGE_SECONDS}.
 * - **Beacon bodies.** `sendBeacon` with a JSON `Blob` type is refused by Chromium (not a
 *   CORS-safelisted type), so beacons send `text/plain` whose content is the same JSON batch.
 */

/** Chromium caps Access-Control-Max-Age at 2 hours; asking for more buys nothing. */
export const PREFLIGHT_MAX_AGE_SECONDS = 7200

const ALLOWED_REQUEST_HEADERS = 'content-type, content-encoding'

/** The ingest key a request presents: `Authorization: Bearer`, `X-Spor-Key`, or `?key=`. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header?.startsWith('Bearer ')) return header.slice(7).trim()
  const custom = request.headers['x-spor-key']
  if (typeof custom === 'string') return custom
  const query = request.query as Record<string, unknown> | undefined
  const key = query?.key
  return typeof key === 'string' ? key : undefined
}

/**
 * Checks the request's `Origin` against the key and, when allowed, adds the CORS response headers
 * (they stay on error answers too, so a page can read a 429 and its Retry-After).
 */
export function enforceOrigin(request: FastifyRequest, reply: FastifyReply, key: VerifiedKey): void {
  const origin = request.headers.origin
  if (origin === undefined) return
  // Answers differ by Origin: caches between browser and collector must not mix them.
  reply.header('vary', 'Origin')
  if (!key.allowed_origins?.includes(origin)) {
    throw new SporError(
      'SPOR_ERR_FORBIDDEN',
      `origin ${JSON.stringify(origin.slice(0, 200))} is not allowed for this ingest key (spor keys create --allowed-origin)`,
    )
  }
  reply.header('access-control-allow-origin', origin)
  reply.header('access-control-expose-headers', 'retry-after')
}

/**
 * Lets the text/plain beacon body through as JSON, and answers preflights for `path`. Register
 * inside the plugin whose onRequest hook has already verified the key and called
 * {@link enforceOrigin}.
 */
export function registerBrowserAccess(api: FastifyInstance, path: string): void {
  api.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string))
    } catch {
      done(
        new SporError('SPOR_ERR_BAD_REQUEST', 'a text/plain body must be the JSON batch {"events": [...]}'),
      )
    }
  })
  api.options(path, { schema: { hide: true } }, async (request, reply) => {
    if (request.headers.origin === undefined)
      throw new SporError('SPOR_ERR_BAD_REQUEST', 'a CORS preflight needs an Origin header')
    const method = request.headers['access-control-request-method']
    if (method !== undefined && method !== 'POST')
      throw new SporError('SPOR_ERR_FORBIDDEN', `only POST is allowed on ${path}`)
    return reply
      .code(204)
      .header('access-control-allow-methods', 'POST')
      .header('access-control-allow-headers', ALLOWED_REQUEST_HEADERS)
      .header('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS))
      .send()
  })
}
