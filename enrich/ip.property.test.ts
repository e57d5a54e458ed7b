import { isIP } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalIp, isPublicIp, truncateIp } from './ip.ts'

/** Properties of the address helpers over every IPv4/IPv6 text fast-check can write. */
const anyIp = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended())

describe('property: IP helpers', () => {
  it('never throw on any string; invalid input gives undefined / false', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), anyIp), (text) => {
        const valid = isIP(text.replace(/%.*$/, '')) !== 0
        expect(canonicalIp(text) === undefined).toBe(!valid)
        expect(truncateIp(text) === undefined).toBe(!valid)
        if (!valid) expect(isPublicIp(text)).toBe(false)
      }),
      { numRuns: 2000 },
    )
  })

  it('canonical text is a valid address, idempotent, and names the same address', () => {
    fc.assert(
      fc.property(anyIp, (ip) => {
        const canonical = canonicalIp(ip)
        if (canonical === undefined) return // e.g. octal/hex IPv4 forms isIP rejects
        expect(isIP(canonical)).not.toBe(0)
        expect(canonicalIp(canonical)).toBe(canonical)
        expect(isPublicIp(canonical)).toBe(isPublicIp(ip))
      }),
      { numRuns: 2000 },
    )
  })

  it('truncation keeps the /24 or /48 network, zeroes the rest, and is idempotent', () => {
    fc.assert(
      fc.property(anyIp, (ip) => {
        const canonical = canonicalIp(ip)
        if (canonical === undefined) return
        const prefix = truncateIp(ip)!
        expect(truncateIp(prefix)).toBe(prefix)
        expect(truncateIp(canonical)).toBe(prefix)
        if (isIP(canonical) === 4) {
          expect(prefix).toBe(`${canonical.split('.').slice(0, 3).join('.')}.0`)
        } else {
          const full = expandV6(canonical)
          expect(expandV6(prefix)).toEqual([...full.slice(0, 3), 0, 0, 0, 0, 0])
        }
      }),
      { numRuns: 2000 },
    )
  })
})

/** Reference expansion of IPv6 text into 8 groups, written independently of ip.ts. */
function expandV6(text: string): number[] {
  const [head, tail] = text.split('::') as [string, string | undefined]
  const groups = (part: string) => (part ? part.split(':').map((g) => Number.parseInt(g, 16)) : [])
  const left = groups(head)
  if (tail === undefined) return left
  const right = groups(tail)
  return [...left, ...Array(8 - left.length - right.length).fill(0), ...right]
}
