import { describe, expect, it } from 'vitest'
import { DAY_MS } from '../core/retention.ts'
import { checkTopicConfig, type TopicRule } from './topic-audit.ts'

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
