import { describe, expect, it } from 'vitest'
import { type ClientHints, mergeClientHints } from './client-hints.ts'
import type { UaInfo } from './types.ts'

/** mergeClientHints on hand-made parses: each rule of the merge pinned on its own. */
const parse = (over: Partial<{ [K in keyof UaInfo]: UaInfo[K] }> = {}): UaInfo => ({
  browser: { name: 'Chrome', version: '120.0.0.0', major: '120' },
  engine: { name: 'Blink', version: '120.0.0.0' },
  os: { name: 'Windows', version: '10' },
  device: { type: 'desktop' },
  bot: false,
  source: 'ua',
  ...over,
})
const merge = (ua: UaInfo, ch: ClientHints) => mergeClientHints(ua, ch)

describe('mergeClientHints rules', () => {
  it('maps platforms onto ua-parser names, ignores "Unknown" and an empty platform', () => {
    expect(merge(parse(), { platform: 'Chrome OS' }).os.name).toBe('Chromium OS')
    expect(merge(parse(), { platform: 'Chromium OS' }).os.name).toBe('Chromium OS')
    expect(merge(parse(), { platform: 'macOS' }).os.name).toBe('Mac OS')
    expect(merge(parse(), { platform: 'Linux' }).os.name).toBe('Linux')
    for (const platform of ['Unknown', '']) {
      const merged = merge(parse(), { platform })
      expect(merged.os).toEqual({ name: 'Windows', version: '10' })
      expect(merged.source).toBe('ua')
    }
  })

  it("drops the UA's OS version when the hints name another OS, keeps it for the same OS", () => {
    expect(merge(parse(), { platform: 'Android' }).os).toEqual({ name: 'Android' })
    expect(merge(parse(), { platform: 'Windows' }).os).toEqual({ name: 'Windows', version: '10' })
  })

  it.each([
    ['Windows', '15.0.0', '11'],
    ['Windows', '13.0.0', '11'],
    ['Windows', '12.0.0', '10'],
    ['Windows', '1.0.0', '10'],
    ['Windows', '0.3.0', '7'], // 7/8/8.1: the UA's mapping stays
    ['Android', '14.0.0', '14'],
    ['Android', '14.00', '14'],
    ['Android', '14.1.0', '14.1'],
    ['Android', '14.0.1', '14.0.1'],
  ])('%s platformVersion %s -> %s', (platform, platformVersion, want) => {
    const ua = parse({ os: { name: platform, version: platform === 'Windows' ? '7' : '10' } })
    expect(merge(ua, { platform, platformVersion }).os.version).toBe(want)
  })

  it('a hinted model replaces a different parsed model and its vendor, keeps the vendor of the same model', () => {
    const phone = parse({ device: { type: 'mobile', vendor: 'Generic', model: 'K' } })
    expect(merge(phone, { model: 'Pixel 8' }).device).toEqual({ type: 'mobile', model: 'Pixel 8' })
    const same = parse({ device: { type: 'mobile', vendor: 'Google', model: 'Pixel 8' } })
    expect(merge(same, { model: 'Pixel 8' }).device).toEqual({
      type: 'mobile',
      vendor: 'Google',
      model: 'Pixel 8',
    })
    const noModel = parse({ device: { type: 'mobile', vendor: 'Apple' } })
    expect(merge(noModel, { model: 'iPhone' }).device).toEqual({
      type: 'mobile',
      vendor: 'Apple',
      model: 'iPhone',
    })
  })

  it('says ua+ch whenever a hint was used, ua when none was', () => {
    expect(merge(parse(), {}).source).toBe('ua')
    expect(merge(parse(), { model: 'X' }).source).toBe('ua+ch')
    expect(merge(parse(), { mobile: false }).source).toBe('ua+ch')
    expect(merge(parse(), { platform: 'Windows' }).source).toBe('ua+ch')
  })

  it('device type: mobile hint wins except for tablets and bots; the OS decides desktop', () => {
    expect(merge(parse(), { mobile: true }).device.type).toBe('mobile')
    expect(merge(parse({ device: { type: 'tablet' } }), { mobile: true }).device.type).toBe('tablet')
    expect(merge(parse({ device: { type: 'bot' } }), { mobile: true, platform: 'Android' }).device.type).toBe(
      'bot',
    )
    expect(merge(parse({ device: { type: 'unknown' } }), { mobile: false }).device.type).toBe('desktop')
    expect(merge(parse({ device: { type: 'unknown' } }), { platform: 'Android' }).device.type).toBe('unknown')
    expect(merge(parse(), { platform: 'Android' }).device.type).toBe('unknown')
    expect(merge(parse(), { platform: 'Linux' }).device.type).toBe('desktop')
  })

  it('returns new objects and leaves the (cached) parse untouched', () => {
    const ua = parse()
    const copy = structuredClone(ua)
    const merged = merge(ua, { platform: 'Android', model: 'X', mobile: true })
    expect(merged.engine).toEqual(ua.engine)
    expect(merged.engine).not.toBe(ua.engine)
    expect(ua).toEqual(copy)
  })

  it('leaves a browser without a name alone, whatever the brands say', () => {
    const ua = parse({ browser: {} })
    expect(merge(ua, { brands: [{ brand: 'Chromium', version: '120' }] }).browser).toEqual({})
  })

  it('maps headless Chrome onto its brand', () => {
    const ua = parse({ browser: { name: 'Chrome Headless', version: '120.0.0.0', major: '120' } })
    const merged = merge(ua, { fullVersionList: [{ brand: 'HeadlessChrome', version: '121.0.6167.85' }] })
    expect(merged.browser).toEqual({ name: 'Chrome Headless', version: '121.0.6167.85', major: '121' })
  })

  it.each(['Not A(Brand', ';Not A Brand', 'Not  A Brand', 'Not A  Brand', 'NotABrand'])(
    'ignores the GREASE brand %j',
    (grease) => {
      const ua = parse({ browser: { name: grease, version: '1.0', major: '1' } })
      expect(merge(ua, { brands: [{ brand: grease, version: '99' }] }).browser.major).toBe('1')
    },
  )

  it('a real brand that merely starts like GREASE is used', () => {
    const ua = parse({ browser: { name: 'Not A Brandy', version: '1.0', major: '1' } })
    expect(merge(ua, { brands: [{ brand: 'Not A Brandy', version: '99' }] }).browser.major).toBe('99')
  })
})
