import { describe, expect, it } from 'vitest'
import type { UaInfo } from './types.ts'
import { createUserAgentParser, uaCacheEntryBytes } from './user-agent.ts'

/** The fields the table asserts; toEqual also fails when a field expected absent is present. */
const view = (u: UaInfo) => ({
  browser: u.browser.name,
  major: u.browser.major,
  os: u.os.name,
  osVersion: u.os.version,
  type: u.device.type,
  vendor: u.device.vendor,
  model: u.device.model,
  bot: u.bot,
})
type View = Partial<ReturnType<typeof view>>

// Real User-Agent headers as browsers and tools send them.
const UA = {
  chromeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  edgeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
  firefoxUbuntu: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
  firefoxWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
  safariMac:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15',
  chromeMac:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  chromeOs:
    'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
  ipad: 'Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
  androidReduced:
    'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
  androidTabletReduced:
    'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  samsungInternet:
    'Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36',
  cubotPhone:
    'Mozilla/5.0 (Linux; Android 9; CUBOT_X19) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0.3987.99 Mobile Safari/537.36',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  googlebotSmartphone:
    'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.216 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  bingbot: 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  gptbot:
    'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)',
  slackbot: 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
  curl: 'curl/8.5.0',
  pythonRequests: 'python-requests/2.31.0',
  goHttp: 'Go-http-client/1.1',
  headlessChrome:
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36',
} as const

const cases: { name: string; ua: string; want: View }[] = [
  {
    name: 'Chrome on Windows (reduced: NT 10.0 covers 10 and 11)',
    ua: UA.chromeWindows,
    want: { browser: 'Chrome', major: '120', os: 'Windows', osVersion: '10', type: 'desktop', bot: false },
  },
  {
    name: 'Edge on Windows',
    ua: UA.edgeWindows,
    want: { browser: 'Edge', major: '120', os: 'Windows', osVersion: '10', type: 'desktop', bot: false },
  },
  {
    name: 'Firefox on Linux',
    ua: UA.firefoxLinux,
    want: { browser: 'Firefox', major: '121', os: 'Linux', type: 'desktop', bot: false },
  },
  {
    name: 'Firefox on Ubuntu (ua-parser names the distribution)',
    ua: UA.firefoxUbuntu,
    want: { browser: 'Firefox', major: '121', os: 'Ubuntu', type: 'desktop', bot: false },
  },
  {
    name: 'Firefox on Windows',
    ua: UA.firefoxWindows,
    want: { browser: 'Firefox', major: '121', os: 'Windows', osVersion: '10', type: 'desktop', bot: false },
  },
  {
    name: 'Safari on macOS (frozen at 10.15.7)',
    ua: UA.safariMac,
    want: {
      browser: 'Safari',
      major: '17',
      os: 'Mac OS',
      osVersion: '10.15.7',
      type: 'desktop',
      vendor: 'Apple',
      model: 'Macintosh',
      bot: false,
    },
  },
  {
    name: 'Chrome on Chrome OS',
    ua: UA.chromeOs,
    want: {
      browser: 'Chrome',
      major: '120',
      os: 'Chromium OS',
      osVersion: '14541.0.0',
      type: 'desktop',
      bot: false,
    },
  },
  {
    name: 'Safari on iPhone',
    ua: UA.iphone,
    want: {
      browser: 'Mobile Safari',
      major: '17',
      os: 'iOS',
      osVersion: '17.2',
      type: 'mobile',
      vendor: 'Apple',
      model: 'iPhone',
      bot: false,
    },
  },
  {
    name: 'Safari on iPad',
    ua: UA.ipad,
    want: {
      browser: 'Mobile Safari',
      major: '17',
      os: 'iOS',
      osVersion: '17.2',
      type: 'tablet',
      vendor: 'Apple',
      model: 'iPad',
      bot: false,
    },
  },
  {
    name: 'Android Chrome, reduced UA without hints: Android 10, placeholder model "K" dropped',
    ua: UA.androidReduced,
    want: { browser: 'Chrome', major: '120', os: 'Android', osVersion: '10', type: 'mobile', bot: false },
  },
  {
    name: 'Android Chrome, reduced UA without "Mobile": tablet',
    ua: UA.androidTabletReduced,
    want: { browser: 'Chrome', major: '120', os: 'Android', osVersion: '10', type: 'tablet', bot: false },
  },
  {
    name: 'Samsung Internet, unreduced UA keeps its model',
    ua: UA.samsungInternet,
    want: {
      browser: 'Samsung Internet',
      major: '23',
      os: 'Android',
      osVersion: '13',
      type: 'mobile',
      vendor: 'Samsung',
      model: 'SM-S911B',
      bot: false,
    },
  },
  {
    name: 'a phone named CUBOT is not a bot',
    ua: UA.cubotPhone,
    want: {
      browser: 'Chrome',
      major: '80',
      os: 'Android',
      osVersion: '9',
      type: 'mobile',
      model: 'CUBOT_X19',
      bot: false,
    },
  },
  { name: 'Googlebot', ua: UA.googlebot, want: { type: 'bot', bot: true } },
  {
    name: 'Googlebot smartphone keeps its parsed browser and OS',
    ua: UA.googlebotSmartphone,
    want: {
      browser: 'Chrome',
      major: '120',
      os: 'Android',
      osVersion: '6.0.1',
      type: 'bot',
      vendor: 'LG',
      model: 'Nexus 5',
      bot: true,
    },
  },
  { name: 'bingbot', ua: UA.bingbot, want: { type: 'bot', bot: true } },
  { name: 'GPTBot', ua: UA.gptbot, want: { browser: 'WebKit', major: '537', type: 'bot', bot: true } },
  { name: 'Slackbot link expander', ua: UA.slackbot, want: { type: 'bot', bot: true } },
  { name: 'curl', ua: UA.curl, want: { type: 'bot', bot: true } },
  { name: 'python-requests', ua: UA.pythonRequests, want: { type: 'bot', bot: true } },
  { name: 'Go http client', ua: UA.goHttp, want: { type: 'bot', bot: true } },
  {
    name: 'HeadlessChrome',
    ua: UA.headlessChrome,
    want: { browser: 'Chrome Headless', major: '120', os: 'Linux', type: 'bot', bot: true },
  },
  { name: 'unrecognised text', ua: 'spor-test/1 (no product here)', want: { type: 'unknown', bot: false } },
]

describe('createUserAgentParser', () => {
  const parse = createUserAgentParser({ cacheSize: 0 })

  it.each(cases)('$name', ({ ua, want }) => {
    const info = parse(ua)
    expect(view(info)).toEqual(want)
    expect(info.source).toBe('ua')
  })

  it.each([
    { name: 'undefined', ua: undefined },
    { name: 'empty', ua: '' },
    { name: 'blank', ua: '   ' },
  ])('$name UA has source none', ({ ua }) => {
    expect(parse(ua)).toEqual({
      browser: {},
      engine: {},
      os: {},
      device: { type: 'unknown' },
      bot: false,
      source: 'none',
    })
  })
})

describe('cache', () => {
  const uncached = createUserAgentParser({ cacheSize: 0 })
  const cached = createUserAgentParser({ cacheSize: 100 })

  it.each(cases)('cached equals uncached: $name', ({ ua }) => {
    expect(cached(ua)).toEqual(uncached(ua))
    expect(cached(ua)).toEqual(uncached(ua)) // second call is a cache hit
  })

  it('a cache hit returns the stored object; no cache parses anew', () => {
    expect(cached(UA.iphone)).toBe(cached(UA.iphone))
    expect(uncached(UA.iphone)).not.toBe(uncached(UA.iphone))
  })

  it.each([
    { name: 'cached', parse: cached },
    { name: 'uncached', parse: uncached },
  ])('mutating a $name result throws and does not change the next result', ({ parse }) => {
    const first = parse(UA.iphone) as { device: { model?: string }; bot: boolean }
    expect(() => {
      first.device.model = 'poisoned'
    }).toThrow(TypeError)
    expect(() => {
      first.bot = true
    }).toThrow(TypeError)
    expect(view(parse(UA.iphone))).toEqual(cases.find((c) => c.ua === UA.iphone)?.want)
  })

  it('is bounded in bytes: long User-Agents evict earlier entries long before the count limit', () => {
    const long = (n: number) => `${UA.chromeWindows} ${String(n).repeat(4000)}`
    const budget = 2 * uaCacheEntryBytes(long(1)) + 10 // room for two long entries, not three
    const bounded = createUserAgentParser({ cacheSize: 1000, cacheMaxBytes: budget })
    const first = bounded(long(1))
    expect(bounded(long(1))).toBe(first) // cached
    bounded(long(2))
    expect(bounded(long(1))).toBe(first) // two fit
    bounded(long(3)) // the third evicts the least recently used (long(2))
    bounded(long(4)) // and the fourth long(1)
    const again = bounded(long(1))
    expect(again).not.toBe(first)
    expect(again).toEqual(first)
  })

  it('keeps at most cacheSize entries and still answers correctly after eviction', () => {
    const tiny = createUserAgentParser({ cacheSize: 1 })
    const chrome = tiny(UA.chromeWindows)
    tiny(UA.curl)
    expect(tiny(UA.chromeWindows)).not.toBe(chrome)
    expect(tiny(UA.chromeWindows)).toEqual(chrome)
  })
})
