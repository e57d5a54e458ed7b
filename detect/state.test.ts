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

  it('forgets events older than the rules need', () => {
    const state = new DetectionState({ maxKeys: 10, rules: new RuleBook() })
    // Nine failures two hours ago, then one now: the old ones are outside brute force's 30 minutes.
    for (let i = 0; i < 9; i++) state.apply(failure(i, 'a', T0 - 2 * 3_600_000 + i))
    expect(state.apply(failure(100))).toEqual([])
  })
})
