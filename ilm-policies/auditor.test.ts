import { describe, expect, it } from 'vitest'
import { violationCutoff } from './auditor.ts'

describe('violationCutoff', () => {
  it.each([
    [21, '2026-06-15T10:00:00Z', '2026-05-24T10:00:00.000Z'],
    [365, '2026-06-15T10:00:00Z', '2025-06-14T10:00:00.000Z'],
  ])('retention %i days at %s: documents before %s are violations', (days, now, cutoff) => {
    expect(violationCutoff(new Date(now), days).toISOString()).toBe(cutoff)
  })
})
