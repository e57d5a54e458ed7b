import { distanceKm, distinct, type Finding } from './findings.ts'
import type { RuleSettings } from './rule-config.ts'
import type { SignalEvent, StreamKind } from './signal.ts'

/**
 * The rules as pure functions: (the key's retained events, the event that just arrived, the
 * tenant's settings) → findings. `entries` is sorted by event time and includes `current`;
 * nothing here reads a clock, so replaying the same events gives the same findings.
 */
type Rule = (
  entries: readonly SignalEvent[],
  current: SignalEvent,
  settings: RuleSettings,
) => Finding | undefined

const FAILED = 'session.login_failed'
const LOGIN = 'session.login'

/**
 * The rule window ends at the key's newest event, not at `current`: signals of one key come from
 * several input partitions, so they arrive somewhat out of event-time order.
 */
function windowOf(entries: readonly SignalEvent[], current: SignalEvent, windowMs: number): SignalEvent[] {
  const to = Math.max(current.ts, entries.at(-1)?.ts ?? current.ts)
  const from = to - windowMs
  return entries.filter((e) => e.ts >= from && e.ts <= to)
}

function finding(
  base: Omit<Finding, 'windowStart' | 'windowEnd' | 'evidence' | 'seenAt'>,
  evidence: readonly SignalEvent[],
  current: SignalEvent,
): Finding {
  return {
    ...base,
    windowStart: Math.min(...evidence.map((e) => e.ts)),
    windowEnd: Math.max(current.ts, ...evidence.map((e) => e.ts)),
    evidence: evidence.map((e) => e.id),
    seenAt: current.seenAt,
  }
}

export const bruteForce: Rule = (entries, current, s) => {
  const p = s.brute_force
  if (!p.enabled || current.type !== FAILED || !current.account) return undefined
  const window = windowOf(entries, current, p.windowMs)
  const failures = window.filter((e) => e.type === FAILED)
  if (failures.length < p.minFailures) return undefined
  return finding(
    {
      rule: 'brute_force',
      severity: p.severity,
      tenant: current.tenant,
      subject: { kind: 'account', value: current.account },
      relatedUsers: distinct(window.map((e) => e.user)),
      counts: {
        failures: failures.length,
        successes: window.length - failures.length,
        sources: distinct(failures.map((e) => e.ip)).length,
      },
      explanation: `${failures.length} failed logins on account ${current.account} within ${p.windowMs / 60_000} min (threshold ${p.minFailures}): ${p.explanation}`,
    },
    failures,
    current,
  )
}

/** Spraying and stuffing share one view of a source (an IP or a /24); stuffing wins when both hold. */
export function sourceAttack(kind: 'ip' | 'net', key: string): Rule {
  return (entries, current, s) => {
    if (current.type !== FAILED && current.type !== LOGIN) return undefined
    const stuffing = s.credential_stuffing
    const spraying = s.password_spraying
    const longest = Math.max(stuffing.windowMs, spraying.windowMs)
    const all = windowOf(entries, current, longest)
    const subject = { kind, value: kind === 'net' ? `${key}/24` : key } as const

    const view = (windowMs: number) => {
      const to = all.at(-1)?.ts ?? current.ts
      const window = all.filter((e) => e.ts >= to - windowMs)
      const failures = window.filter((e) => e.type === FAILED)
      const successes = window.length - failures.length
      return {
        window,
        failures,
        successes,
        accounts: distinct(window.map((e) => e.account)).length,
        failedAccounts: distinct(failures.map((e) => e.account)).length,
        addresses: distinct(window.map((e) => e.ip)).length,
        ratio: window.length === 0 ? 0 : successes / window.length,
      }
    }
    const st = view(stuffing.windowMs)
    if (
      stuffing.enabled &&
      (kind === 'ip' || st.addresses >= stuffing.minNetAddresses) &&
      st.accounts >= stuffing.minAccounts &&
      st.window.length >= stuffing.minAttempts &&
      st.successes >= stuffing.minSuccesses &&
      st.ratio <= stuffing.maxSuccessRatio
    ) {
      return finding(
        {
          rule: 'credential_stuffing',
          severity: stuffing.severity,
          tenant: current.tenant,
          subject,
          relatedUsers: distinct(st.window.map((e) => e.user)),
          counts: {
            attempts: st.window.length,
            successes: st.successes,
            accounts: st.accounts,
            addresses: st.addresses,
          },
          explanation: `${st.accounts} accounts tried ${st.window.length} times from ${subject.value}, ${st.successes} succeeded (${Math.round(st.ratio * 100)} %): ${stuffing.explanation}`,
        },
        st.window,
        current,
      )
    }
    const sp = view(spraying.windowMs)
    if (
      spraying.enabled &&
      current.type === FAILED &&
      (kind === 'ip' || sp.addresses >= spraying.minNetAddresses) &&
      sp.failedAccounts >= spraying.minAccounts &&
      sp.failures.length >= spraying.minFailures &&
      sp.ratio <= spraying.maxSuccessRatio
    ) {
      return finding(
        {
          rule: 'password_spraying',
          severity: spraying.severity,
          tenant: current.tenant,
          subject,
          relatedUsers: distinct(sp.window.map((e) => e.user)),
          counts: {
            failures: sp.failures.length,
            accounts: sp.failedAccounts,
            successes: sp.successes,
            addresses: sp.addresses,
          },
          explanation: `${sp.failures.length} failed logins against ${sp.failedAccounts} accounts from ${subject.value}: ${spraying.explanation}`,
        },
        sp.failures,
        current,
      )
    }
    return undefined
  }
}

type Located = SignalEvent & { lat: number; lon: number; accKm: number }

/** Known and fine-grained enough to compare: unknown or coarse entries never count as a place. */
function isLocated(e: SignalEvent, maxAccuracyKm: number): e is Located {
  return e.lat !== undefined && e.lon !== undefined && e.accKm !== undefined && e.accKm < maxAccuracyKm
}

export const impossibleTravel: Rule = (entries, current, s) => {
  const p = s.impossible_travel
  if (!p.enabled || current.type !== LOGIN || !current.user || !isLocated(current, p.maxAccuracyKm))
    return undefined
  const previous = entries
    .filter(
      (e) =>
        e.type === LOGIN &&
        e.id !== current.id &&
        e.ts <= current.ts &&
        e.ts >= current.ts - p.windowMs &&
        isLocated(e, p.maxAccuracyKm),
    )
    .at(-1)
  if (!previous || !isLocated(previous, p.maxAccuracyKm)) return undefined
  const km = distanceKm(previous, current)
  const hours = Math.max(current.ts - previous.ts, 60_000) / 3_600_000
  const speed = km / hours
  if (km < p.minDistanceKm || speed < p.minSpeedKmh) return undefined
  return finding(
    {
      rule: 'impossible_travel',
      severity: p.severity,
      tenant: current.tenant,
      subject: { kind: 'user', value: current.user },
      relatedUsers: [current.user],
      counts: {
        distance_km: Math.round(km),
        speed_kmh: Math.round(speed),
        minutes: Math.round(hours * 60),
      },
      explanation: `logins ${Math.round(km)} km apart (${previous.country ?? '?'} → ${current.country ?? '?'}) within ${Math.round(hours * 60)} min, ${Math.round(speed)} km/h (limit ${p.minSpeedKmh}): ${p.explanation}`,
    },
    [previous, current],
    current,
  )
}

function novelty(field: 'country' | 'family', rule: 'new_country' | 'new_device'): Rule {
  return (entries, current, s) => {
    const p = s[rule]
    const value = current[field]
    if (!p.enabled || current.type !== LOGIN || !current.user || !value) return undefined
    const history = entries.filter(
      (e) => e.type === LOGIN && e.id !== current.id && e.ts < current.ts && e.ts >= current.ts - p.historyMs,
    )
    // Learning period: too little history means nothing is "new" yet.
    if (history.length < p.minLogins || current.ts - history[0]!.ts < p.minHistoryMs) return undefined
    const known = distinct(history.map((e) => e[field]))
    if (known.includes(value)) return undefined
    return finding(
      {
        rule,
        severity: p.severity,
        tenant: current.tenant,
        subject: { kind: 'user', value: current.user },
        relatedUsers: [current.user],
        counts: { history_logins: history.length, known_values: known.length },
        explanation: `login with ${field === 'country' ? 'country' : 'device family'} ${value}, not among ${known.join(', ') || 'none'} in ${history.length} logins over ${Math.round(p.historyMs / 86_400_000)} days: ${p.explanation}`,
      },
      [current],
      current,
    )
  }
}

export const newCountry = novelty('country', 'new_country')
export const newDevice = novelty('family', 'new_device')

export const concurrentSessions: Rule = (entries, current, s) => {
  const p = s.concurrent_sessions
  if (!p.enabled || current.type !== LOGIN || !current.user || !current.session) return undefined
  if (!isLocated(current, p.maxAccuracyKm)) return undefined
  const sessions = new Map<string, SignalEvent[]>()
  for (const e of entries) {
    if (!e.session || e.session === current.session || e.ts > current.ts) continue
    if (e.ts < current.ts - p.windowMs) continue
    sessions.set(e.session, [...(sessions.get(e.session) ?? []), e])
  }
  for (const events of sessions.values()) {
    const login = events.find((e) => e.type === LOGIN)
    const last = events.at(-1)!
    const active = !events.some((e) => e.type === 'session.logout') && current.ts - last.ts <= p.sessionIdleMs
    if (!login || !active || !isLocated(login, p.maxAccuracyKm)) continue
    const km = distanceKm(login, current)
    if (km < p.minDistanceKm) continue
    return finding(
      {
        rule: 'concurrent_sessions',
        severity: p.severity,
        tenant: current.tenant,
        subject: { kind: 'user', value: current.user },
        relatedUsers: [current.user],
        counts: { distance_km: Math.round(km), active_sessions: 2 },
        explanation: `new session from ${current.country ?? '?'} while a session from ${login.country ?? '?'} ${Math.round(km)} km away is still active: ${p.explanation}`,
      },
      last === login ? [login, current] : [login, last, current],
      current,
    )
  }
  return undefined
}

export const spamBurst: Rule = (entries, current, s) => {
  const p = s.spam_burst
  if (!p.enabled || !current.user) return undefined
  const windowFrom = current.ts - p.windowMs
  const baselineFrom = current.ts - p.baselineMs
  const inWindow = entries.filter((e) => e.user === current.user && e.ts >= windowFrom && e.ts <= current.ts)
  const baseline = entries.filter((e) => e.ts >= baselineFrom && e.ts < windowFrom)
  const userBaseline = baseline.filter((e) => e.user === current.user)
  // Baselines as "per window of this length", so they compare with the window's count directly.
  const scale = p.windowMs / Math.max(p.baselineMs - p.windowMs, p.windowMs)
  const users = Math.max(distinct(baseline.map((e) => e.user)).length, 1)
  const sum = (es: SignalEvent[]) => es.reduce((n, e) => n + (e.recipients ?? 1), 0)
  const count = inWindow.length
  const recipients = sum(inWindow)
  const countLimit = Math.max(
    p.minMessages,
    p.rateFactor * userBaseline.length * scale,
    (p.rateFactor * baseline.length * scale) / users,
  )
  const recipientLimit = Math.max(
    p.minRecipients,
    p.rateFactor * sum(userBaseline) * scale,
    (p.rateFactor * sum(baseline) * scale) / users,
  )
  if (count < countLimit && recipients < recipientLimit) return undefined
  return finding(
    {
      rule: 'spam_burst',
      severity: p.severity,
      tenant: current.tenant,
      subject: { kind: 'user', value: current.user },
      relatedUsers: [current.user],
      counts: {
        messages: count,
        recipients,
        limit_messages: Math.ceil(countLimit),
        limit_recipients: Math.ceil(recipientLimit),
      },
      explanation: `${count} sends to ${recipients} recipients in ${p.windowMs / 60_000} min (limits ${Math.ceil(countLimit)} sends / ${Math.ceil(recipientLimit)} recipients): ${p.explanation}`,
    },
    inWindow,
    current,
  )
}

/** Target ids are "<type>:<id>"; a reported user is a related user of the alert. */
function userOfTarget(target: string | undefined): string | undefined {
  return target?.startsWith('user:') ? target.slice(5) : undefined
}

export const harassmentTarget: Rule = (entries, current, s) => {
  const p = s.harassment_target
  if (!p.enabled || current.type !== 'abuse.report' || !current.target) return undefined
  const window = windowOf(entries, current, p.windowMs)
  const reporters = distinct(window.map((e) => e.user))
  if (reporters.length < p.minReporters) return undefined
  return finding(
    {
      rule: 'harassment_target',
      severity: p.severity,
      tenant: current.tenant,
      subject: { kind: 'target', value: current.target },
      relatedUsers: distinct([userOfTarget(current.target), ...reporters]),
      counts: { reports: window.length, reporters: reporters.length },
      explanation: `${window.length} abuse reports from ${reporters.length} people against ${current.target}: ${p.explanation}`,
    },
    window,
    current,
  )
}

export const harassmentActor: Rule = (entries, current, s) => {
  const p = s.harassment_actor
  if (!p.enabled || current.type !== 'abuse.report' || !current.user) return undefined
  const window = windowOf(entries, current, p.windowMs)
  if (window.length < p.minReports) return undefined
  const targets = distinct(window.map((e) => e.target))
  return finding(
    {
      rule: 'harassment_actor',
      severity: p.severity,
      tenant: current.tenant,
      subject: { kind: 'user', value: current.user },
      relatedUsers: distinct([current.user, ...targets.map(userOfTarget)]),
      counts: { reports: window.length, targets: targets.length },
      explanation: `${current.user} filed ${window.length} abuse reports on ${targets.length} targets within ${p.windowMs / 60_000} min: ${p.explanation}`,
    },
    window,
    current,
  )
}

/** Which rules run on which stream. */
export function rulesFor(kind: StreamKind, key: string): Rule[] {
  switch (kind) {
    case 'account':
      return [bruteForce]
    case 'ip':
    case 'net':
      return [sourceAttack(kind, key)]
    case 'user':
      return [impossibleTravel, newCountry, newDevice, concurrentSessions]
    case 'tenant':
      return [spamBurst]
    case 'target':
      return [harassmentTarget]
    case 'actor':
      return [harassmentActor]
  }
}

/** How long a key's events are kept: the longest window of the rules on its stream. */
export function retainMs(kind: StreamKind, s: RuleSettings): number {
  switch (kind) {
    case 'account':
      return s.brute_force.windowMs
    case 'ip':
    case 'net':
      return Math.max(s.password_spraying.windowMs, s.credential_stuffing.windowMs)
    case 'user':
      return Math.max(
        s.impossible_travel.windowMs,
        s.new_country.historyMs,
        s.new_device.historyMs,
        s.concurrent_sessions.windowMs,
      )
    case 'tenant':
      return s.spam_burst.baselineMs
    case 'target':
      return s.harassment_target.windowMs
    case 'actor':
      return s.harassment_actor.windowMs
  }
}

/** Most events kept per key: a flood on one key cannot grow its state without limit. */
export const MAX_ENTRIES: Record<StreamKind, number> = {
  account: 500,
  ip: 500,
  net: 1000,
  user: 300,
  tenant: 20_000,
  target: 500,
  actor: 500,
}
