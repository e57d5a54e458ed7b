import { readFileSync } from 'node:fs'
import { type Static, Type } from 'typebox'
import { Compile } from 'typebox/compile'
import { SporError } from '../core/errors.ts'

/**
 * Rules are configuration: each has an on/off switch, thresholds and windows, and a one-line
 * explanation of what it catches. Defaults are calibrated against public rule sets
 * (/work/shared/REFERENCES.md); where spor differs, the comment says why. A JSON file
 * (SPOR_DETECT_RULES_FILE) overrides them globally (`rules`) and per tenant (`tenants`).
 */
const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000

export const RULE_NAMES = [
  'brute_force',
  'password_spraying',
  'credential_stuffing',
  'impossible_travel',
  'new_country',
  'new_device',
  'concurrent_sessions',
  'spam_burst',
  'harassment_target',
  'harassment_actor',
] as const
export type RuleName = (typeof RULE_NAMES)[number]
export type Severity = 'low' | 'medium' | 'high'

export const DEFAULT_RULES = {
  /** Okta multi-source brute force: ≥ 10 attempts on one user in 30 min. spor does not also
   * require ≥ 5 source IPs: a single-IP attack on one account is just as much an attack. */
  brute_force: {
    enabled: true,
    severity: 'high' as Severity,
    explanation: 'many failed logins on one account in a short window (password guessing)',
    windowMs: 30 * MIN,
    minFailures: 10,
  },
  /** Elastic: > 10 users and ≥ 30 failures in 5 min per IP; Okta: ≥ 5 users, ≥ 15 attempts in 1 h.
   * spor: ≥ 10 accounts and ≥ 15 failures in 30 min, between the two; a /24 counts only when
   * several of its addresses take part (a single IP is already its own key). NAT and VPN exits
   * are the known false positives; a shared office IP fails rarely and on few accounts. */
  password_spraying: {
    enabled: true,
    severity: 'high' as Severity,
    explanation: 'one IP or /24 failing against many different accounts (few passwords tried everywhere)',
    windowMs: 30 * MIN,
    minAccounts: 10,
    minFailures: 15,
    /** Above this share of successful logins the source looks like a busy shared exit, not a spray. */
    maxSuccessRatio: 0.05,
    minNetAddresses: 2,
  },
  /** Entra ID: ≥ 10 users, ≥ 30 events, more users than IPs, ≤ 10 min. spor keys it by source
   * (IP and /24) and requires some successes at a low ratio: leaked pairs that partly work. */
  credential_stuffing: {
    enabled: true,
    severity: 'high' as Severity,
    explanation:
      'many accounts tried from one source with a low success ratio (leaked username/password pairs)',
    windowMs: 30 * MIN,
    minAccounts: 10,
    minAttempts: 15,
    minSuccesses: 1,
    maxSuccessRatio: 0.3,
    minNetAddresses: 2,
  },
  /** Entra/Panther: consecutive successful logins, ≥ 500 km at ≥ 800–900 km/h; < 50 km in < 10 min
   * is geo noise (below minDistanceKm anyway). Coarse entries (accuracy ≥ 500 km) or unknown
   * locations are never compared, and never cached as "the last place". 900 km/h: a long-haul
   * flight (Oslo → New York in 8 h) stays below it. */
  impossible_travel: {
    enabled: true,
    severity: 'high' as Severity,
    explanation:
      'two consecutive successful logins of one user further apart than any flight could cover in the time between',
    minDistanceKm: 500,
    minSpeedKmh: 900,
    maxAccuracyKm: 500,
    windowMs: 24 * HOUR,
  },
  /** Okta/Entra baseline: last 10 countries; learning 14 days or 10 logins. spor requires both
   * ≥ 10 earlier logins and ≥ 3 days between the first of them and now, so new users never alert. */
  new_country: {
    enabled: true,
    severity: 'low' as Severity,
    explanation: 'successful login from a country this account has not used in its recent history',
    historyMs: 14 * DAY,
    minLogins: 10,
    minHistoryMs: 3 * DAY,
  },
  new_device: {
    enabled: true,
    severity: 'low' as Severity,
    explanation:
      'successful login from a device family (OS and device type) this account has not used recently',
    historyMs: 14 * DAY,
    minLogins: 10,
    minHistoryMs: 3 * DAY,
  },
  /** Multi-geo rules use ≥ 2 countries within 15–65 min; spor compares locations of sessions that
   * are active at the same time (not logged out, activity within sessionIdleMs). */
  concurrent_sessions: {
    enabled: true,
    severity: 'medium' as Severity,
    explanation:
      'one user with sessions active at the same time from places far apart (shared or stolen credentials)',
    minDistanceKm: 500,
    maxAccuracyKm: 500,
    sessionIdleMs: 30 * MIN,
    windowMs: 24 * HOUR,
  },
  /** No public anchor; a campaign job to a few hundred recipients a day is normal here. */
  spam_burst: {
    enabled: true,
    severity: 'medium' as Severity,
    explanation:
      "message sends or job starts far above the user's and the tenant's normal rate, or to very many recipients",
    windowMs: 10 * MIN,
    baselineMs: 24 * HOUR,
    minMessages: 20,
    minRecipients: 2000,
    /** The window must also exceed this many times the user's and the tenant's per-user baseline. */
    rateFactor: 10,
  },
  harassment_target: {
    enabled: true,
    severity: 'medium' as Severity,
    explanation: 'abuse reports from several different people against the same target',
    windowMs: 24 * HOUR,
    minReporters: 3,
  },
  harassment_actor: {
    enabled: true,
    severity: 'medium' as Severity,
    explanation: 'one actor filing abuse reports repeatedly (report bombing or harassment through reports)',
    windowMs: HOUR,
    minReports: 5,
  },
}

export type RuleSettings = typeof DEFAULT_RULES
export type RuleParams<R extends RuleName> = RuleSettings[R]

// Rule names and setting names are checked against the defaults by checkOverrides (clearer errors).
const Override = Type.Record(
  Type.String(),
  Type.Record(Type.String(), Type.Union([Type.Number({ minimum: 0 }), Type.Boolean(), Type.String()])),
)
const RulesFile = Type.Object(
  {
    rules: Type.Optional(Override),
    tenants: Type.Optional(Type.Record(Type.String(), Override)),
  },
  { additionalProperties: false },
)
export type RulesFileContent = Static<typeof RulesFile>
const compiledFile = Compile(RulesFile)

/** Settings per tenant: defaults, then the global overrides, then the tenant's own. */
export class RuleBook {
  readonly #global: RuleSettings
  readonly #tenants = new Map<string, RuleSettings>()

  constructor(content: RulesFileContent = {}) {
    const problems = checkOverrides(content)
    if (problems.length > 0) throw new SporError('SPOR_ERR_CONFIG', `detect rules: ${problems.join('; ')}`)
    this.#global = merge(DEFAULT_RULES, content.rules)
    for (const [tenant, override] of Object.entries(content.tenants ?? {})) {
      this.#tenants.set(tenant, merge(this.#global, override))
    }
  }

  ruleNames(): RuleName[] {
    return [...RULE_NAMES]
  }

  for(tenant: string): RuleSettings {
    return this.#tenants.get(tenant) ?? this.#global
  }

  /** The longest window any rule looks back over: how much state a restart must rebuild. */
  longestWindowMs(): number {
    let longest = 0
    for (const settings of [this.#global, ...this.#tenants.values()]) {
      for (const rule of Object.values(settings) as Record<string, unknown>[]) {
        for (const [name, value] of Object.entries(rule)) {
          if (name.endsWith('Ms') && typeof value === 'number') longest = Math.max(longest, value)
        }
      }
    }
    return longest
  }

  static fromFile(file: string | undefined): RuleBook {
    if (!file) return new RuleBook()
    let content: unknown
    try {
      content = JSON.parse(readFileSync(file, 'utf8'))
    } catch (error) {
      throw new SporError('SPOR_ERR_CONFIG', `SPOR_DETECT_RULES_FILE ${file}: ${(error as Error).message}`)
    }
    if (!compiledFile.Check(content)) {
      const first = [...compiledFile.Errors(content)][0]
      throw new SporError(
        'SPOR_ERR_CONFIG',
        `SPOR_DETECT_RULES_FILE ${file}: ${first?.instancePath ?? '/'} ${first?.message ?? 'invalid'}`,
      )
    }
    return new RuleBook(content)
  }
}

/** Every overridden setting must exist in the defaults and keep its type: typos fail at start. */
function checkOverrides(content: RulesFileContent): string[] {
  const problems: string[] = []
  const scopes = [
    ['rules', content.rules] as const,
    ...Object.entries(content.tenants ?? {}).map(([t, o]) => [`tenants.${t}`, o] as const),
  ]
  for (const [scope, override] of scopes) {
    for (const [rule, settings] of Object.entries(override ?? {})) {
      const defaults = DEFAULT_RULES[rule as RuleName] as Record<string, unknown> | undefined
      if (!defaults) {
        problems.push(`${scope}.${rule}: unknown rule`)
        continue
      }
      for (const [key, value] of Object.entries(settings ?? {})) {
        if (!(key in defaults)) problems.push(`${scope}.${rule}.${key}: unknown setting`)
        else if (typeof defaults[key] !== typeof value)
          problems.push(`${scope}.${rule}.${key}: expected ${typeof defaults[key]}`)
        else if (key === 'severity' && !['low', 'medium', 'high'].includes(value as string))
          problems.push(`${scope}.${rule}.severity: low, medium or high`)
      }
    }
  }
  return problems
}

function merge(base: RuleSettings, override: RulesFileContent['rules']): RuleSettings {
  const out = { ...base } as Record<string, unknown>
  for (const [rule, settings] of Object.entries(override ?? {})) {
    out[rule] = { ...(base[rule as RuleName] as object), ...settings }
  }
  return Object.freeze(out) as RuleSettings
}
