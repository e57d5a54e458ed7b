/** Injectable time source so retention and detection can be tested with a fixed "now". */
export type Clock = () => Date

export const systemClock: Clock = () => new Date()

export function fixedClock(iso: string): Clock {
  const at = new Date(iso)
  return () => new Date(at)
}
