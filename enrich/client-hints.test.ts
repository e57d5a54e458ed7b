import { describe, expect, it } from 'vitest'
import { type ClientHints, mergeClientHints } from './client-hints.ts'
import type { UaInfo } from './types.ts'
import { createUserAgentParser } from './user-agent.ts'

const view = (u: UaInfo) => ({
  browser: u.browser.name,
  version: u.browser.version,
  major: u.browser.major,
  os: u.os.name,
  osVersion: u.os.version,
  type: u.device.type,
  vendor: u.device.vendor,
  model: u.device.model,
  bot: u.bot,
  source: u.source,
})
type View = Partial<ReturnType<typeof view>>

// Real User-Agent headers; Chrome's reduced form freezes OS version, model and minor versions.
const UA = {
  androidReduced:
    'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
  androidTabletReduced:
    'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  chromeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  chromeWindows7:
    'Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36',
  edgeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0',
  operaWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0',
  chromeMac:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  headlessChrome:
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36',
} as const

// Brand lists as Chrome 120 sends them, GREASE entry included.
const chromeFull = [
  { brand: 'Not_A Brand', version: '8.0.0.0' },
  { brand: 'Chromium', version: '120.0.6099.144' },
  { brand: 'Google Chrome', version: '120.0.6099.144' },
]
const chromeBrands = [
  { brand: 'Not_A Brand', version: '8' },
  { brand: 'Chromium', version: '120' },
  { brand: 'Google Chrome', version: '120' },
]

const cases: { name: string; ua: string | undefined; ch: ClientHints | undefined; want: View }[] = [
  {
    name: 'Android reduced UA with hints: Android 14, Pixel 8, full Chrome version',
    ua: UA.androidReduced,
    ch: {
      brands: chromeBrands,
      fullVersionList: chromeFull,
      platform: 'Android',
      platformVersion: '14.0.0',
      model: 'Pixel 8',
      mobile: true,
    },
    want: {
      browser: 'Chrome',
      version: '120.0.6099.144',
      major: '120',
      os: 'Android',
      osVersion: '14',
      type: 'mobile',
      model: 'Pixel 8',
      bot: false,
      source: 'ua+ch',
    },
  },
  {
    name: 'Windows 11 via platformVersion >= 13',
    ua: UA.chromeWindows,
    ch: {
      brands: chromeBrands,
      fullVersionList: chromeFull,
      platform: 'Windows',
      platformVersion: '15.0.0',
      mobile: false,
    },
    want: {
      browser: 'Chrome',
      version: '120.0.6099.144',
      major: '120',
      os: 'Windows',
      osVersion: '11',
      type: 'desktop',
      bot: false,
      source: 'ua+ch',
    },
  },
  {
    name: 'Windows 10 via platformVersion 1-10',
    ua: UA.chromeWindows,
    ch: { platform: 'Windows', platformVersion: '10.0.0' },
    want: {
      browser: 'Chrome',
      version: '120.0.0.0',
      major: '120',
      os: 'Windows',
      osVersion: '10',
      type: 'desktop',
      bot: false,
      source: 'ua+ch',
    },
  },
  {
    name: 'Windows 7 (platformVersion 0.x) keeps the version mapped from NT 6.1',
    ua: UA.chromeWindows7,
    ch: { platform: 'Windows', platformVersion: '0.1.0' },
    want: {
      browser: 'Chrome',
      version: '109.0.0.0',
      major: '109',
      os: 'Windows',
      osVersion: '7',
      type: 'desktop',
      bot: false,
      source: 'ua+ch',
    },
  },
  {
    name: 'Edge takes the "Microsoft Edge" brand, not Chromium',
    ua: UA.edgeWindows,
    ch: {
      fullVersionList: [
        { brand: 'Not_A Brand', version: '8.0.0.0' },
        { brand: 'Chromium', version: '120.0.6099.130' },
        { brand: 'Microsoft Edge', version: '120.0.2210.91' },
      ],
    },
    want: {
      browser: 'Edge',
      version: '120.0.2210.91',
      major: '120',
      os: 'Windows',
      osVersion: '10',
      type: 'desktop',
      bot: false,
      source: 'ua+ch',
    },
  },
  {
    name: 'Opera takes the "Opera" brand',
    ua: UA.operaWindows,
    ch: {
      fullVersionList: [
        { brand: 'Opera', version: '106.0.4998.52' },
        { brand: 'Not)A;Brand', version: '99.0.0.0' },
        { brand: 'Chromium', version: '120.0.6099.225' },
      ],
    },
    want: {
      browser: 'Opera',
      version: '106.0.4998.52',
      major: '106',
      os: 'Windows',
      osVersion: '10',
      type: 'desktop',
      bot: false,
      source: 'ua+ch',
    },
  },
  {
    name: 'macOS platform maps to ua-parser\'s "Mac OS" with the real version',
    ua: UA.chromeMac,
    ch: { platform: 'macOS', platformVersion: '14.2.1' },
    want: {
      browser: 'Chrome',
      version: '120.0.0.0',
      major: '120',
      os: 'Mac OS',
      osVersion: '14.2.1',
      type: 'desktop',
      vendor: 'Apple',
      model: 'Macintosh',
      bot: false,
      source: 'ua+ch',
    },
  },
  {
    name: 'brands only (low-entropy hints): the major confirms the UA version',
    ua: UA.chromeWindows,
    ch: { brands: chromeBrands },
    want: {
      browser: 'Chrome',
      version: '120.0.0.0',
      major: '120',
      os: 'Windows',
      osVersion: '10',
      type: 'desktop',
      bot: false,
      source: 'ua+ch',
    },
  },
  {
    name: 'brands only, disagreeing with the UA: the brand major wins',
    ua: UA.chromeWindows,
    ch: { brands: [{ brand: 'Google Chrome', version: '121' }] },
    want: {
      browser: 'Chrome',
      version: '121',
      major: '121',
      os: 'Windows',
      osVersion: '10',
      type: 'desktop',
      bot: false,
      source: 'ua+ch',
    },
  },
  {
    name: 'only GREASE and other brands: browser left as parsed',
    ua: UA.chromeWindows,
    ch: {
      fullVersionList: [
        { brand: 'Not A(Brand', version: '99.0.0.0' },
        { brand: 'Chromium', version: '120.0.1.2' },
      ],
    },
    want: {
      browser: 'Chrome',
      version: '120.0.0.0',
      major: '120',
      os: 'Windows',
      osVersion: '10',
      type: 'desktop',
      bot: false,
      source: 'ua',
    },
  },
  {
    name: 'a tablet stays a tablet when mobile is true',
    ua: UA.androidTabletReduced,
    ch: { mobile: true, model: 'SM-X710' },
    want: {
      browser: 'Chrome',
      version: '120.0.0.0',
      major: '120',
      os: 'Android',
      osVersion: '10',
      type: 'tablet',
      model: 'SM-X710',
      bot: false,
      source: 'ua+ch',
    },
  },
  {
    name: 'a headless browser stays a bot',
    ua: UA.headlessChrome,
    ch: { mobile: true, fullVersionList: [{ brand: 'HeadlessChrome', version: '120.0.6099.109' }] },
    want: {
      browser: 'Chrome Headless',
      version: '120.0.6099.109',
      major: '120',
      os: 'Linux',
      type: 'bot',
      bot: true,
      source: 'ua+ch',
    },
  },
  {
    name: 'no UA, hints only: platform gives OS and desktop',
    ua: undefined,
    ch: { platform: 'Windows', platformVersion: '15.0.0', mobile: false },
    want: { os: 'Windows', osVersion: '11', type: 'desktop', bot: false, source: 'ua+ch' },
  },
  {
    name: 'no hints: unchanged',
    ua: UA.androidReduced,
    ch: undefined,
    want: {
      browser: 'Chrome',
      version: '120.0.0.0',
      major: '120',
      os: 'Android',
      osVersion: '10',
      type: 'mobile',
      bot: false,
      source: 'ua',
    },
  },
  {
    name: 'empty hints: unchanged',
    ua: UA.androidReduced,
    ch: {},
    want: {
      browser: 'Chrome',
      version: '120.0.0.0',
      major: '120',
      os: 'Android',
      osVersion: '10',
      type: 'mobile',
      bot: false,
      source: 'ua',
    },
  },
]

describe('mergeClientHints', () => {
  const parse = createUserAgentParser({ cacheSize: 100 })

  it.each(cases)('$name', ({ ua, ch, want }) => {
    const parsed = parse(ua)
    const before = structuredClone(parsed)
    const merged = mergeClientHints(parsed, ch)
    expect(view(merged)).toEqual(want)
    // Pure: a new object, and the (cached, frozen) input is untouched.
    expect(merged).not.toBe(parsed)
    expect(parse(ua)).toEqual(before)
  })
})
