import { describe, expect, it } from 'vitest'
import { classIndex, INDEX_PERIODS, periodEnd } from '../core/indices.ts'
import {
  DEFAULT_RETENTION_DAYS,
  expiresAt,
  RETENTION_CLASSES,
  type RetentionDays,
} from '../core/retention.ts'
import { lifecyclePolicy, policyDeleteAfterDays, policyName } from './policies.ts'
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
  )('%s deletes after its table value plus its longest period (%o)', (cls, table) => {
    const policy = lifecyclePolicy(cls, table)
    const longest = { day: 0, month: 31, year: 366 }[INDEX_PERIODS[cls]]
    expect(policy.phases.delete?.min_age).toBe(`${table[cls] + longest}d`)
    expect(policy.phases.delete?.actions).toHaveProperty('delete')
    // Nothing else deletes or moves the data earlier or later than the table says.
    expect(Object.keys(policy.phases).sort()).toEqual(['delete', 'hot'])
    expect(policy.phases.hot?.actions).toEqual({})
  })

  it('uses the default table: 21 days for daily short indices, 365 + 31 for monthly long ones', () => {
    expect(lifecyclePolicy('short', DEFAULT_RETENTION_DAYS).phases.delete?.min_age).toBe('21d')
    expect(lifecyclePolicy('long', DEFAULT_RETENTION_DAYS).phases.delete?.min_age).toBe('396d')
  })

  it.each(RETENTION_CLASSES)('%s: ILM never deletes an index before its last document expires', (cls) => {
    // Every day of several years: the index's ILM deletion (first day + min_age) is at or after
    // the expiry of the last day it can hold, and at most one longest period after it.
    for (let day = 0; day < 3 * 366; day++) {
      const date = new Date(Date.UTC(2024, 0, 1) + day * 86_400_000)
      const name = classIndex('spor', cls, date)
      const first = new Date(`${name.slice(-10).replaceAll('.', '-')}T00:00:00Z`)
      const ilmDeletes = first.getTime() + policyDeleteAfterDays(cls, DEFAULT_RETENTION_DAYS) * 86_400_000
      const lastDay = new Date(periodEnd(INDEX_PERIODS[cls], date).getTime() - 86_400_000)
      expect(ilmDeletes).toBeGreaterThanOrEqual(expiresAt(lastDay, DEFAULT_RETENTION_DAYS[cls]).getTime())
    }
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
