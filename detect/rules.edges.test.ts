import { describe, expect, it } from 'vitest'
import { distanceKm } from './findings.ts'
import { RuleBook, type RulesFileContent } from './rule-config.ts'
import {
  bruteForce,
  concurrentSessions,
  harassmentActor,
  harassmentTarget,
  impossibleTravel,
  newCountry,
  newDevice,
  retainMs,
  rulesFor,
  sourceAttack,
  spamBurst,
} from './rules.ts'
import type { SignalEvent } from './signal.ts'

/**
 * The rules at their edges: every threshold is inclusive, every window reaches back exactly its
 * length, the guards hold, and a finding carries the counts, evidence, times and text the analyst
 * reads. Thresholds are set through a rules file (as a tenant would) so the edges are exact.
 */
const T0 = Date.parse('2026-11-25T10:00:00Z')
const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR
const LOGIN = 'session.login'
const FAILED = 'session.login_failed'
const defaults = new RuleBook().for('acme')
const tuned = (rules: NonNullable<RulesFileContent['rules']>) => new RuleBook({ rules }).for('acme')

let seq = 0
const ev = (over: Partial<SignalEvent>): SignalEvent => ({
  id: `x${seq++}`,
  type: LOGIN,
  ts: T0,
  tenant: 'acme',
  ...over,
})
const ids = (es: SignalEvent[]) => es.map((e) => e.id)
const newest = (es: SignalEvent[]) => es[es.length - 1]!

const OSLO = { lat: 59.955, lon: 10.859, accKm: 5, country: 'NO' }
const BERGEN = { lat: 60.39, lon: 5.32, accKm: 10, country: 'NO' }
const NEW_YORK = { lat: 40.71, lon: -74.0, accKm: 20, country: 'US' }
const OSLO_NY_KM = distanceKm(OSLO, NEW_YORK)

describe('brute force', () => {
  // Ten failures, the first exactly 30 min before the last.
  const failures = (firstTs = T0) =>
    Array.from({ length: 10 }, (_, i) =>
      ev({
        type: FAILED,
        account: 'a',
        ip: `1.1.1.${i % 3}`,
        user: 'u1',
        ts: i === 0 ? firstTs : T0 + (i * 30 * MIN) / 9,
      }),
    )

  it('counts a failure exactly one window before the newest, not one a millisecond older', () => {
    const inside = failures()
    expect(bruteForce(inside, newest(inside), defaults)?.counts.failures).toBe(10)
    const outside = failures(T0 - 1)
    expect(bruteForce(outside, newest(outside), defaults)).toBeUndefined()
  })

  it('carries counts, evidence (failures only), related users, times, severity and text', () => {
    const fs = failures()
    const successes = [
      ev({ account: 'a', user: 'alice', ts: T0 + 5 * MIN }),
      ev({ account: 'a', user: 'bob', ts: T0 + 6 * MIN }),
    ]
    const entries = [...fs, ...successes].sort((x, y) => x.ts - y.ts)
    const current = { ...newest(fs), seenAt: 123 }
    entries[entries.length - 1] = current
    const found = bruteForce(entries, current, defaults)!
    expect(found).toMatchObject({
      rule: 'brute_force',
      severity: 'high',
      tenant: 'acme',
      subject: { kind: 'account', value: 'a' },
      counts: { failures: 10, successes: 2, sources: 3 },
      windowStart: T0,
      windowEnd: T0 + 30 * MIN,
      seenAt: 123,
      explanation: `10 failed logins on account a within 30 min (threshold 10): ${defaults.brute_force.explanation}`,
    })
    expect(found.relatedUsers.sort()).toEqual(['alice', 'bob', 'u1'])
    expect(found.evidence).toEqual(ids(fs))
  })

  it('ends the finding at the newest evidence when an older failure arrives last', () => {
    const fs = failures()
    const found = bruteForce(fs, fs[0]!, defaults)!
    expect([found.windowStart, found.windowEnd]).toEqual([T0, T0 + 30 * MIN])
  })

  it('fires only on a failed login of a named account, and only while enabled', () => {
    const fs = failures()
    const success = ev({ account: 'a', ts: T0 + 30 * MIN })
    expect(bruteForce([...fs, success], success, defaults)).toBeUndefined()
    const anonymous = ev({ type: FAILED, ts: T0 + 30 * MIN })
    expect(bruteForce([...fs, anonymous], anonymous, defaults)).toBeUndefined()
    expect(bruteForce(fs, newest(fs), tuned({ brute_force: { enabled: false } }))).toBeUndefined()
  })

  it('uses the tenant threshold and window, and says so', () => {
    const s = tuned({ brute_force: { minFailures: 3, windowMs: 5 * MIN } })
    const fs = [0, 2, 5].map((m) => ev({ type: FAILED, account: 'a', ts: T0 + m * MIN }))
    expect(bruteForce(fs, newest(fs), s)?.explanation).toMatch(
      /^3 failed logins on account a within 5 min \(threshold 3\)/,
    )
    expect(bruteForce(fs.slice(1), newest(fs), s)).toBeUndefined()
  })
})

describe('credential stuffing', () => {
  const rules = {
    credential_stuffing: {
      minAccounts: 3,
      minAttempts: 5,
      minSuccesses: 2,
      maxSuccessRatio: 0.4,
      windowMs: 10 * MIN,
    },
    password_spraying: { enabled: false },
  }
  // 3 accounts, 5 attempts, 2 successes, ratio 0.4: every threshold met exactly.
  const attempts = (ips = ['9.9.9.9']) =>
    [
      [FAILED, 'a0'],
      [FAILED, 'a1'],
      [FAILED, 'a2'],
      [LOGIN, 'a0'],
      [LOGIN, 'a1'],
    ].map(([type, account], i) =>
      ev({ type, account, user: `u-${account}`, ip: ips[i % ips.length], ts: T0 + i * MIN }),
    )

  it('fires with every threshold met exactly, carrying the whole window as evidence', () => {
    const es = attempts()
    const found = sourceAttack('ip', '9.9.9.9')(es, newest(es), tuned(rules))!
    expect(found).toMatchObject({
      rule: 'credential_stuffing',
      severity: 'high',
      subject: { kind: 'ip', value: '9.9.9.9' },
      counts: { attempts: 5, successes: 2, accounts: 3, addresses: 1 },
      windowStart: T0,
      windowEnd: T0 + 4 * MIN,
      explanation: `3 accounts tried 5 times from 9.9.9.9, 2 succeeded (40 %): ${defaults.credential_stuffing.explanation}`,
    })
    expect(found.evidence).toEqual(ids(es))
    expect(found.relatedUsers.sort()).toEqual(['u-a0', 'u-a1', 'u-a2'])
  })

  it.each([
    ['minAccounts', 4],
    ['minAttempts', 6],
    ['minSuccesses', 3],
    ['maxSuccessRatio', 0.39],
    ['enabled', false],
  ])('is silent when %s is %s', (setting, value) => {
    const es = attempts()
    const s = tuned({ ...rules, credential_stuffing: { ...rules.credential_stuffing, [setting]: value } })
    expect(sourceAttack('ip', '9.9.9.9')(es, newest(es), s)).toBeUndefined()
  })

  it('needs several addresses of a /24, names the /24', () => {
    const one = attempts()
    expect(sourceAttack('net', '9.9.9.0')(one, newest(one), tuned(rules))).toBeUndefined()
    const two = attempts(['9.9.9.1', '9.9.9.2'])
    const found = sourceAttack('net', '9.9.9.0')(two, newest(two), tuned(rules))
    expect(found).toMatchObject({ subject: { kind: 'net', value: '9.9.9.0/24' }, counts: { addresses: 2 } })
    expect(found?.explanation).toContain('from 9.9.9.0/24,')
  })

  it('wins over spraying when both hold; spraying reports when stuffing is off', () => {
    const both = {
      credential_stuffing: { ...rules.credential_stuffing, maxSuccessRatio: 1, minSuccesses: 0 },
      password_spraying: { minAccounts: 3, minFailures: 3, maxSuccessRatio: 1 },
    }
    const es = attempts()
    const current = ev({ type: FAILED, account: 'a2', ip: '9.9.9.9', ts: T0 + 5 * MIN })
    const all = [...es, current]
    expect(sourceAttack('ip', '9.9.9.9')(all, current, tuned(both))?.rule).toBe('credential_stuffing')
    const off = { ...both, credential_stuffing: { enabled: false } }
    expect(sourceAttack('ip', '9.9.9.9')(all, current, tuned(off))?.rule).toBe('password_spraying')
  })

  it('looks only at logins: another event type on the source raises nothing', () => {
    const s = tuned({ ...rules, credential_stuffing: { ...rules.credential_stuffing, maxSuccessRatio: 1 } })
    const other = ev({ type: 'session.heartbeat', ip: '9.9.9.9', ts: T0 + 5 * MIN })
    const es = [...attempts(), other]
    expect(sourceAttack('ip', '9.9.9.9')(es, other, s)).toBeUndefined()
  })
})

describe('password spraying', () => {
  const rules = {
    password_spraying: { minAccounts: 3, minFailures: 4, maxSuccessRatio: 0.2, windowMs: 10 * MIN },
    credential_stuffing: { enabled: false, windowMs: 10 * MIN },
  }
  // One success, then 4 failures on 3 accounts: ratio 1/5 = 0.2, every threshold met exactly.
  const attempts = () => [
    ev({ account: 'ok', user: 'u-ok', ip: '9.9.9.9', ts: T0 }),
    ...['a0', 'a1', 'a2', 'a0'].map((account, i) =>
      ev({ type: FAILED, account, user: `u-${account}`, ip: '9.9.9.9', ts: T0 + (i + 1) * MIN }),
    ),
  ]

  it('fires with every threshold met exactly; evidence is the failures, related users the whole window', () => {
    const es = attempts()
    const found = sourceAttack('ip', '9.9.9.9')(es, newest(es), tuned(rules))!
    expect(found).toMatchObject({
      rule: 'password_spraying',
      severity: 'high',
      subject: { kind: 'ip', value: '9.9.9.9' },
      counts: { failures: 4, accounts: 3, successes: 1, addresses: 1 },
      windowStart: T0 + MIN,
      windowEnd: T0 + 4 * MIN,
      explanation: `4 failed logins against 3 accounts from 9.9.9.9: ${defaults.password_spraying.explanation}`,
    })
    expect(found.evidence).toEqual(ids(es.slice(1)))
    expect(found.relatedUsers.sort()).toEqual(['u-a0', 'u-a1', 'u-a2', 'u-ok'])
  })

  it.each([
    // 4 accounts took part, but only 3 of them failed.
    ['minAccounts', 4],
    ['minFailures', 5],
    ['maxSuccessRatio', 0.19],
    ['enabled', false],
  ])('is silent when %s is %s', (setting, value) => {
    const es = attempts()
    const s = tuned({ ...rules, password_spraying: { ...rules.password_spraying, [setting]: value } })
    expect(sourceAttack('ip', '9.9.9.9')(es, newest(es), s)).toBeUndefined()
  })

  it('is raised by a failure, not by a successful login', () => {
    const es = attempts()
    const success = ev({ account: 'a3', ip: '9.9.9.9', ts: T0 + 4 * MIN })
    const s = tuned({ ...rules, password_spraying: { ...rules.password_spraying, maxSuccessRatio: 1 } })
    expect(sourceAttack('ip', '9.9.9.9')([...es, success], success, s)).toBeUndefined()
  })

  it('on a /24 needs exactly minNetAddresses addresses', () => {
    const spread = (n: number) => attempts().map((e, i) => ({ ...e, ip: `9.9.9.${i % n}` }))
    const two = spread(2)
    expect(sourceAttack('net', '9.9.9.0')(two, newest(two), tuned(rules))?.counts.addresses).toBe(2)
    const one = spread(1)
    expect(sourceAttack('net', '9.9.9.0')(one, newest(one), tuned(rules))).toBeUndefined()
  })

  it('reads the longer of the two windows back from the newest event, to the millisecond', () => {
    const s = tuned({
      password_spraying: { minAccounts: 3, minFailures: 4, maxSuccessRatio: 0, windowMs: 20 * MIN },
      credential_stuffing: { enabled: false, windowMs: 10 * MIN },
    })
    const spread = (first: number) =>
      [first, T0 + 5 * MIN, T0 + 15 * MIN, T0 + 20 * MIN].map((ts, i) =>
        ev({ type: FAILED, account: `a${i}`, ip: '9.9.9.9', ts }),
      )
    const inside = spread(T0)
    expect(sourceAttack('ip', '9.9.9.9')(inside, newest(inside), s)?.counts.failures).toBe(4)
    const outside = spread(T0 - 1)
    expect(sourceAttack('ip', '9.9.9.9')(outside, newest(outside), s)).toBeUndefined()
  })

  it('counts its own (shorter) window back from the newest event, also when a late event triggers', () => {
    const s = tuned({
      password_spraying: { minAccounts: 3, minFailures: 4, maxSuccessRatio: 0, windowMs: 10 * MIN },
      credential_stuffing: { enabled: false, windowMs: 30 * MIN },
    })
    const es = [5, 12, 14, 20].map((m, i) =>
      ev({ type: FAILED, account: `a${i}`, ip: '9.9.9.9', ts: T0 + m * MIN }),
    )
    // Within 10 min of the newest (T0+20) are three failures: not enough, whichever arrives last.
    expect(sourceAttack('ip', '9.9.9.9')(es, newest(es), s)).toBeUndefined()
    expect(sourceAttack('ip', '9.9.9.9')(es, es[1]!, s)).toBeUndefined()
  })
})

describe('impossible travel', () => {
  const trip = (minutes: number, from = OSLO, to = NEW_YORK) => [
    ev({ user: 'u', ...from }),
    ev({ user: 'u', ...to, ts: T0 + minutes * MIN }),
  ]

  it('carries distance, speed, minutes, both logins and the countries', () => {
    const es = trip(60)
    const found = impossibleTravel(es, newest(es), defaults)!
    const km = Math.round(OSLO_NY_KM)
    expect(found).toMatchObject({
      rule: 'impossible_travel',
      severity: 'high',
      subject: { kind: 'user', value: 'u' },
      relatedUsers: ['u'],
      counts: { distance_km: km, speed_kmh: km, minutes: 60 },
      windowStart: T0,
      windowEnd: T0 + HOUR,
      explanation: `logins ${km} km apart (NO → US) within 60 min, ${km} km/h (limit 900): ${defaults.impossible_travel.explanation}`,
    })
    expect(found.evidence).toEqual(ids(es))
  })

  it('writes ? for an unknown country', () => {
    const es = trip(
      60,
      { ...OSLO, country: undefined } as never,
      { ...NEW_YORK, country: undefined } as never,
    )
    expect(impossibleTravel(es, newest(es), defaults)?.explanation).toContain('(? → ?)')
  })

  it('treats logins less than a minute apart as one minute apart', () => {
    const es = [ev({ user: 'u', ...OSLO }), ev({ user: 'u', ...NEW_YORK, ts: T0 + 30_000 })]
    expect(impossibleTravel(es, newest(es), defaults)?.counts).toMatchObject({
      minutes: 1,
      speed_kmh: Math.round(OSLO_NY_KM * 60),
    })
  })

  it('compares with a login in the same millisecond', () => {
    const es = [ev({ user: 'u', ...OSLO }), ev({ user: 'u', ...NEW_YORK })]
    expect(impossibleTravel(es, newest(es), defaults)?.counts.minutes).toBe(1)
  })

  it('fires at exactly the distance and speed limits, not above them', () => {
    const es = trip(60)
    const at = tuned({ impossible_travel: { minDistanceKm: OSLO_NY_KM, minSpeedKmh: OSLO_NY_KM } })
    expect(impossibleTravel(es, newest(es), at)).toBeDefined()
    const farther = tuned({ impossible_travel: { minDistanceKm: OSLO_NY_KM + 0.01, minSpeedKmh: 1 } })
    expect(impossibleTravel(es, newest(es), farther)).toBeUndefined()
    const faster = tuned({ impossible_travel: { minDistanceKm: 1, minSpeedKmh: OSLO_NY_KM + 0.01 } })
    expect(impossibleTravel(es, newest(es), faster)).toBeUndefined()
  })

  it('compares with a login exactly one window back, not a millisecond older', () => {
    const s = tuned({ impossible_travel: { minSpeedKmh: 100, windowMs: 24 * HOUR } })
    const es = trip(24 * 60)
    expect(impossibleTravel(es, newest(es), s)).toBeDefined()
    const older = [{ ...es[0]!, ts: T0 - 1 }, es[1]!]
    expect(impossibleTravel(older, newest(older), s)).toBeUndefined()
  })

  it('compares with the latest earlier successful login only', () => {
    // Bergen is the last place before New York; Oslo before it is not compared.
    const es = [
      ev({ user: 'u', ...OSLO }),
      ev({ user: 'u', ...BERGEN, ts: T0 + 50 * MIN }),
      ev({ user: 'u', ...NEW_YORK, ts: T0 + HOUR }),
    ]
    expect(impossibleTravel(es, newest(es), defaults)?.evidence).toEqual(ids(es.slice(1)))
    const failedBefore = [
      ev({ user: 'u', type: FAILED, ...OSLO }),
      ev({ user: 'u', ...NEW_YORK, ts: T0 + HOUR }),
    ]
    expect(impossibleTravel(failedBefore, newest(failedBefore), defaults)).toBeUndefined()
    // A later login that arrived first is not "before" the current one.
    const late = trip(60)
    expect(impossibleTravel(late, late[0]!, defaults)).toBeUndefined()
  })

  it.each([
    ['accuracy at the limit', { accKm: 500 }],
    ['no latitude', { lat: undefined }],
    ['no longitude', { lon: undefined }],
    ['no accuracy', { accKm: undefined }],
  ])('never compares a place with %s', (_name, place) => {
    const currentUnplaced = [
      ev({ user: 'u', ...OSLO }),
      ev({ user: 'u', ...NEW_YORK, ...place, ts: T0 + HOUR }),
    ]
    expect(impossibleTravel(currentUnplaced, newest(currentUnplaced), defaults)).toBeUndefined()
    const previousUnplaced = [
      ev({ user: 'u', ...OSLO, ...place }),
      ev({ user: 'u', ...NEW_YORK, ts: T0 + HOUR }),
    ]
    expect(impossibleTravel(previousUnplaced, newest(previousUnplaced), defaults)).toBeUndefined()
  })

  it('needs a user, and is silent when disabled', () => {
    const es = [ev({ user: 'u', ...OSLO }), ev({ ...NEW_YORK, ts: T0 + HOUR })]
    expect(impossibleTravel(es, newest(es), defaults)).toBeUndefined()
    const trip1 = trip(60)
    expect(
      impossibleTravel(trip1, newest(trip1), tuned({ impossible_travel: { enabled: false } })),
    ).toBeUndefined()
  })
})

describe('new country and new device', () => {
  const s = tuned({
    new_country: { minLogins: 3, minHistoryMs: 2 * DAY, historyMs: 10 * DAY },
    new_device: { minLogins: 3, minHistoryMs: 2 * DAY, historyMs: 10 * DAY },
  })
  const now = T0 + 20 * DAY
  const past = (daysAgo: number[], over: Partial<SignalEvent> = {}) =>
    daysAgo.map((d) =>
      ev({ user: 'u', ...OSLO, family: 'Windows/desktop', ts: now - Math.round(d * DAY), ...over }),
    )
  const login = (over: Partial<SignalEvent>) =>
    ev({ user: 'u', ...OSLO, family: 'Windows/desktop', ts: now, ...over })
  const run = (es: SignalEvent[], rule = newCountry, settings = s) => rule(es, newest(es), settings)

  it('reports a new country with the history it was compared with', () => {
    const es = [...past([10, 5, 2]), login({ ...NEW_YORK })]
    const found = run(es)!
    expect(found).toMatchObject({
      rule: 'new_country',
      severity: 'low',
      subject: { kind: 'user', value: 'u' },
      relatedUsers: ['u'],
      counts: { history_logins: 3, known_values: 1 },
      evidence: [newest(es).id],
      windowStart: now,
      windowEnd: now,
      explanation: `login with country US, not among NO in 3 logins over 10 days: ${defaults.new_country.explanation}`,
    })
  })

  it('reports a new device family', () => {
    const es = [...past([10, 5, 2]), login({ family: 'iOS/mobile' })]
    expect(run(es, newDevice)?.explanation).toBe(
      `login with device family iOS/mobile, not among Windows/desktop in 3 logins over 10 days: ${defaults.new_device.explanation}`,
    )
    expect(run(es, newCountry)).toBeUndefined()
  })

  it('lists every known value', () => {
    const es = [...past([9, 5]), ...past([3], { country: 'SE' }), login({ ...NEW_YORK })]
    expect(run(es)).toMatchObject({ counts: { known_values: 2 } })
    expect(run(es)?.explanation).toContain('not among NO, SE in 3 logins')
  })

  it('says "none" when no earlier login had a known value', () => {
    const es = [...past([5, 4, 3], { country: undefined }), login({ ...NEW_YORK })]
    expect(run(es)).toMatchObject({ counts: { known_values: 0 } })
    expect(run(es)?.explanation).toContain('not among none in 3 logins')
  })

  it('learns for exactly minLogins logins and minHistoryMs', () => {
    expect(run([...past([2, 1, 0.5]), login({ ...NEW_YORK })])).toBeDefined()
    expect(run([...past([2, 1]), login({ ...NEW_YORK })])).toBeUndefined()
    expect(run([...past([2 - 1 / DAY, 1, 0.5]), login({ ...NEW_YORK })])).toBeUndefined()
  })

  it('keeps history for exactly historyMs', () => {
    expect(run([...past([10, 5, 3]), login({ ...NEW_YORK })])?.counts.history_logins).toBe(3)
    expect(run([...past([10 + 1 / DAY, 5, 3]), login({ ...NEW_YORK })])).toBeUndefined()
  })

  it('knows a value seen in any earlier login', () => {
    const es = [...past([9, 5]), ...past([3], { ...NEW_YORK }), login({ ...NEW_YORK })]
    expect(run(es)).toBeUndefined()
  })

  it('learns only from earlier successful logins', () => {
    const failed = [...past([9, 5]), ...past([3], { type: FAILED }), login({ ...NEW_YORK })]
    expect(run(failed)).toBeUndefined()
    // A login in the same millisecond, or later, is not history: it cannot make US known.
    const same = [...past([9, 5, 3]), login({ ...NEW_YORK }), login({ ...NEW_YORK })]
    expect(run(same)?.counts.history_logins).toBe(3)
    const later = [...past([9, 5, 3]), login({ ...NEW_YORK }), login({ ...NEW_YORK, ts: now + 1 })]
    expect(newCountry(later, later[3]!, s)?.counts.history_logins).toBe(3)
  })

  it('needs a successful login of a user with a value, and is silent when disabled', () => {
    const history = past([9, 5, 3])
    expect(run([...history, login({ ...NEW_YORK, type: FAILED })])).toBeUndefined()
    expect(run([...history, login({ ...NEW_YORK, user: undefined })])).toBeUndefined()
    expect(run([...history, login({ ...NEW_YORK, country: undefined })])).toBeUndefined()
    expect(run([...history, login({ family: undefined })], newDevice)).toBeUndefined()
    const off = tuned({ new_country: { enabled: false, minLogins: 3, minHistoryMs: 0 } })
    expect(run([...history, login({ ...NEW_YORK })], newCountry, off)).toBeUndefined()
  })
})

describe('concurrent sessions', () => {
  const other = (over: Partial<SignalEvent>) => ev({ user: 'u', session: 's1', ...OSLO, ...over })
  const current = (over: Partial<SignalEvent> = {}) =>
    ev({ user: 'u', session: 's2', ...NEW_YORK, ts: T0 + 30 * MIN, ...over })
  const run = (es: SignalEvent[], settings = defaults) => concurrentSessions(es, newest(es), settings)

  it('carries distance, both sessions and the countries', () => {
    const es = [other({}), other({ type: 'session.heartbeat', ts: T0 + 10 * MIN }), current()]
    const found = run(es)!
    const km = Math.round(OSLO_NY_KM)
    expect(found).toMatchObject({
      rule: 'concurrent_sessions',
      severity: 'medium',
      subject: { kind: 'user', value: 'u' },
      relatedUsers: ['u'],
      counts: { distance_km: km, active_sessions: 2 },
      windowStart: T0,
      windowEnd: T0 + 30 * MIN,
      explanation: `new session from US while a session from NO ${km} km away is still active: ${defaults.concurrent_sessions.explanation}`,
    })
    expect(found.evidence).toEqual(ids(es))
  })

  it('counts a session idle for exactly sessionIdleMs as active, not a millisecond more', () => {
    const es = [other({}), current()]
    expect(run(es)?.evidence).toEqual(ids(es))
    expect(run([other({}), current({ ts: T0 + 30 * MIN + 1 })])).toBeUndefined()
  })

  it('ignores events after the new login (they arrived first) and before its window', () => {
    const later = [
      other({ ts: T0 - 2 * HOUR }),
      current({ ts: T0 }),
      other({ type: 'session.heartbeat', ts: T0 + MIN }),
    ]
    expect(concurrentSessions(later, later[1]!, defaults)).toBeUndefined()
    const heartbeat = other({ type: 'session.heartbeat', ts: T0 + 30 * HOUR - 10 * MIN })
    const atEdge = [other({ ts: T0 + 6 * HOUR }), heartbeat, current({ ts: T0 + 30 * HOUR })]
    expect(run(atEdge)).toBeDefined()
    const beyond = [other({ ts: T0 + 6 * HOUR - 1 }), heartbeat, current({ ts: T0 + 30 * HOUR })]
    expect(run(beyond)).toBeUndefined()
  })

  it('does not count a session that logged out, however recently', () => {
    const es = [
      other({}),
      other({ type: 'session.logout', ts: T0 + 10 * MIN }),
      current({ ts: T0 + 20 * MIN }),
    ]
    expect(run(es)).toBeUndefined()
  })

  it('compares with a session that started in the same millisecond', () => {
    expect(run([other({}), current({ ts: T0 })])).toBeDefined()
  })

  it('writes ? for unknown countries', () => {
    const es = [other({ country: undefined }), current({ country: undefined })]
    expect(run(es)?.explanation).toMatch(/^new session from \? while a session from \? \d+ km away/)
  })

  it('does not compare a session with itself or with events that have no session', () => {
    expect(run([other({}), current({ session: 's1' })])).toBeUndefined()
    expect(run([other({ session: undefined }), current()])).toBeUndefined()
  })

  it('needs a located login in the other session and a located new login', () => {
    expect(run([other({ accKm: 500 }), current()])).toBeUndefined()
    expect(run([other({}), current({ accKm: 500 })])).toBeUndefined()
  })

  it('fires at exactly minDistanceKm, not below', () => {
    const es = [other({}), current()]
    expect(run(es, tuned({ concurrent_sessions: { minDistanceKm: OSLO_NY_KM } }))).toBeDefined()
    expect(run(es, tuned({ concurrent_sessions: { minDistanceKm: OSLO_NY_KM + 0.01 } }))).toBeUndefined()
  })

  it('needs a successful login with user and session, and is silent when disabled', () => {
    expect(run([other({}), current({ type: 'session.heartbeat' })])).toBeUndefined()
    expect(run([other({}), current({ user: undefined })])).toBeUndefined()
    expect(run([other({}), current({ session: undefined })])).toBeUndefined()
    expect(run([other({}), current()], tuned({ concurrent_sessions: { enabled: false } }))).toBeUndefined()
  })
})

describe('spam burst', () => {
  const send = (user: string, ts: number, recipients?: number) =>
    ev({ type: 'message.send', user, ts, ...(recipients === undefined ? {} : { recipients }) })
  const run = (es: SignalEvent[], settings: ReturnType<typeof tuned>) => spamBurst(es, newest(es), settings)

  describe('without a baseline: the minimums', () => {
    const s = tuned({
      spam_burst: { windowMs: 10 * MIN, baselineMs: 20 * MIN, minMessages: 3, minRecipients: 100 },
    })

    it('fires at exactly minMessages sends, a send without a count being one recipient', () => {
      const es = [send('u', T0 - 10 * MIN), send('u', T0 - 5 * MIN), send('u', T0)]
      const found = run(es, s)!
      expect(found).toMatchObject({
        rule: 'spam_burst',
        severity: 'medium',
        subject: { kind: 'user', value: 'u' },
        relatedUsers: ['u'],
        counts: { messages: 3, recipients: 3, limit_messages: 3, limit_recipients: 100 },
        evidence: ids(es),
        windowStart: T0 - 10 * MIN,
        windowEnd: T0,
        explanation: `3 sends to 3 recipients in 10 min (limits 3 sends / 100 recipients): ${defaults.spam_burst.explanation}`,
      })
    })

    it('counts the window back from the triggering send, to the millisecond, for this user only', () => {
      expect(run([send('u', T0 - 10 * MIN - 1), send('u', T0 - 5 * MIN), send('u', T0)], s)).toBeUndefined()
      expect(run([send('v', T0 - 5 * MIN), send('v', T0 - MIN), send('u', T0)], s)).toBeUndefined()
      const later = [send('u', T0 - 5 * MIN), send('u', T0), send('u', T0 + MIN)]
      expect(spamBurst(later, later[1]!, s)).toBeUndefined()
    })

    it('fires at exactly minRecipients', () => {
      expect(run([send('u', T0, 100)], s)?.counts).toMatchObject({ messages: 1, recipients: 100 })
      expect(run([send('u', T0, 99)], s)).toBeUndefined()
    })

    it('needs a user, and is silent when disabled', () => {
      const es = [send('u', T0 - 5 * MIN), send('u', T0 - MIN)]
      expect(run([...es, ev({ type: 'message.send', ts: T0 })], s)).toBeUndefined()
      const off = tuned({ spam_burst: { enabled: false, minMessages: 1 } })
      expect(run([send('u', T0, 5000)], off)).toBeUndefined()
    })
  })

  describe('against the baseline', () => {
    // Baseline [T0-30, T0-10) in 20 min, scaled to the 10-min window by 1/2; factor 4.
    // u: 3 sends, 3 recipients → 4·3·½ = 6 sends and 6 recipients.
    // tenant: 4 sends, 12 recipients, 2 users → 4·4·½/2 = 4 sends, 4·12·½/2 = 12 recipients.
    const s = tuned({
      spam_burst: {
        windowMs: 10 * MIN,
        baselineMs: 30 * MIN,
        minMessages: 1,
        minRecipients: 1,
        rateFactor: 4,
      },
    })
    const baseline = [
      send('u', T0 - 30 * MIN - 1, 50), // before the baseline: ignored
      send('u', T0 - 30 * MIN),
      send('v', T0 - 25 * MIN, 9),
      send('u', T0 - 20 * MIN),
      send('u', T0 - 10 * MIN - 1),
    ]
    const burst = (n: number) => Array.from({ length: n }, (_, i) => send('u', T0 - (n - 1 - i) * MIN))

    it("fires at the user's scaled rate, with the tenant's recipient rate as the recipient limit", () => {
      const sends = burst(6)
      const found = run([...baseline, ...sends], s)!
      expect(found.counts).toEqual({ messages: 6, recipients: 6, limit_messages: 6, limit_recipients: 12 })
      expect(found.evidence).toEqual(ids(sends))
    })

    it("is silent below the user's scaled rate", () => {
      expect(run([...baseline, ...burst(5)], s)).toBeUndefined()
    })

    it('does not scale a baseline shorter than two windows up', () => {
      const short = tuned({
        spam_burst: {
          windowMs: 10 * MIN,
          baselineMs: 15 * MIN,
          minMessages: 1,
          minRecipients: 1,
          rateFactor: 4,
        },
      })
      // u: 3 sends in [T0-15, T0-10) → 4·3·1 = 12 as the limit, not 24.
      const es = [0, 1, 2].map((i) => send('u', T0 - 15 * MIN + i * MIN))
      const found = run([...es, send('u', T0, 1000)], short)!
      expect(found.counts).toMatchObject({ limit_messages: 12, limit_recipients: 12 })
    })
  })
})

describe('harassment', () => {
  const report = (user: string | undefined, target: string | undefined, ts = T0) =>
    ev({ type: 'abuse.report', user, target, ts })

  it('target: counts reports and reporters over exactly one window, the target user first', () => {
    const es = [
      report('a', 'user:v', T0 - DAY),
      report('b', 'user:v'),
      report('b', 'user:v'),
      report('c', 'user:v'),
    ]
    const found = harassmentTarget(es, newest(es), defaults)!
    expect(found).toMatchObject({
      rule: 'harassment_target',
      severity: 'medium',
      subject: { kind: 'target', value: 'user:v' },
      relatedUsers: ['v', 'a', 'b', 'c'],
      counts: { reports: 4, reporters: 3 },
      evidence: ids(es),
      windowStart: T0 - DAY,
      explanation: `4 abuse reports from 3 people against user:v: ${defaults.harassment_target.explanation}`,
    })
    const older = [{ ...es[0]!, ts: T0 - DAY - 1 }, ...es.slice(1)]
    expect(harassmentTarget(older, newest(older), defaults)).toBeUndefined()
  })

  it('target: only a user target is a related user', () => {
    const es = [report('a', 'post:user:9'), report('b', 'post:user:9'), report('c', 'post:user:9')]
    expect(harassmentTarget(es, newest(es), defaults)?.relatedUsers).toEqual(['a', 'b', 'c'])
  })

  it('target: needs an abuse report with a target, and is silent when disabled', () => {
    const es = [report('a', 'user:v'), report('b', 'user:v')]
    const withCurrent = (c: SignalEvent) => harassmentTarget([...es, c], c, defaults)
    expect(withCurrent(report('c', undefined))).toBeUndefined()
    expect(withCurrent(ev({ type: 'message.send', user: 'c', target: 'user:v' }))).toBeUndefined()
    const three = [...es, report('c', 'user:v')]
    expect(
      harassmentTarget(three, newest(three), tuned({ harassment_target: { enabled: false } })),
    ).toBeUndefined()
  })

  it('actor: counts reports and distinct targets over exactly one window', () => {
    const targets = ['user:v', 'user:w', 'post:1', 'user:v', 'user:w']
    const es = targets.map((t, i) => report('a', t, T0 - HOUR + i * 15 * MIN))
    const found = harassmentActor(es, newest(es), defaults)!
    expect(found).toMatchObject({
      rule: 'harassment_actor',
      severity: 'medium',
      subject: { kind: 'user', value: 'a' },
      relatedUsers: ['a', 'v', 'w'],
      counts: { reports: 5, targets: 3 },
      evidence: ids(es),
      explanation: `a filed 5 abuse reports on 3 targets within 60 min: ${defaults.harassment_actor.explanation}`,
    })
    const older = [{ ...es[0]!, ts: T0 - HOUR - 1 }, ...es.slice(1)]
    expect(harassmentActor(older, newest(older), defaults)).toBeUndefined()
  })

  it('actor: needs an abuse report with a reporter, and is silent when disabled', () => {
    const es = Array.from({ length: 4 }, (_, i) => report('a', `user:t${i}`, T0 + i))
    const withCurrent = (c: SignalEvent) => harassmentActor([...es, c], c, defaults)
    expect(withCurrent(report(undefined, 'user:t9', T0 + 10))).toBeUndefined()
    expect(
      withCurrent(ev({ type: 'message.send', user: 'a', target: 'user:t9', ts: T0 + 10 })),
    ).toBeUndefined()
    const five = [...es, report('a', 'user:t9', T0 + 10)]
    expect(
      harassmentActor(five, newest(five), tuned({ harassment_actor: { enabled: false } })),
    ).toBeUndefined()
  })
})

describe('rules per stream and retention', () => {
  it('runs each rule on its stream', () => {
    expect(rulesFor('account', 'a')).toEqual([bruteForce])
    expect(rulesFor('user', 'u')).toEqual([impossibleTravel, newCountry, newDevice, concurrentSessions])
    expect(rulesFor('tenant', 'acme')).toEqual([spamBurst])
    expect(rulesFor('target', 'user:v')).toEqual([harassmentTarget])
    expect(rulesFor('actor', 'a')).toEqual([harassmentActor])
    const spray = Array.from({ length: 15 }, (_, i) =>
      ev({ type: FAILED, account: `a${i}`, ip: `9.9.9.${i}`, ts: T0 + i * 1000 }),
    )
    for (const [kind, key, subject] of [
      ['ip', '9.9.9.9', '9.9.9.9'],
      ['net', '9.9.9.0', '9.9.9.0/24'],
    ] as const) {
      const rules = rulesFor(kind, key)
      expect(rules).toHaveLength(1)
      expect(rules[0]!(spray, newest(spray), defaults)?.subject).toEqual({ kind, value: subject })
    }
  })

  it("keeps a key's events for the longest window of the rules on its stream", () => {
    const s = tuned({
      brute_force: { windowMs: 1 * MIN },
      password_spraying: { windowMs: 2 * MIN },
      credential_stuffing: { windowMs: 3 * MIN },
      impossible_travel: { windowMs: 4 * MIN },
      new_country: { historyMs: 7 * MIN },
      new_device: { historyMs: 6 * MIN },
      concurrent_sessions: { windowMs: 5 * MIN },
      spam_burst: { windowMs: 1 * MIN, baselineMs: 8 * MIN },
      harassment_target: { windowMs: 9 * MIN },
      harassment_actor: { windowMs: 10 * MIN },
    })
    expect(
      (['account', 'ip', 'net', 'user', 'tenant', 'target', 'actor'] as const).map(
        (k) => retainMs(k, s) / MIN,
      ),
    ).toEqual([1, 3, 3, 7, 8, 9, 10])
  })
})
