import { describe, expect, it } from 'vitest'
import type { Finding } from './findings.ts'
import { type AlertDocument, IncidentTracker, toDocument } from './incidents.ts'

const T0 = Date.parse('2026-11-25T10:00:00Z')
const GAP = 30 * 60_000
const finding = (evidence: string[]): Finding => ({
  rule: 'brute_force',
  severity: 'high',
  tenant: 'acme',
  subject: { kind: 'account', value: 'dave@acme.example' },
  relatedUsers: ['dave'],
  windowStart: T0,
  windowEnd: T0 + evidence.length * 1000,
  counts: { failures: evidence.length },
  evidence,
  explanation: `${evidence.length} failed logins`,
})
const ids = (n: number) => Array.from({ length: n }, (_, i) => `e${i}`)

/** The document a previous process stored for ten failures, announced or not. */
async function storedBy(announced: boolean): Promise<AlertDocument & { _index: string }> {
  const first = new IncidentTracker({ find: async () => undefined, indexPrefix: 'p', maxOpen: 10 })
  const { incident } = await first.absorb(finding(ids(10)), GAP)
  const doc = toDocument(incident, T0 + 20_000)
  return {
    ...doc,
    _index: incident.index,
    ...(announced ? { announced_at: new Date(T0 + 21_000).toISOString() } : {}),
  }
}

describe('incident takeover and announcement', () => {
  it.each([
    ['announced: a replay changes nothing', true, ids(10), 'unchanged'],
    ['announced: a new event updates', true, ids(11), 'updated'],
    ['never announced: a replay announces it as raised', false, ids(10), 'raised'],
    ['never announced: a new event raises it', false, ids(11), 'raised'],
  ] as const)('%s', async (_what, announced, evidence, expected) => {
    const doc = await storedBy(announced)
    const tracker = new IncidentTracker({ find: async () => doc, indexPrefix: 'p', maxOpen: 10 })
    const { change, incident } = await tracker.absorb(finding([...evidence]), GAP)
    expect(change).toBe(expected)
    // Either way it is the stored alert, never a second one.
    expect(incident.alertId).toBe(doc.alert_id)
    expect(incident.raisedAt).toBe(Date.parse(doc.raised_at))
  })

  it('keeps raising an incident in memory until it is marked announced', async () => {
    const tracker = new IncidentTracker({ find: async () => undefined, indexPrefix: 'p', maxOpen: 10 })
    const first = await tracker.absorb(finding(ids(10)), GAP)
    expect(first.change).toBe('raised')
    first.incident.persisted = true
    expect((await tracker.absorb(finding(ids(10)), GAP)).change).toBe('raised')
    first.incident.announced = true
    expect((await tracker.absorb(finding(ids(10)), GAP)).change).toBe('unchanged')
    expect((await tracker.absorb(finding(ids(11)), GAP)).change).toBe('updated')
  })

  it("the detector's document never carries announced_at (an update cannot clear the mark)", async () => {
    const tracker = new IncidentTracker({ find: async () => undefined, indexPrefix: 'p', maxOpen: 10 })
    const { incident } = await tracker.absorb(finding(ids(10)), GAP)
    incident.announced = true
    expect(toDocument(incident, T0)).not.toHaveProperty('announced_at')
  })
})
