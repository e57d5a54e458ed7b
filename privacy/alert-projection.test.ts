import { describe, expect, it } from 'vitest'
import { projectAlertForSubject } from './alert-projection.ts'

const base = {
  '@timestamp': '2026-11-30T10:00:00.000Z',
  alert_id: 'a1',
  severity: 'high',
  tenant: 'acme',
  window: { start: '2026-11-30T10:00:00.000Z', end: '2026-11-30T10:20:00.000Z' },
  evidence_total: 12,
  status: 'acknowledged',
  acknowledged_by: 'analyst-key',
  announced_at: '2026-11-30T10:21:00.000Z',
}

describe('projectAlertForSubject', () => {
  it('keeps the own account of a brute-force alert, with the rule text instead of the stored explanation', () => {
    const out = projectAlertForSubject(
      {
        ...base,
        rule: 'brute_force',
        subject: { kind: 'account', value: 'bob@acme.example' },
        related_users: ['bob'],
        counts: { failures: 12, note: 'x' },
        evidence_event_ids: ['e1', 'e2'],
        explanation: '12 failed logins on account bob@acme.example from 198.51.100.7',
      },
      'bob',
    )
    expect(out).toMatchObject({
      subject: { kind: 'account', value: 'bob@acme.example' },
      related_users: ['bob'],
    })
    expect(out.counts).toEqual({ failures: 12 })
    expect(out.explanation).not.toContain('198.51.100.7')
    for (const field of ['evidence_event_ids', 'acknowledged_by', 'announced_at'])
      expect(out).not.toHaveProperty(field)
  })
  it('hides another subject (an IP, another user) entirely', () => {
    const out = projectAlertForSubject(
      {
        ...base,
        rule: 'harassment_actor',
        subject: { kind: 'user', value: 'troll' },
        related_users: ['troll', 'me'],
      },
      'me',
    )
    expect(out.subject).toEqual({ kind: 'user' })
    expect(JSON.stringify(out)).not.toContain('troll')
  })
  it('survives an alert document of unknown shape', () => {
    expect(projectAlertForSubject({ rule: 'no_such_rule', subject: 'x', counts: 5 }, 'me')).toMatchObject({
      related_users: ['me'],
      explanation: expect.stringMatching(/^misuse alert/),
    })
  })
})
