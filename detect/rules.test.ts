import { describe, expect, it } from 'vitest'
import { RuleBook } from './rule-config.ts'
import {
  bruteForce,
  concurrentSessions,
  harassmentActor,
  harassmentTarget,
  impossibleTravel,
  newCountry,
  newDevice,
  sourceAttack,
  spamBurst,
} from './rules.ts'
import type { SignalEvent } from './signal.ts'

const settings = new RuleBook().for('acme')
const T0 = Date.parse('2026-11-25T10:00:00Z')
const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR
let seq = 0
const ev = (over: Partial<SignalEvent>): SignalEvent => ({
  id: `e${seq++}`,
  type: 'session.login',
  ts: T0,
  tenant: 'acme',
  ...over,
})
const OSLO = { lat: 59.955, lon: 10.859, accKm: 5, country: 'NO' }
const NEW_YORK = { lat: 40.71, lon: -74.0, accKm: 20, country: 'US' }
const BERGEN = { lat: 60.39, lon: 5.32, accKm: 10, country: 'NO' }
const COARSE_US = { lat: 37.751, lon: -97.822, accKm: 1000, country: 'US' }

function fails(n: number, over: (i: number) => Partial<SignalEvent>): SignalEvent[] {
  return Array.from({ length: n }, (_, i) =>
    ev({ type: 'session.login_failed', ts: T0 + i * 10_000, ...over(i) }),
  )
}
const last = <T>(xs: T[]) => xs[xs.length - 1]!

describe('brute force', () => {
  it.each([
    ['9 failures in 30 min', fails(9, () => ({ account: 'a', ip: '1.1.1.1' })), undefined],
    ['10 failures in 30 min', fails(10, () => ({ account: 'a', ip: '1.1.1.1', user: 'u1' })), 10],
    ['10 failures spread over 2 h', fails(10, (i) => ({ account: 'a', ts: T0 + i * 13 * MIN })), undefined],
  ])('%s', (_name, entries, failures) => {
    const found = bruteForce(entries, last(entries), settings)
    expect(found?.counts.failures).toBe(failures)
    if (failures) {
      expect(found).toMatchObject({
        rule: 'brute_force',
        subject: { kind: 'account', value: 'a' },
        relatedUsers: ['u1'],
      })
      expect(found!.evidence).toEqual(entries.map((e) => e.id))
    }
  })
})

describe('spraying and stuffing on one source', () => {
  const spray = fails(15, (i) => ({ account: `acc${i}`, ip: '9.9.9.9', user: `u${i}` }))
  const stuffing = [
    ...fails(18, (i) => ({ account: `acc${i}`, ip: '9.9.9.9' })),
    ev({ account: 'acc99', ip: '9.9.9.9', user: 'u99', ts: T0 + 200_000 }),
    ev({ account: 'acc98', ip: '9.9.9.9', user: 'u98', ts: T0 + 210_000 }),
  ]
  // 50 colleagues behind one office IP, 4 typos: normal.
  const office = [
    ...Array.from({ length: 46 }, (_, i) => ev({ account: `c${i}`, ip: '9.9.9.9', ts: T0 + i * 20_000 })),
    ...fails(4, (i) => ({ account: `c${i}`, ip: '9.9.9.9', ts: T0 + 1_000_000 + i })),
  ].sort((a, b) => a.ts - b.ts)
  const manyFailsFewAccounts = fails(30, (i) => ({ account: `acc${i % 3}`, ip: '9.9.9.9' }))
  const netFromOneIp = fails(15, (i) => ({ account: `acc${i}`, ip: '9.9.9.9' }))
  const netFromMany = fails(15, (i) => ({ account: `acc${i}`, ip: `9.9.9.${i}` }))
  it.each([
    ['spray: 15 failures on 15 accounts', 'ip', spray, 'password_spraying'],
    ['stuffing: 20 accounts, 2 successes', 'ip', stuffing, 'credential_stuffing'],
    ['shared office IP', 'ip', office, undefined],
    ['30 failures on 3 accounts (brute force, not spraying)', 'ip', manyFailsFewAccounts, undefined],
    ['a /24 with one address is left to the IP key', 'net', netFromOneIp, undefined],
    ['a /24 with many addresses', 'net', netFromMany, 'password_spraying'],
  ] as const)('%s', (_name, kind, entries, rule) => {
    const found = sourceAttack(kind, '9.9.9.9')(entries, last(entries), settings)
    expect(found?.rule).toBe(rule)
  })
  it('sees the whole window when the last signal to arrive is not the newest (several input partitions)', () => {
    const found = sourceAttack('ip', '9.9.9.9')(spray, spray[0]!, settings)
    expect(found?.counts.failures).toBe(15)
  })
  it('stuffing names the accounts that got in', () => {
    const found = sourceAttack('ip', '9.9.9.9')(stuffing, last(stuffing), settings)!
    expect(found.relatedUsers).toEqual(['u99', 'u98'])
    expect(found.counts).toMatchObject({ attempts: 20, successes: 2, accounts: 20 })
  })
})

describe('impossible travel', () => {
  it.each([
    [
      'Oslo → New York in 1 h',
      [ev({ user: 'u', ...OSLO }), ev({ user: 'u', ...NEW_YORK, ts: T0 + HOUR })],
      true,
    ],
    [
      'Oslo → New York in 8 h (a flight)',
      [ev({ user: 'u', ...OSLO }), ev({ user: 'u', ...NEW_YORK, ts: T0 + 8 * HOUR })],
      false,
    ],
    [
      'Oslo → Bergen in 5 min (< 500 km)',
      [ev({ user: 'u', ...OSLO }), ev({ user: 'u', ...BERGEN, ts: T0 + 5 * MIN })],
      false,
    ],
    [
      'coarse location is ignored',
      [ev({ user: 'u', ...OSLO }), ev({ user: 'u', ...COARSE_US, ts: T0 + HOUR })],
      false,
    ],
    ['unknown location is ignored', [ev({ user: 'u', ...OSLO }), ev({ user: 'u', ts: T0 + HOUR })], false],
    [
      'a coarse login in between is not "the last place"',
      [
        ev({ user: 'u', ...OSLO }),
        ev({ user: 'u', ...COARSE_US, ts: T0 + 30 * MIN }),
        ev({ user: 'u', ...NEW_YORK, ts: T0 + HOUR }),
      ],
      true,
    ],
    [
      'failed logins do not count',
      [
        ev({ user: 'u', ...OSLO }),
        ev({ user: 'u', ...NEW_YORK, ts: T0 + HOUR, type: 'session.login_failed' }),
      ],
      false,
    ],
  ])('%s', (_name, entries, expected) => {
    const found = impossibleTravel(entries, last(entries), settings)
    expect(found !== undefined).toBe(expected)
    if (found) expect(found.evidence).toEqual([entries[0]!.id, last(entries).id])
  })
})

describe('new country and new device', () => {
  const history = (n: number, spanMs: number) =>
    Array.from({ length: n }, (_, i) =>
      ev({ user: 'u', ...OSLO, family: 'Windows/desktop', ts: T0 - spanMs + (i * spanMs) / n }),
    )
  it.each([
    [
      'known country after learning',
      [...history(12, 10 * DAY), ev({ user: 'u', ...OSLO, family: 'Windows/desktop' })],
      false,
      false,
    ],
    [
      'new country after learning',
      [...history(12, 10 * DAY), ev({ user: 'u', ...NEW_YORK, family: 'Windows/desktop' })],
      true,
      false,
    ],
    [
      'new device family after learning',
      [...history(12, 10 * DAY), ev({ user: 'u', ...OSLO, family: 'iOS/mobile' })],
      false,
      true,
    ],
    [
      'learning: too few logins',
      [...history(5, 10 * DAY), ev({ user: 'u', ...NEW_YORK, family: 'iOS/mobile' })],
      false,
      false,
    ],
    [
      'learning: history too short',
      [...history(12, DAY), ev({ user: 'u', ...NEW_YORK, family: 'iOS/mobile' })],
      false,
      false,
    ],
  ])('%s', (_name, entries, country, device) => {
    expect(newCountry(entries, last(entries), settings) !== undefined).toBe(country)
    expect(newDevice(entries, last(entries), settings) !== undefined).toBe(device)
  })
})

describe('concurrent sessions', () => {
  it.each([
    [
      'Oslo session still active when New York logs in',
      [
        ev({ user: 'u', session: 's1', ...OSLO }),
        ev({ user: 'u', session: 's1', type: 'session.heartbeat', ts: T0 + 8 * HOUR }),
        ev({ user: 'u', session: 's2', ...NEW_YORK, ts: T0 + 8 * HOUR + 10 * MIN }),
      ],
      true,
    ],
    [
      'Oslo session logged out first (plane travel)',
      [
        ev({ user: 'u', session: 's1', ...OSLO }),
        ev({ user: 'u', session: 's1', type: 'session.logout', ts: T0 + HOUR }),
        ev({ user: 'u', session: 's2', ...NEW_YORK, ts: T0 + 9 * HOUR }),
      ],
      false,
    ],
    [
      'Oslo session idle for longer than the idle limit',
      [
        ev({ user: 'u', session: 's1', ...OSLO }),
        ev({ user: 'u', session: 's2', ...NEW_YORK, ts: T0 + 9 * HOUR }),
      ],
      false,
    ],
    [
      'two sessions in the same city',
      [
        ev({ user: 'u', session: 's1', ...OSLO }),
        ev({ user: 'u', session: 's2', ...OSLO, ts: T0 + 5 * MIN }),
      ],
      false,
    ],
  ])('%s', (_name, entries, expected) => {
    expect(concurrentSessions(entries, last(entries), settings) !== undefined).toBe(expected)
  })
})

describe('spam burst', () => {
  const send = (user: string, ts: number, recipients = 1) =>
    ev({ type: 'message.send', user, ts, recipients })
  const normalDay = Array.from({ length: 40 }, (_, i) => send(`u${i % 10}`, T0 - 20 * HOUR + i * 25 * MIN, 3))
  it.each([
    ['a normal day', normalDay, false],
    [
      '25 sends in 10 minutes',
      [...normalDay, ...Array.from({ length: 25 }, (_, i) => send('u1', T0 + i * 20_000))],
      true,
    ],
    [
      'one campaign job to 500 recipients',
      [...normalDay, ev({ type: 'job.start', user: 'u2', ts: T0, recipients: 500 })],
      false,
    ],
    [
      'jobs to 3000 recipients in 10 minutes',
      [
        ...normalDay,
        ...Array.from({ length: 3 }, (_, i) =>
          ev({ type: 'job.start', user: 'u2', ts: T0 + i * MIN, recipients: 1000 }),
        ),
      ],
      true,
    ],
  ])('%s', (_name, entries, expected) => {
    const found = spamBurst(entries, last(entries), settings)
    expect(found !== undefined).toBe(expected)
  })
  it('a user who always sends a lot needs ten times their own rate', () => {
    const busy = Array.from({ length: 400 }, (_, i) => send('bulk', T0 - 20 * HOUR + i * 3 * MIN))
    const burst = Array.from({ length: 25 }, (_, i) => send('bulk', T0 + i * 20_000))
    expect(spamBurst([...busy, ...burst], last(burst), settings)).toBeUndefined()
  })
})

describe('harassment', () => {
  const report = (user: string, target: string, ts = T0) => ev({ type: 'abuse.report', user, target, ts })
  it.each([
    [
      '3 reporters against one target',
      [report('a', 'user:v'), report('b', 'user:v'), report('c', 'user:v')],
      true,
    ],
    [
      'one reporter three times',
      [report('a', 'user:v'), report('a', 'user:v'), report('a', 'user:v')],
      false,
    ],
  ])('target: %s', (_name, entries, expected) => {
    const found = harassmentTarget(entries, last(entries), settings)
    expect(found !== undefined).toBe(expected)
    if (found) expect(found.relatedUsers).toEqual(['v', 'a', 'b', 'c'])
  })
  it.each([
    [
      '5 reports in an hour',
      Array.from({ length: 5 }, (_, i) => report('a', `user:t${i}`, T0 + i * MIN)),
      true,
    ],
    [
      '5 reports over a day',
      Array.from({ length: 5 }, (_, i) => report('a', `user:t${i}`, T0 + i * 5 * HOUR)),
      false,
    ],
  ])('actor: %s', (_name, entries, expected) => {
    expect(harassmentActor(entries, last(entries), settings) !== undefined).toBe(expected)
  })
})

describe('rule book', () => {
  it('applies per-tenant overrides over global ones', () => {
    const book = new RuleBook({
      rules: { brute_force: { minFailures: 20 } },
      tenants: { beta: { brute_force: { enabled: false } } },
    })
    expect(book.for('acme').brute_force).toMatchObject({ minFailures: 20, enabled: true })
    expect(book.for('beta').brute_force).toMatchObject({ minFailures: 20, enabled: false })
  })
  it.each([
    [{ rules: { brute_force: { minFailure: 3 } } }, /minFailure: unknown setting/],
    [{ rules: { brute_force: { minFailures: 'x' } } }, /expected number/],
    [{ tenants: { a: { nope: {} } } }, /unknown rule/],
  ])('rejects %j', (content, message) => {
    expect(() => new RuleBook(content as never)).toThrow(message)
  })
})

describe('rules file', () => {
  it('loads overrides from SPOR_DETECT_RULES_FILE and rejects a broken one with the file name', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs')
    const { join } = await import('node:path')
    const { tmpdir } = await import('node:os')
    const dir = mkdtempSync(join(tmpdir(), 'spor-rules-'))
    const good = join(dir, 'rules.json')
    writeFileSync(good, JSON.stringify({ tenants: { beta: { spam_burst: { minMessages: 100 } } } }))
    expect(RuleBook.fromFile(good).for('beta').spam_burst.minMessages).toBe(100)
    expect(RuleBook.fromFile(good).for('acme').spam_burst.minMessages).toBe(20)
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, '{"rules": {"spam_burst": {"minMessages": -1}}}')
    expect(() => RuleBook.fromFile(bad)).toThrow(/bad\.json/)
    writeFileSync(bad, '{nope')
    expect(() => RuleBook.fromFile(bad)).toThrow(/bad\.json/)
  })
})
