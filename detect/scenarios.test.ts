import { describe, expect, it } from 'vitest'
import type { SporEvent } from '../core/event-schema.ts'
import { DEFAULT_EVENT_TYPES } from '../core/event-types.ts'
import { DEFAULT_RETENTION_DAYS } from '../core/retention.ts'
import { createGeoLookup } from '../enrich/geo.ts'
import { createUserAgentParser } from '../enrich/user-agent.ts'
import { attackScenarios, benignScenarios, mixedTraffic } from '../generate/attacks.ts'
import { checkEvent } from '../ingest/parse-message.ts'
import { IncidentTracker, quietGapMs, toDocument } from './incidents.ts'
import { RuleBook } from './rule-config.ts'
import { toSignals } from './signal.ts'
import { DetectionState } from './state.ts'

/**
 * The scenario generator against the rules, without Kafka: every attack raises exactly its
 * alert with its evidence, the benign look-alikes raise nothing. The integration tests repeat
 * this through Kafka and Elasticsearch.
 */
const end = new Date('2026-11-25T12:00:00Z')
const enrichers = { lookupGeo: createGeoLookup(), parseUserAgent: createUserAgentParser({ cacheSize: 100 }) }
const limits = {
  maxFutureSkewMs: 600_000,
  eventTypes: DEFAULT_EVENT_TYPES,
  retentionDays: DEFAULT_RETENTION_DAYS,
}

async function detect(events: SporEvent[]) {
  const rules = new RuleBook()
  const state = new DetectionState({ maxKeys: 10_000, rules })
  const tracker = new IncidentTracker({ find: async () => undefined, indexPrefix: 'x', maxOpen: 1000 })
  const incidents = new Set<ReturnType<typeof toDocument>['alert_id']>()
  const docs = new Map<string, ReturnType<typeof toDocument>>()
  const sorted = [...events].sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts))
  for (const event of sorted) {
    for (const signal of toSignals(event, enrichers)) {
      for (const finding of state.apply(signal)) {
        const { incident } = await tracker.absorb(
          finding,
          quietGapMs(finding.rule, rules.for(finding.tenant)),
        )
        incidents.add(incident.alertId)
        docs.set(incident.alertId, toDocument(incident, 0))
      }
    }
  }
  return [...docs.values()]
}

describe('scenario generator against the rules', () => {
  const attacks = attackScenarios({ seed: 7, tenant: 'acme', end })
  it('covers every rule once and produces valid events', () => {
    expect(attacks.map((s) => s.name).sort()).toEqual(new RuleBook().ruleNames().sort())
    for (const event of [...attacks, ...benignScenarios({ seed: 7, tenant: 'acme', end })].flatMap(
      (s) => s.events,
    )) {
      const checked = checkEvent(event, limits, end)
      expect(checked.kind, JSON.stringify(checked)).toBe('ok')
    }
  })

  it.each(attacks.map((s) => [s.name, s] as const))(
    '%s raises exactly its alert with its evidence',
    async (_name, scenario) => {
      const alerts = await detect(scenario.events)
      expect(alerts.map((a) => ({ rule: a.rule, subject: a.subject }))).toEqual(
        scenario.expect.map((e) => ({ rule: e.rule, subject: e.subject })),
      )
      expect([...alerts[0]!.evidence_event_ids].sort()).toEqual([...scenario.expect[0]!.evidence].sort())
      if (scenario.expect[0]!.relatedUsers)
        expect(alerts[0]!.related_users).toEqual(scenario.expect[0]!.relatedUsers)
    },
  )

  it.each(benignScenarios({ seed: 7, tenant: 'acme', end }).map((s) => [s.name, s] as const))(
    '%s raises nothing',
    async (_name, scenario) => {
      expect(await detect(scenario.events)).toEqual([])
    },
  )

  it('all attacks mixed into a day of traffic raise exactly the expected alerts', async () => {
    const { events, scenarios } = mixedTraffic({
      seed: 7,
      tenants: ['acme', 'beta'],
      usersPerTenant: 60,
      end,
      attacks: true,
    })
    const alerts = await detect(events)
    const expected = scenarios.flatMap((s) => s.expect)
    expect(alerts.map((a) => `${a.rule} ${a.subject.value}`).sort()).toEqual(
      expected.map((e) => `${e.rule} ${e.subject.value}`).sort(),
    )
  })
})
