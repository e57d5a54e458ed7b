import type { RuleName, Severity } from './rule-config.ts'

export type SubjectKind = 'account' | 'ip' | 'net' | 'user' | 'target'

/** What a rule reports for one event: the evidence in its window at that moment. */
export interface Finding {
  rule: RuleName
  severity: Severity
  tenant: string
  subject: { kind: SubjectKind; value: string }
  relatedUsers: string[]
  /** Event time of the first and last evidence event in the rule's window (epoch ms). */
  windowStart: number
  windowEnd: number
  counts: Record<string, number>
  evidence: string[]
  explanation: string
  /** Wall-clock time the triggering event entered detect (for latency figures). */
  seenAt?: number
}

export function distinct<T>(values: Iterable<T | undefined>): T[] {
  const set = new Set<T>()
  for (const v of values) if (v !== undefined) set.add(v)
  return [...set]
}

const EARTH_RADIUS_KM = 6371

/** Great-circle distance in km (haversine). */
export function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180
  const dLat = (b.lat - a.lat) * rad
  const dLon = (b.lon - a.lon) * rad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)))
}
