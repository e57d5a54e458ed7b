import { describe, expect, it } from 'vitest'
import { createUserAgentParser, dropUndefined, isBotUserAgent, isDesktopOs } from './user-agent.ts'

/**
 * The rules of enrich/user-agent.ts one by one (mutation testing, issue 18): every device type
 * the parser can report, the reduced-UA model, engines, which OS names mean desktop, where the
 * bot patterns are anchored, the cache switch and deep freezing.
 */
const parse = createUserAgentParser({ cacheSize: 0 })

describe('device types reported by the parser', () => {
  it.each([
    {
      type: 'smarttv',
      ua: 'Mozilla/5.0 (SMART-TV; Linux; Tizen 5.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/2.2 Chrome/63.0.3239.84 TV Safari/537.36',
    },
    { type: 'console', ua: 'Mozilla/5.0 (PlayStation 4 3.11) AppleWebKit/537.73 (KHTML, like Gecko)' },
    {
      type: 'wearable',
      ua: 'Mozilla/5.0 (Linux; Android 11; SM-R860) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/97.0 Mobile Safari/537.36',
    },
  ])('$type', ({ type, ua }) => {
    expect(parse(ua).device.type).toBe(type)
  })

  it('keeps a real Android model and the engine with its version', () => {
    const info = parse(
      'Mozilla/5.0 (Linux; Android 13; SM-G991B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
    )
    expect(info.device).toEqual({ type: 'mobile', vendor: 'Samsung', model: 'SM-G991B' })
    expect(info.engine).toEqual({ name: 'Blink', version: '120.0.0.0' })
  })
})

describe('isDesktopOs', () => {
  it.each([
    'Windows',
    'Mac OS',
    'Linux',
    'Ubuntu',
    'Kubuntu',
    'Xubuntu',
    'SUSE',
    'openSUSE',
    'Red Hat',
    'RedHat',
    'FreeBSD',
    'NetBSD',
    'BSD',
  ])('%s is a desktop OS', (os) => {
    expect(isDesktopOs(os)).toBe(true)
  })
  it.each(['Windows Phone', 'Android', 'iOS', 'Tizen', 'webOS Linux', 'my-BSD', undefined])(
    '%s is not',
    (os) => {
      expect(isDesktopOs(os)).toBe(false)
    },
  )
})

describe('bot patterns', () => {
  it('a self-declared agent linking its info page (http or https) is a bot', () => {
    expect(isBotUserAgent('Mozilla/5.0 (compatible; SiteCheck; +http://check.example/about)')).toBe(true)
    expect(isBotUserAgent('Mozilla/5.0 (compatible; SiteCheck/2; +https://check.example/about)')).toBe(true)
    // A "compatible" token without an info link is an old browser's, not a bot's.
    expect(isBotUserAgent('Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1)')).toBe(false)
  })

  it('an HTTP library counts only as the first product token', () => {
    expect(isBotUserAgent('Java/17.0.2')).toBe(true)
    expect(isBotUserAgent('axios/1.6.0')).toBe(true)
    expect(
      isBotUserAgent(
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Java/17',
      ),
    ).toBe(false)
  })
})

describe('parser options and results', () => {
  const UA = 'Mozilla/5.0 (X11; Kubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0'

  it('cacheSize 0 means no cache: every call parses anew', () => {
    const uncached = createUserAgentParser({ cacheSize: 0 })
    const a = uncached(UA)
    expect(uncached(UA)).not.toBe(a)
    expect(uncached(UA)).toEqual(a)
  })

  it('a positive cacheSize caches', () => {
    const cached = createUserAgentParser({ cacheSize: 2 })
    expect(cached(UA)).toBe(cached(UA))
  })

  it('results are frozen all the way down', () => {
    const info = parse(UA)
    expect(info.device.type).toBe('desktop')
    for (const part of [info, info.browser, info.engine, info.os, info.device])
      expect(Object.isFrozen(part)).toBe(true)
  })

  it('dropUndefined removes undefined keys and keeps the rest', () => {
    const o = dropUndefined({ a: 1, b: undefined, c: null, d: '' })
    expect(Object.keys(o)).toEqual(['a', 'c', 'd'])
  })
})
