import { describe, expect, it } from 'vitest'
import {
  clientAddress,
  clientHintsFromHeaders,
  MAX_HEADER_CHARS,
  parseBrandList,
  withRequestContext,
} from './request-context.ts'

describe('parseBrandList', () => {
  it.each([
    [
      '"Not_A Brand";v="8", "Chromium";v="120", "Google Chrome";v="120"',
      [
        { brand: 'Not_A Brand', version: '8' },
        { brand: 'Chromium', version: '120' },
        { brand: 'Google Chrome', version: '120' },
      ],
    ],
    ['"Microsoft Edge";v="120.0.2210.91"', [{ brand: 'Microsoft Edge', version: '120.0.2210.91' }]],
    ['garbage', undefined],
    [undefined, undefined],
    ['"A\\"B";v="1"', [{ brand: 'A"B', version: '1' }]],
    ['"bad, "Chromium";v="120"', undefined],
    ['"x";q="1", "Chromium";v="120"', [{ brand: 'Chromium', version: '120' }]],
    ['"x";v=1, "Chromium" ; v = "120"', [{ brand: 'Chromium', version: '120' }]],
    [
      '"a";v="1",,,"b";v="2"',
      [
        { brand: 'a', version: '1' },
        { brand: 'b', version: '2' },
      ],
    ],
    ['"\\"'.repeat(5000), undefined],
  ])('%s', (header, expected) => {
    expect(parseBrandList(header)).toEqual(expected)
  })
})

describe('clientHintsFromHeaders', () => {
  it('reads the hints a Chromium browser sends', () => {
    expect(
      clientHintsFromHeaders({
        'sec-ch-ua': '"Chromium";v="120"',
        'sec-ch-ua-platform': '"Android"',
        'sec-ch-ua-platform-version': '"14.0.0"',
        'sec-ch-ua-model': '"Pixel 8"',
        'sec-ch-ua-mobile': '?1',
      }),
    ).toEqual({
      brands: [{ brand: 'Chromium', version: '120' }],
      platform: 'Android',
      platformVersion: '14.0.0',
      model: 'Pixel 8',
      mobile: true,
    })
  })
  it('is undefined without hints (Firefox, Safari)', () => {
    expect(clientHintsFromHeaders({ 'user-agent': 'Mozilla/5.0 …' })).toBeUndefined()
  })
})

describe('withRequestContext', () => {
  const context = { tenant: 'acme', ip: '203.0.113.9', userAgent: 'UA', clientHints: { mobile: false } }
  it('fills tenant, overrides the IP and adds UA and hints when the event has no device data', () => {
    expect(withRequestContext({ id: 'e', ip: '1.1.1.1' }, context)).toEqual({
      id: 'e',
      tenant: 'acme',
      ip: '203.0.113.9',
      device: { ua: 'UA', ch: { mobile: false } },
    })
  })
  it("keeps the event's own tenant (checked later) and its own device data", () => {
    expect(
      withRequestContext({ tenant: 'globex', device: { ua: 'App/1.0', ch: { platform: 'iOS' } } }, context),
    ).toEqual({
      tenant: 'globex',
      ip: '203.0.113.9',
      device: { ua: 'App/1.0', ch: { platform: 'iOS' } },
    })
  })
  it.each([[null], ['text'], [[1, 2]], [42]])('returns %j unchanged for validation to reject', (raw) => {
    expect(withRequestContext(raw, context)).toEqual(raw)
  })
})

describe('parseBrandList limits', () => {
  it('keeps at most ten brands and reads only the first MAX_HEADER_CHARS characters', () => {
    expect(parseBrandList('"b";v="1", '.repeat(50))).toHaveLength(10)
    const late = `${' '.repeat(MAX_HEADER_CHARS)}"Chromium";v="120"`
    expect(parseBrandList(late)).toBeUndefined()
  })
})

describe('clientAddress (X-Forwarded-For behind a trusted proxy)', () => {
  it.each([
    ['198.51.100.7', '10.9.9.9', '198.51.100.7'],
    ['garbage', '10.9.9.9', '10.9.9.9'],
    ['unknown', '10.9.9.9', '10.9.9.9'],
    ['', '10.9.9.9', '10.9.9.9'],
    ['[2001:db8::1]:443', '10.9.9.9', '2001:db8::1'],
    ['[2001:db8::1]', '10.9.9.9', '2001:db8::1'],
    ['198.51.100.7:8080', '10.9.9.9', '198.51.100.7'],
    ['::ffff:198.51.100.7', '10.9.9.9', '198.51.100.7'],
    ['2001:db8::1', '10.9.9.9', '2001:db8::1'],
    ['1.2.3.4.5', '::ffff:10.9.9.9', '10.9.9.9'],
    [undefined, undefined, '0.0.0.0'],
  ])('%j via %j → %s', (forwarded, socket, expected) => {
    expect(clientAddress(forwarded, socket)).toBe(expected)
  })
})
