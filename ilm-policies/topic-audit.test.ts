import { describe, expect, it } from 'vitest'
import { loadConfig } from '../core/config.ts'
import { DAY_MS } from '../core/retention.ts'
import { detectTopicConfigEntries } from '../detect/topics.ts'
import { checkTopicConfig, type TopicRule, topicRules } from './topic-audit.ts'

const EVENTS: TopicRule = { topic: 'spor.events.v1', role: 'events', maxMs: 21 * DAY_MS }
const day = (n: number) => String(n * DAY_MS)

describe('checkTopicConfig', () => {
  it.each([
    [
      '7 d retention, 7 d segments (defaults)',
      { 'retention.ms': day(7), 'segment.ms': day(7), 'cleanup.policy': 'delete' },
      0,
    ],
    [
      'exactly inside with small segments',
      { 'retention.ms': day(20), 'segment.ms': String(3_600_000), 'cleanup.policy': 'delete' },
      0,
    ],
    [
      'retention above the short class',
      { 'retention.ms': day(30), 'segment.ms': day(7), 'cleanup.policy': 'delete' },
      1,
    ],
    ['infinite retention', { 'retention.ms': '-1', 'segment.ms': day(7), 'cleanup.policy': 'delete' }, 1],
    [
      'retention inside but segments push the worst case out',
      { 'retention.ms': day(20), 'segment.ms': day(7), 'cleanup.policy': 'delete' },
      1,
    ],
    [
      'compaction keeps records forever',
      { 'retention.ms': day(7), 'segment.ms': day(7), 'cleanup.policy': 'compact,delete' },
      1,
    ],
  ])('%s', (_what, configs, problems) => {
    const entry = checkTopicConfig(EVENTS, configs)
    expect(entry.problems).toHaveLength(problems)
    expect(entry.exists).toBe(true)
  })

  it('a missing topic holds nothing and is not a violation', () => {
    const entry = checkTopicConfig(EVENTS, undefined)
    expect(entry).toMatchObject({ exists: false, problems: [] })
  })

  it('states the worst case in the problem', () => {
    const entry = checkTopicConfig(EVENTS, { 'retention.ms': day(20), 'segment.ms': day(7) })
    expect(entry.worstCaseMs).toBe(27 * DAY_MS + 5 * 60_000)
    expect(entry.problems[0]).toContain('27 d')
  })
})

describe('detect repartition topic (IPs and user ids)', () => {
  const config = loadConfig({ SPOR_TOPIC_PREFIX: 'spor' })
  /** Kafka's own defaults for what a topic does not set (log.roll.hours = 168). */
  const BROKER_DEFAULTS = { 'segment.ms': day(7), 'cleanup.policy': 'delete' }

  it('is audited with the short-class bound', () => {
    expect(topicRules(config)).toContainEqual({
      topic: 'spor.detect.repartition.v1',
      role: 'repartition',
      maxMs: 21 * DAY_MS,
    })
  })

  it('as spor detect creates it, with the default 360 h retention, stays inside 21 days', () => {
    expect(config.detect.repartitionRetentionMs).toBe(360 * 3_600_000)
    const rule = topicRules(config).find((r) => r.role === 'repartition')!
    const created = Object.fromEntries(detectTopicConfigEntries(config).map((e) => [e.name, e.value]))
    const entry = checkTopicConfig(rule, { ...BROKER_DEFAULTS, ...created })
    expect(entry.problems).toEqual([])
    expect(entry.worstCaseMs).toBe(16 * DAY_MS + 5 * 60_000)
  })

  it('the longest retention the config accepts still fits once segments roll daily', () => {
    expect(() => loadConfig({ SPOR_DETECT_REPARTITION_RETENTION_HOURS: String(20 * 24) })).toThrow(
      /segment rolling/,
    )
    const longest = loadConfig({ SPOR_DETECT_REPARTITION_RETENTION_HOURS: String(20 * 24 - 1) })
    const rule = topicRules(longest).find((r) => r.role === 'repartition')!
    const created = Object.fromEntries(detectTopicConfigEntries(longest).map((e) => [e.name, e.value]))
    expect(checkTopicConfig(rule, { ...BROKER_DEFAULTS, ...created }).problems).toEqual([])
  })
})
