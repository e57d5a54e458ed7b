import { describe, expect, it } from 'vitest'
import { RuleBook } from './rule-config.ts'
import type { Signal } from './signal.ts'
import { DetectionState } from './state.ts'

/** Detection state across tenants: the same account name, IP or event id in two tenants never mixes. */
const T0 = Date.parse('2026-11-25T10:00:00Z')
const failure = (tenant: string, i: number, id = `${tenant}-f${i}`): Signal => ({
  kind: 'account',
  key: 'alice',
  e: { id, type: 'session.login_failed', ts: T0 + i * 1000, tenant, account: 'alice' },
})

describe('detection state across two tenants', () => {
  it('counts the same account name separately per tenant, and the alert carries only its tenant', () => {
    const state = new DetectionState({ maxKeys: 10, rules: new RuleBook() })
    // Nine failures each, interleaved: 18 on "alice" overall, but neither tenant has ten.
    for (let i = 0; i < 9; i++) {
      expect(state.apply(failure('acme', i))).toEqual([])
      expect(state.apply(failure('globex', i))).toEqual([])
    }
    expect(state.sizes().account).toBe(2)
    const [finding, ...more] = state.apply(failure('acme', 9))
    expect(more).toEqual([])
    expect(finding).toMatchObject({ rule: 'brute_force', tenant: 'acme', subject: { value: 'alice' } })
    expect(finding!.evidence).toHaveLength(10)
    expect(finding!.evidence.every((id) => id.startsWith('acme-'))).toBe(true)
    // globex is still one short of its own threshold.
    expect(state.apply(failure('globex', 50))).toHaveLength(1)
  })

  it('an event id reused by another tenant is not a duplicate', () => {
    const state = new DetectionState({ maxKeys: 10, rules: new RuleBook() })
    for (let i = 0; i < 9; i++) state.apply(failure('acme', i, `shared-${i}`))
    for (let i = 0; i < 9; i++) expect(state.apply(failure('globex', i, `shared-${i}`))).toEqual([])
    expect(state.duplicates).toBe(0)
    // Within one tenant the same id is a re-delivery.
    expect(state.apply(failure('globex', 8, 'shared-8'))).toEqual([])
    expect(state.duplicates).toBe(1)
  })
})
