/**
 * Credentials in URLs never reach a terminal or a log: user-info (`https://user:pass@host`) and
 * query parameters whose name says they are a secret (`?token=…`, `sig`, `key`, …) are replaced.
 * One helper for every place that prints a URL (`spor config`, start-up logs, errors).
 */
const SECRET_PARAM =
  /^(token|access_token|auth|key|api_key|apikey|secret|sig|signature|password|pass|pwd|code)$/i
const MAX_URL_CHARS = 4096

export function redactUrl(raw: string): string {
  const text = raw.slice(0, MAX_URL_CHARS)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    // Not parseable: still hide anything between a scheme and an @ (user-info), linear scan.
    const scheme = text.indexOf('://')
    const at = text.lastIndexOf('@')
    return scheme >= 0 && at > scheme ? `${text.slice(0, scheme + 3)}REDACTED${text.slice(at)}` : text
  }
  let changed = false
  if (url.username || url.password) {
    url.username = 'REDACTED'
    url.password = ''
    changed = true
  }
  for (const name of [...url.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) {
      url.searchParams.set(name, 'REDACTED')
      changed = true
    }
  }
  // Webhook tokens often travel as a path segment (e.g. /hooks/<token>): long opaque segments go too.
  const segments = url.pathname.split('/')
  const path = segments.map((segment) => (/^[A-Za-z0-9_-]{24,}$/.test(segment) ? 'REDACTED' : segment))
  if (path.some((segment, i) => segment !== segments[i])) {
    url.pathname = path.join('/')
    changed = true
  }
  // Unchanged URLs print exactly as configured.
  return changed ? url.toString() : text
}

/** Every string value in a (config) object that looks like a URL, redacted; other values as they are. */
export function redactUrls<T>(value: T): T {
  if (typeof value === 'string')
    return (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? redactUrl(value) : value) as T
  if (Array.isArray(value)) return value.map((v) => redactUrls(v)) as T
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactUrls(v)])) as T
  }
  return value
}
