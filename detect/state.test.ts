import { describe, expect, it } from 'vitest'
import { RuleBook } from './rule-config.ts'
import type { Signal } from './signal.ts'
import { DetectionState } from './state.ts'

const T0 = Date.parse('2026-11-25T10:00:00Z')
const failure = (i: number, account = 'a', ts = T0 + i * 1000): Signal => ({
  kind: 'account',
  key: account,
  e: { id: `f${account}${i}`, type: 'session.login_failed', ts, tenant: 'acme', account },
})

describe('detection state', () => {
  it('ignores a re-delivered signal (same event id)', () => {
    const state = new DetectionState({ maxKeys: 10, rules: new RuleBook() })
    for (let i = 0; i < 9; i++) state.apply(failure(i))
    expect(state.apply(failure(8))).toEqual([])
    expect(state.duplicates).toBe(1)
    expect(state.apply(failure(9))).toHaveLength(1)
  })

  it('keeps at most maxKeys keys per stream kind', () => {
    const state = new DetectionState({ maxKeys: 100, rules: new RuleBook() })
    for (let i = 0; i < 1000; i++) state.apply(failure(0, `acc${i}`))
    expect(state.sizes().account).toBe(100)
  })

  it('keeps at most 500 events of one account: a flood cannot grow its window without limit', () => {
    const state = new DetectionState({ maxKeys: 10, rules: new RuleBook() })
    let found: ReturnType<DetectionState['apply']> = []
    for (let i = 0; i < 600; i++) found = state.apply(failure(i, 'a', T0 + i))
    expect(found[0]?.counts.failures).toBe(500)
    expect(found[0]?.windowStart).toBe(T0 + 100)
  })

  it('forgets events older than the rules need', () => {
    const state = new DetectionState({ maxKeys: 10, rules: new RuleBook() })
    // Nine failures two hours ago, then one now: the old ones are outside brute force's 30 minutes.
    for (let i = 0; i < 9; i++) state.apply(failure(i, 'a', T0 - 2 * 3_600_000 + i))
    expect(state.apply(failure(100))).toEqual([])
  })
})

describe('detection state: fairness between tenants', () => {
  const tenantFailure = (tenant: string, account: string, i: number): Signal => ({
    kind: 'account',
    key: account,
    e: { id: `${tenant}-${account}-${i}`, type: 'session.login_failed', ts: T0 + i * 1000, tenant, account },
  })

  it("one tenant's flood of usernames does not evict another tenant's brute-force window", () => {
    const state = new DetectionState({ maxKeys: 1000, maxKeysPerTenant: 400, rules: new RuleBook() })
    for (let i = 0; i < 9; i++) state.apply(tenantFailure('victim-co', 'alice', i))
    // 5,000 distinct usernames from the flooding tenant: far beyond the global bound.
    for (let i = 0; i < 5000; i++) state.apply(tenantFailure('flood-co', `user${i}`, 0))
    expect(state.tenantSize('account', 'flood-co')).toBe(400)
    expect(state.tenantSize('account', 'victim-co')).toBe(1)
    // The tenth failure still finds the nine before it.
    expect(state.apply(tenantFailure('victim-co', 'alice', 9))).toHaveLength(1)
  })

  it('without a per-tenant quota the same flood erases the window (the finding this fixes)', () => {
    const state = new DetectionState({ maxKeys: 1000, rules: new RuleBook() })
    for (let i = 0; i < 9; i++) state.apply(tenantFailure('victim-co', 'alice', i))
    for (let i = 0; i < 5000; i++) state.apply(tenantFailure('flood-co', `user${i}`, 0))
    expect(state.apply(tenantFailure('victim-co', 'alice', 9))).toEqual([])
  })

  it('marks findings whose evidence came from a browser key as client-reported', () => {
    const state = new DetectionState({ maxKeys: 100, rules: new RuleBook() })
    const findings = []
    for (let i = 0; i < 10; i++) {
      const signal = tenantFailure('acme', 'bob', i)
      if (i % 2 === 0) signal.e.client = true
      findings.push(...state.apply(signal))
    }
    expect(findings).toHaveLength(1)
    expect(findings[0]!.counts.client_reported_events).toBe(5)
    expect(findings[0]!.explanation).toMatch(/client-reported: 5 of 10/)
  })
})
