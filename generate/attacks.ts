import type { SporEvent } from '../core/event-schema.ts'
import { DEVICE_PROFILES, type DeviceProfile } from './devices.ts'
import { seededRandom } from './random.ts'
import { generateTraffic } from './traffic.ts'

/**
 * Scripted misuse scenarios (one per detection rule) and scripted benign look-alikes (plane
 * travel, a shared office IP, a phone switching mobile IPs), deterministic per seed. Each attack
 * lists the alert it must raise and the exact evidence event ids, so tests, the demo and the
 * bench can check detection end to end. Addresses are ones the bundled geo database places
 * precisely (accuracy ≤ 50 km) unless a scenario needs otherwise.
 */
export interface ExpectedAlert {
  rule: string
  subject: { kind: string; value: string }
  evidence: string[]
  relatedUsers?: string[]
}

export interface Scenario {
  name: string
  events: SporEvent[]
  /** Empty for benign scenarios. */
  expect: ExpectedAlert[]
}

export interface ScenarioOptions {
  seed: number
  tenant: string
  /** Attacks happen in the two hours before `end`; histories reach back up to 12 days. */
  end: Date
}

const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR

const profile = (name: string): DeviceProfile => DEVICE_PROFILES.find(([p]) => p.name === name)![0]
const WINDOWS = profile('chrome-windows')
const IPHONE = profile('safari-iphone')
const ANDROID = profile('chrome-android')

export const PLACES = {
  oslo: '88.88.100.5', // Oslo, 5 km
  osloOffice: '88.88.100.9', // Oslo, a shared office exit
  harestua: '81.167.34.10', // 40 km north of Oslo, 200 km accuracy
  osloCoarse: '84.208.20.110', // Oslo, 500 km accuracy: too coarse to compare
  newJersey: '98.110.2.3', // Medford NJ, 50 km
  virginia: '73.12.4.5', // Chesterfield VA, 20 km
  texas: '145.224.2.3', // Amarillo TX, 5 km
  sprayer: '45.33.32.156', // Fremont CA hosting
  bruteForcer: '5.6.7.8',
  stuffingNet: '185.220.101', // a /24 of a hosting provider
} as const

class Script {
  readonly events: SporEvent[] = []
  #seq = 0
  constructor(
    readonly prefix: string,
    readonly tenant: string,
  ) {}

  add(ts: number, type: string, extra: Partial<SporEvent>): SporEvent {
    const event: SporEvent = {
      v: 1,
      id: `${this.prefix}-${this.#seq++}`,
      type,
      ts: new Date(ts).toISOString(),
      tenant: this.tenant,
      ...extra,
    }
    this.events.push(event)
    return event
  }

  login(ts: number, user: string, ip: string, device: DeviceProfile, session: string, ok = true): SporEvent {
    return this.add(ts, ok ? 'session.login' : 'session.login_failed', {
      user,
      username: `${user}@${this.tenant}.example`,
      session,
      ip,
      device: {
        ua: device.ua,
        ...(device.ch ? { ch: device.ch } : {}),
        deviceId: `dev-${user}-${device.name}`,
      },
    })
  }

  /** Daily logins (with logout) from Oslo on Windows over `days` days before `until`. */
  history(user: string, until: number, days: number): void {
    for (let d = days; d >= 1; d--) {
      const t = until - d * DAY
      this.login(t, user, PLACES.oslo, WINDOWS, `${user}-h${d}`)
      this.add(t + 30 * MIN, 'session.logout', { user, session: `${user}-h${d}`, ip: PLACES.oslo })
    }
  }
}

const ids = (events: SporEvent[]) => events.map((e) => e.id)

/** One scripted attack per rule; each expects exactly one alert. */
export function attackScenarios(options: ScenarioOptions): Scenario[] {
  const { seed, tenant } = options
  const random = seededRandom(seed ^ 0xa77ac)
  const t0 = options.end.getTime() - 2 * HOUR
  const jitter = () => Math.floor(random() * 5_000)
  const scenarios: Scenario[] = []
  const script = (name: string) => new Script(`atk-${seed}-${name}`, tenant)

  {
    const s = script('brute')
    const fails = Array.from({ length: 12 }, (_, i) =>
      s.login(t0 + i * 30_000 + jitter(), 'bf-victim', PLACES.bruteForcer, WINDOWS, `bf-${i}`, false),
    )
    scenarios.push({
      name: 'brute_force',
      events: s.events,
      expect: [
        {
          rule: 'brute_force',
          subject: { kind: 'account', value: `bf-victim@${tenant}.example` },
          evidence: ids(fails),
          relatedUsers: ['bf-victim'],
        },
      ],
    })
  }
  {
    const s = script('spray')
    const fails = Array.from({ length: 20 }, (_, i) =>
      s.login(t0 + i * 20_000 + jitter(), `spray-${i}`, PLACES.sprayer, WINDOWS, `sp-${i}`, false),
    )
    scenarios.push({
      name: 'password_spraying',
      events: s.events,
      expect: [
        { rule: 'password_spraying', subject: { kind: 'ip', value: PLACES.sprayer }, evidence: ids(fails) },
      ],
    })
  }
  {
    const s = script('stuff')
    // Leaked pairs: 30 accounts once each from five addresses of one /24; three pairs still work.
    const attempts = Array.from({ length: 30 }, (_, i) =>
      s.login(
        t0 + i * 15_000 + jitter(),
        `stuffed-${i}`,
        `${PLACES.stuffingNet}.${10 + (i % 5)}`,
        ANDROID,
        `st-${i}`,
        i % 10 === 2,
      ),
    )
    scenarios.push({
      name: 'credential_stuffing',
      events: s.events,
      expect: [
        {
          rule: 'credential_stuffing',
          subject: { kind: 'net', value: `${PLACES.stuffingNet}.0/24` },
          evidence: ids(attempts),
        },
      ],
    })
  }
  {
    const s = script('travel')
    const oslo = s.login(t0, 'traveller-x', PLACES.oslo, WINDOWS, 'tr-1')
    s.add(t0 + 20 * MIN, 'session.logout', { user: 'traveller-x', session: 'tr-1', ip: PLACES.oslo })
    const texas = s.login(t0 + 2 * HOUR - 10 * MIN, 'traveller-x', PLACES.texas, WINDOWS, 'tr-2')
    scenarios.push({
      name: 'impossible_travel',
      events: s.events,
      expect: [
        {
          rule: 'impossible_travel',
          subject: { kind: 'user', value: 'traveller-x' },
          evidence: ids([oslo, texas]),
        },
      ],
    })
  }
  {
    const s = script('country')
    s.history('nc-user', t0, 12)
    const us = s.login(t0 + HOUR, 'nc-user', PLACES.virginia, WINDOWS, 'nc-new')
    scenarios.push({
      name: 'new_country',
      events: s.events,
      expect: [{ rule: 'new_country', subject: { kind: 'user', value: 'nc-user' }, evidence: ids([us]) }],
    })
  }
  {
    const s = script('device')
    s.history('nd-user', t0, 12)
    const phone = s.login(t0 + HOUR, 'nd-user', PLACES.oslo, IPHONE, 'nd-new')
    scenarios.push({
      name: 'new_device',
      events: s.events,
      expect: [{ rule: 'new_device', subject: { kind: 'user', value: 'nd-user' }, evidence: ids([phone]) }],
    })
  }
  {
    const s = script('concurrent')
    const start = t0 - 9 * HOUR
    const first = s.login(start, 'cs-user', PLACES.oslo, WINDOWS, 'cs-1')
    let last = first
    for (const at of [3, 6, 8.8]) {
      last = s.add(start + at * HOUR, 'session.heartbeat', {
        user: 'cs-user',
        session: 'cs-1',
        ip: PLACES.oslo,
      })
    }
    const second = s.login(t0, 'cs-user', PLACES.newJersey, WINDOWS, 'cs-2')
    scenarios.push({
      name: 'concurrent_sessions',
      events: s.events,
      expect: [
        {
          rule: 'concurrent_sessions',
          subject: { kind: 'user', value: 'cs-user' },
          evidence: ids([first, last, second]),
        },
      ],
    })
  }
  {
    const s = script('spam')
    const sends = Array.from({ length: 30 }, (_, i) =>
      s.add(t0 + i * 10_000 + jitter(), 'message.send', {
        user: 'spammer',
        module: 'mail',
        function: 'message.send',
        ip: PLACES.oslo,
        props: { recipients: 5 },
      }),
    )
    scenarios.push({
      name: 'spam_burst',
      events: s.events,
      expect: [{ rule: 'spam_burst', subject: { kind: 'user', value: 'spammer' }, evidence: ids(sends) }],
    })
  }
  {
    const s = script('harass-target')
    const reports = ['rep-a', 'rep-b', 'rep-c', 'rep-d'].map((user, i) =>
      s.add(t0 + i * 20 * MIN, 'abuse.report', { user, object: { type: 'user', id: 'h-victim' } }),
    )
    scenarios.push({
      name: 'harassment_target',
      events: s.events,
      expect: [
        {
          rule: 'harassment_target',
          subject: { kind: 'target', value: 'user:h-victim' },
          evidence: ids(reports),
        },
      ],
    })
  }
  {
    const s = script('harass-actor')
    const reports = Array.from({ length: 6 }, (_, i) =>
      s.add(t0 + i * 4 * MIN, 'abuse.report', { user: 'troll', object: { type: 'user', id: `target-${i}` } }),
    )
    scenarios.push({
      name: 'harassment_actor',
      events: s.events,
      expect: [
        { rule: 'harassment_actor', subject: { kind: 'user', value: 'troll' }, evidence: ids(reports) },
      ],
    })
  }
  return scenarios
}

/** Benign look-alikes that a good detector must leave alone. */
export function benignScenarios(options: ScenarioOptions): Scenario[] {
  const { seed, tenant } = options
  const t0 = options.end.getTime() - 10 * HOUR
  const script = (name: string) => new Script(`ok-${seed}-${name}`, tenant)
  const out: Scenario[] = []
  {
    // Oslo → New York by plane: logged out, 8.5 h later logged in at the other end.
    const s = script('plane')
    s.login(t0, 'flyer', PLACES.oslo, WINDOWS, 'fl-1')
    s.add(t0 + 30 * MIN, 'session.logout', { user: 'flyer', session: 'fl-1', ip: PLACES.oslo })
    s.login(t0 + 9 * HOUR, 'flyer', PLACES.newJersey, WINDOWS, 'fl-2')
    out.push({ name: 'plane_travel', events: s.events, expect: [] })
  }
  {
    // 40 colleagues behind one office address, mostly successful, a few typos.
    const s = script('office')
    for (let i = 0; i < 40; i++) {
      const at = t0 + i * 45_000
      if (i % 12 === 0) s.login(at - 10_000, `office-${i}`, PLACES.osloOffice, WINDOWS, `of-${i}`, false)
      s.login(at, `office-${i}`, PLACES.osloOffice, WINDOWS, `of-${i}`)
    }
    out.push({ name: 'shared_office_ip', events: s.events, expect: [] })
  }
  {
    // A phone on the move: new mobile addresses every few minutes, all within the country.
    const s = script('mobile')
    const ips = [PLACES.oslo, PLACES.harestua, PLACES.osloCoarse, PLACES.oslo, PLACES.harestua]
    ips.forEach((ip, i) => {
      s.login(t0 + i * 7 * MIN, 'commuter', ip, ANDROID, `mb-${i}`)
      s.add(t0 + i * 7 * MIN + MIN, 'session.heartbeat', { user: 'commuter', session: `mb-${i}`, ip })
    })
    out.push({ name: 'mobile_ip_switching', events: s.events, expect: [] })
  }
  return out
}

/** A day of realistic traffic with the benign scenarios (and optionally attacks) mixed in, in time order. */
export function mixedTraffic(options: {
  seed: number
  tenants: string[]
  usersPerTenant: number
  end: Date
  attacks?: boolean
}): { events: SporEvent[]; scenarios: Scenario[] } {
  const tenant = options.tenants[0]!
  const scenarios = [
    ...benignScenarios({ seed: options.seed, tenant, end: options.end }),
    ...(options.attacks ? attackScenarios({ seed: options.seed, tenant, end: options.end }) : []),
  ]
  const events = [...generateTraffic({ ...options, days: 1 }), ...scenarios.flatMap((s) => s.events)].sort(
    (a, b) => Date.parse(a.ts) - Date.parse(b.ts),
  )
  return { events, scenarios }
}
