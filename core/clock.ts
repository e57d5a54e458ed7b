/** Injectable time source so retention and detection can be tested with a fixed "now". */
export type Clock = () => Date

export const systemClock: Clock = () => new Date()

export function fixedClock(iso: string): Clock {
  const at = new Date(iso)
  return () => new Date(at)
}

let lastMs = Number.NaN
let lastIso = ''

/**
 * `date.toISOString()`, remembering the last one: on the ingest hot path consecutive records
 * share their append time (a record batch is stamped once), so the text is built once per batch.
 */
export function isoString(date: Date): string {
  const ms = date.getTime()
  if (ms !== lastMs) {
    lastIso = date.toISOString() // throws on an invalid date, as toISOString does
    lastMs = ms
  }
  return lastIso
}
