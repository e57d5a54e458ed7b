import { describe, expect, it } from 'vitest'
import { DEFAULT_RETENTION_DAYS, RETENTION_CLASSES, type RetentionDays } from '../core/retention.ts'
import { lifecyclePolicy, policyName } from './policies.ts'
import { indexTemplate, registeredClasses } from './templates.ts'

const CUSTOM: RetentionDays = { short: 14, long: 400, alerts: 90, stats: 800, profiles: 14 }

describe('lifecycle policies', () => {
  it.each(
    RETENTION_CLASSES.flatMap(
      (cls) =>
        [
          [cls, DEFAULT_RETENTION_DAYS],
          [cls, CUSTOM],
        ] as const,
    ),
  )('%s deletes after exactly its table value (%o)', (cls, table) => {
    const policy = lifecyclePolicy(cls, table)
    expect(policy.phases.delete?.min_age).toBe(`${table[cls]}d`)
    expect(policy.phases.delete?.actions).toHaveProperty('delete')
    // Nothing else deletes or moves the data earlier or later than the table says.
    expect(Object.keys(policy.phases).sort()).toEqual(['delete', 'hot'])
    expect(policy.phases.hot?.actions).toEqual({})
  })

  it('uses the default table: 21 days short, 365 days long', () => {
    expect(lifecyclePolicy('short', DEFAULT_RETENTION_DAYS).phases.delete?.min_age).toBe('21d')
    expect(lifecyclePolicy('long', DEFAULT_RETENTION_DAYS).phases.delete?.min_age).toBe('365d')
  })
})

describe('index templates and lifecycle', () => {
  it.each(registeredClasses())('%s template attaches its policy and the name date when ILM exists', (cls) => {
    const settings = indexTemplate('spor', cls, { ilm: true }).template?.settings ?? {}
    expect(settings['index.lifecycle.name']).toBe(policyName('spor', cls))
    expect(settings['index.lifecycle.parse_origination_date']).toBe(true)
  })

  it.each(registeredClasses())('%s template carries no lifecycle setting without ILM', (cls) => {
    const settings = indexTemplate('spor', cls, { ilm: false }).template?.settings ?? {}
    expect(JSON.stringify(settings)).not.toContain('lifecycle')
  })

  it('covers at least the two event classes', () => {
    expect(registeredClasses()).toEqual(expect.arrayContaining(['short', 'long']))
  })
})
