import { LRUCache } from 'lru-cache'
import UAParser from 'ua-parser-js'
import type { DeviceType, UaInfo } from './types.ts'

/**
 * ua-parser-js 1.x has no bot detection: Googlebot, bingbot, curl and python-requests all parse
 * to empty results, and HeadlessChrome parses as an ordinary "Chrome Headless" browser. This short
 * list covers the common cases; it is not a crawler registry. Patterns are anchored on a product
 * token ("Name/1.2") where possible so that phone names such as "CUBOT_X19" are not flagged.
 * okhttp and CFNetwork are left out on purpose: native apps use them for real users.
 */
const BOT_PATTERNS: readonly RegExp[] = [
  // Crawlers that name themselves: Googlebot/2.1, bingbot/2.0, AhrefsBot/7.0, GPTBot/1.0, Baiduspider/2.0
  /[a-z](?:bot|crawler|spider)\/\d/i,
  // Self-declared agents link an info page: "(compatible; Foo; +http://example.com/foo.html)"
  /\(compatible;[^)]*\+https?:\/\//i,
  // Crawlers without a version token, link unfurlers, monitoring
  /slackbot|facebookexternalhit|yahoo! slurp|chrome-lighthouse|pingdom|uptimerobot|statuscake/i,
  // HTTP libraries and command-line tools, which put their name first
  /^(?:curl|wget|python-requests|python-urllib|python-httpx|aiohttp|go-http-client|java|apache-httpclient|node-fetch|axios|undici|libwww-perl|httpie|postmanruntime)\//i,
  // Headless and scripted browsers
  /headlesschrome|phantomjs|slimerjs/i,
]

export function isBotUserAgent(ua: string): boolean {
  return BOT_PATTERNS.some((pattern) => pattern.test(ua))
}

/**
 * ua-parser-js reports no device type for desktops, so a missing type on these OSes means desktop.
 * Names are ua-parser-js 1.x's own ("Mac OS", "Chromium OS", distribution names such as "Ubuntu");
 * spor keeps that vocabulary everywhere (client-hints.ts maps platform names onto it).
 */
const DESKTOP_OS =
  /^(?:windows|mac os|linux|chromium os|[kxl]?ubuntu|debian|fedora|(?:open)?suse|mint|arch|gentoo|centos|red ?hat|manjaro|slackware|\w*bsd|solaris|unix)$/i

export function isDesktopOs(osName: string | undefined): boolean {
  return osName !== undefined && DESKTOP_OS.test(osName)
}

/** Device types ua-parser-js 1.x reports; anything else (none, or an unknown future value) is inferred. */
const PARSER_TYPES: ReadonlySet<string> = new Set<DeviceType>([
  'mobile',
  'tablet',
  'smarttv',
  'console',
  'wearable',
  'embedded',
])

function isParserType(type: string | undefined): type is DeviceType {
  return type !== undefined && PARSER_TYPES.has(type)
}

/**
 * Chrome's reduced UA puts the placeholder model "K" on every Android device; it names no model,
 * so it becomes undefined rather than a fake "K" bucket in device statistics.
 */
const REDUCED_MODEL = 'K'

const NONE: UaInfo = deepFreeze({
  browser: {},
  engine: {},
  os: {},
  device: { type: 'unknown' },
  bot: false,
  source: 'none',
})

function parse(ua: string): UaInfo {
  const r = new UAParser(ua).getResult()
  const bot = isBotUserAgent(ua)
  let type: DeviceType = 'unknown'
  if (bot) type = 'bot'
  else if (isParserType(r.device.type)) type = r.device.type
  else if (isDesktopOs(r.os.name)) type = 'desktop'
  const model = r.os.name === 'Android' && r.device.model === REDUCED_MODEL ? undefined : r.device.model
  return deepFreeze({
    browser: dropUndefined({ name: r.browser.name, version: r.browser.version, major: r.browser.major }),
    engine: dropUndefined({ name: r.engine.name, version: r.engine.version }),
    os: dropUndefined({ name: r.os.name, version: r.os.version }),
    device: dropUndefined({ type, vendor: r.device.vendor, model }),
    bot,
    source: 'ua',
  })
}

/** The UA cache's memory bound: 5 000 typical entries (~150-char UAs) take about 3.5 MB. */
export const UA_CACHE_MAX_BYTES = 8 * 1024 * 1024

/** Estimated bytes of one cache entry: the key (UTF-16) and the parsed result's objects. */
export function uaCacheEntryBytes(ua: string): number {
  return 2 * ua.length + 512
}

/**
 * Parses a User-Agent header. Results are deep-frozen, so the cached object can be handed out
 * directly and a caller that mutates one gets a TypeError instead of poisoning the cache. Both
 * paths freeze, so behaviour does not depend on `cacheSize`.
 */
export function createUserAgentParser(options: {
  cacheSize: number
  /** Bound on the cache's memory (estimated bytes); UA_CACHE_MAX_BYTES unless given. */
  cacheMaxBytes?: number
}): (ua: string | undefined) => UaInfo {
  // lru-cache refuses max 0; 0 means "no cache" so the benchmark can compare the two.
  const cache =
    options.cacheSize > 0
      ? new LRUCache<string, UaInfo>({
          max: options.cacheSize,
          // Bounded in bytes too: User-Agent strings come from clients and can be long (up to the
          // event size limit), so a count alone does not bound the memory.
          maxSize: options.cacheMaxBytes ?? UA_CACHE_MAX_BYTES,
          sizeCalculation: (_info, ua) => uaCacheEntryBytes(ua),
        })
      : undefined
  return function parseUserAgent(ua) {
    if (ua === undefined || ua.trim() === '') return NONE
    if (cache === undefined) return parse(ua)
    let info = cache.get(ua)
    if (info === undefined) {
      info = parse(ua)
      cache.set(ua, info)
    }
    return info
  }
}

/**
 * Drops undefined keys so results compare equal however they were built (and stay small in JSON).
 * Copies instead of `delete` (which turns an object into a slow dictionary, and runs per event
 * for merged client hints), and only when a key is undefined.
 */
export function dropUndefined<T extends object>(o: T): T {
  let complete = true
  for (const key in o) {
    if (o[key] === undefined) {
      complete = false
      break
    }
  }
  if (complete) return o
  const out = {} as T
  for (const key in o) if (o[key] !== undefined) out[key] = o[key]
  return out
}

function deepFreeze<T extends object>(o: T): T {
  for (const value of Object.values(o)) if (typeof value === 'object' && value !== null) deepFreeze(value)
  return Object.freeze(o)
}
