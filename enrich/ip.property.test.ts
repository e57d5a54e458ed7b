import { BlockList, isIP } from 'node:net'
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

/**
 * The special-purpose ranges as net.BlockList sees them (the implementation before ip.ts checked
 * them as numbers): the oracle for isPublicIp.
 */
const reservedOracle = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  reservedOracle.addSubnet(net, bits, 'ipv4')
}
for (const [net, bits] of [
  ['2001::', 23],
  ['2001:db8::', 32],
  ['3fff::', 20],
] as const) {
  reservedOracle.addSubnet(net, bits, 'ipv6')
}
const globalV6Oracle = new BlockList()
globalV6Oracle.addSubnet('2000::', 3, 'ipv6')

describe('property: IP helpers against net.isIP and net.BlockList', () => {
  // Text made of the characters addresses are written with, so that near-misses are common.
  const addressLike = fc.string({
    unit: fc.constantFrom(...'0123456789abcdefABCDEF:.%'.split(''), ':', '::', '0', 'ffff:'),
    maxLength: 46,
  })

  // Hex groups, 0 to 9 of them, with "::" (or ":" or ":::") put in somewhere: counts around 8.
  const groupLists = fc
    .tuple(
      fc.array(
        fc
          .oneof(
            { arbitrary: fc.integer({ min: 0, max: 0xffff }), weight: 20 },
            { arbitrary: fc.integer({ min: 0x10000, max: 0x1ffff }), weight: 1 },
          )
          .map((g) => g.toString(16)),
        { maxLength: 9 },
      ),
      fc.nat(9),
      fc.constantFrom('', ':', '::', ':::'),
    )
    .map(([groups, at, gap]) => {
      const i = Math.min(at, groups.length)
      return `${groups.slice(0, i).join(':')}${gap}${groups.slice(i).join(':')}`
    })

  it('accept exactly what net.isIP accepts (without a zone id), on address-like text', () => {
    fc.assert(
      fc.property(fc.oneof(addressLike, groupLists), (text) => {
        const valid = isIP(text.replace(/%.*$/, '')) !== 0 && isIP(text) !== 0
        expect(canonicalIp(text) !== undefined).toBe(valid)
      }),
      { numRuns: 20_000 },
    )
  })

  it('isPublicIp agrees with BlockList checks of the canonical address', () => {
    const octet = fc.integer({ min: 0, max: 255 })
    const nearReserved = fc
      .tuple(fc.constantFrom(0, 10, 100, 127, 169, 172, 192, 198, 203, 224, 240, 255), octet, octet, octet)
      .map((o) => o.join('.'))
    const v6Prefix = fc
      .tuple(
        fc.constantFrom('2001', '2000', '3fff', '4000', '1fff', 'fc00', '2001:db8'),
        fc.integer({ min: 0, max: 0xffff }),
      )
      .map(([p, g]) => `${p}:${g.toString(16)}::1`)
    fc.assert(
      fc.property(fc.oneof(anyIp, nearReserved, v6Prefix), (ip) => {
        const canonical = canonicalIp(ip)
        if (canonical === undefined) return
        const family = isIP(canonical) === 4 ? 'ipv4' : 'ipv6'
        const want =
          family === 'ipv4'
            ? !reservedOracle.check(canonical, 'ipv4')
            : globalV6Oracle.check(canonical, 'ipv6') && !reservedOracle.check(canonical, 'ipv6')
        expect(isPublicIp(ip)).toBe(want)
      }),
      { numRuns: 5000 },
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
