import { describe, expect, it } from 'vitest'
import type { SporEvent } from '../core/event-schema.ts'
import { type SignalEnrichers, signalsOrFailure } from './repartitioner.ts'

const login: SporEvent = {
  v: 1,
  id: 'e1',
  type: 'session.login',
  ts: '2026-11-25T10:00:00.000Z',
  tenant: 'acme',
  user: 'u1',
  ip: '81.166.12.34',
  device: { ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)' },
}
const working: SignalEnrichers = {
  lookupGeo: () => undefined,
  parseUserAgent: () => ({ browser: {}, os: { name: 'Windows' }, device: { type: 'desktop' } }) as never,
}

describe('signalsOrFailure', () => {
  it.each([
    [
      'geo lookup throws',
      {
        ...working,
        lookupGeo: () => {
          throw new Error('geo db corrupt')
        },
      },
      'geo db corrupt',
    ],
    [
      'UA parser throws',
      {
        ...working,
        parseUserAgent: () => {
          throw new TypeError('bad ua')
        },
      },
      'bad ua',
    ],
  ])('%s: the error is returned, not thrown', (_name, enrichers, message) => {
    const result = signalsOrFailure(login, enrichers as SignalEnrichers)
    expect(result).toBeInstanceOf(Error)
    expect((result as Error).message).toBe(message)
  })

  it('working enrichers give the signals', () => {
    const result = signalsOrFailure(login, working)
    expect(Array.isArray(result) && result.map((s) => s.kind)).toEqual(['account', 'ip', 'net', 'user'])
  })
})
