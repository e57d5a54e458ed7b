import type { SporEvent } from '../core/event-schema.ts'
import { DEVICE_PROFILES, type DeviceProfile, IPS_BY_COUNTRY } from './devices.ts'
import { pick, seededRandom, weighted } from './random.ts'

/** Modules and their functions, as in a business SaaS product. */
export const MODULES: Readonly<Record<string, readonly string[]>> = {
  crm: ['contacts.search', 'contacts.view', 'contacts.edit', 'deals.view'],
  invoicing: ['invoice.create', 'invoice.send', 'invoice.view', 'reports.aging'],
  projects: ['tasks.view', 'tasks.update', 'timesheet.submit'],
  mail: ['campaign.edit', 'campaign.preview', 'lists.view'],
  admin: ['users.list', 'users.invite', 'settings.view'],
}

const COUNTRY_WEIGHTS = [
  ['NO', 55],
  ['SE', 15],
  ['DE', 8],
  ['GB', 8],
  ['US', 7],
  ['FI', 4],
  ['CA', 3],
] as const

export interface SimUser {
  tenant: string
  user: string
  username: string
  country: string
  ip: string
  devices: { profile: DeviceProfile; deviceId: string }[]
  /** Probability of being active on a given day. */
  activity: number
  favouriteModules: string[]
  admin: boolean
}

export interface TrafficOptions {
  seed: number
  tenants: string[]
  usersPerTenant: number
  /** Simulated days, ending with the day of `end`. */
  days: number
  end: Date
  /** Share of page views from anonymous visitors (no user id). */
  anonymousShare?: number
}

/** The simulated population: stable per seed, so tests can compute expected figures from it. */
export function simulatedUsers(
  options: Pick<TrafficOptions, 'seed' | 'tenants' | 'usersPerTenant'>,
): SimUser[] {
  const random = seededRandom(options.seed)
  const users: SimUser[] = []
  for (const tenant of options.tenants) {
    for (let i = 0; i < options.usersPerTenant; i++) {
      const country = weighted(random, COUNTRY_WEIGHTS)
      const moduleNames = Object.keys(MODULES)
      const deviceCount = random() < 0.35 ? 2 : 1
      users.push({
        tenant,
        user: `u${String(i).padStart(4, '0')}`,
        username: `user${i}@${tenant}.example`,
        country,
        ip: pick(random, IPS_BY_COUNTRY[country]!),
        devices: Array.from({ length: deviceCount }, (_, d) => ({
          profile: weighted(random, DEVICE_PROFILES),
          deviceId: `dev-${tenant}-${i}-${d}`,
        })),
        activity: weighted(random, [
          [0.9, 2],
          [0.5, 3],
          [0.15, 3],
          [0.03, 2],
        ]),
        favouriteModules: [pick(random, moduleNames), pick(random, moduleNames)],
        admin: i % 10 === 0,
      })
    }
  }
  return users
}

/**
 * Realistic usage over `days` days: working-hours sessions with a login (sometimes after a typo),
 * page views and feature use in favourite modules, the odd job or message, and a logout.
 * Events are yielded in time order per user and day; ids are unique and deterministic.
 */
export function* generateTraffic(options: TrafficOptions): Generator<SporEvent> {
  const random = seededRandom(options.seed ^ 0x5eed)
  const users = simulatedUsers(options)
  const endDay = Date.UTC(options.end.getUTCFullYear(), options.end.getUTCMonth(), options.end.getUTCDate())
  let seq = 0
  for (let day = options.days - 1; day >= 0; day--) {
    const dayStart = endDay - day * 86_400_000
    for (const u of users) {
      if (random() > u.activity) continue
      const { profile, deviceId } = pick(random, u.devices)
      const session = `s-${u.tenant}-${u.user}-${dayStart / 86_400_000}-${seq}`
      // Sessions start between 07:00 and 17:00 UTC on working days, and less often at weekends.
      const weekday = new Date(dayStart).getUTCDay()
      if ((weekday === 0 || weekday === 6) && random() < 0.7) continue
      let t = dayStart + (7 + random() * 10) * 3_600_000
      if (t > options.end.getTime()) continue
      const base = (type: string, extra: Partial<SporEvent> = {}): SporEvent => {
        t += 5_000 + random() * 120_000
        return {
          v: 1,
          id: `evt-${options.seed}-${seq++}`,
          type,
          ts: new Date(Math.min(t, options.end.getTime())).toISOString(),
          tenant: u.tenant,
          user: u.user,
          session,
          ip: u.ip,
          device: {
            ua: profile.ua,
            ...(profile.ch ? { ch: profile.ch } : {}),
            deviceId,
            screen: profile.screen,
            network: { type: profile.network },
          },
          ...extra,
        }
      }
      if (random() < 0.08) yield base('session.login_failed', { username: u.username })
      yield base('session.login', { username: u.username })
      const actions = 3 + Math.floor(random() * 12)
      for (let a = 0; a < actions; a++) {
        const module = random() < 0.75 ? pick(random, u.favouriteModules) : pick(random, Object.keys(MODULES))
        const fn = pick(random, MODULES[module]!)
        if (random() < 0.5) {
          yield base('page.view', { module, function: fn })
        } else {
          yield base('feature.use', {
            module,
            function: fn,
            object: {
              type: module === 'invoicing' ? 'invoice' : 'record',
              id: String(Math.floor(random() * 10_000)),
            },
          })
        }
      }
      if (random() < 0.1)
        yield base('job.start', {
          module: 'mail',
          function: 'campaign.send',
          props: { recipients: 50 + Math.floor(random() * 500) },
        })
      if (random() < 0.2)
        yield base('message.send', {
          module: 'mail',
          function: 'message.send',
          props: { recipients: 1 + Math.floor(random() * 3) },
        })
      if (u.admin && random() < 0.3)
        yield base('admin.user_invite', { module: 'admin', function: 'users.invite' })
      yield base('session.logout')
      if (random() < (options.anonymousShare ?? 0.1)) {
        const visitor = `anon-${seq}`
        yield {
          v: 1,
          id: `evt-${options.seed}-${seq++}`,
          type: 'page.view',
          ts: new Date(Math.min(t, options.end.getTime())).toISOString(),
          tenant: u.tenant,
          session: visitor,
          module: 'public',
          function: 'landing',
          ip: u.ip,
          device: { ua: profile.ua },
        }
      }
    }
  }
}
