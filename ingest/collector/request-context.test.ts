import { describe, expect, it } from 'vitest'
import { clientHintsFromHeaders, parseBrandList, withRequestContext } from './request-context.ts'

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
