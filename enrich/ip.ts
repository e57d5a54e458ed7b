import { BlockList, isIP } from 'node:net'

/** An address as numbers: 4 octets, or 8 16-bit groups. IPv4-mapped IPv6 is already IPv4 here. */
type ParsedIp = { family: 4; octets: number[] } | { family: 6; groups: number[] }

/**
 * Special-purpose ranges (IANA IPv4/IPv6 Special-Purpose Address Registries): none of them locates
 * a person, so geo lookup skips them and never asks the database.
 */
const RESERVED = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation TEST-NET-2
  ['203.0.113.0', 24], // documentation TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, includes broadcast 255.255.255.255
] as const) {
  RESERVED.addSubnet(net, bits, 'ipv4')
}
// Only 2000::/3 is allocated as global unicast, so v6 is checked against it first; that already
// excludes ::, ::1, NAT64 64:ff9b::/96, 100::/64, fc00::/7 (ULA), fe80::/10, fec0::/10, ff00::/8.
const GLOBAL_V6 = new BlockList()
GLOBAL_V6.addSubnet('2000::', 3, 'ipv6')
for (const [net, bits] of [
  ['2001::', 23], // IETF protocol assignments (Teredo, benchmarking, ORCHID)
  ['2001:db8::', 32], // documentation
  ['3fff::', 20], // documentation (RFC 9637)
] as const) {
  RESERVED.addSubnet(net, bits, 'ipv6')
}

/** Parses an address once for all helpers here; undefined when it is not a plain IP address. */
function parseIp(ip: string): ParsedIp | undefined {
  const family = isIP(ip)
  if (family === 4) return { family: 4, octets: ip.split('.').map(Number) }
  if (family !== 6) return undefined
  const groups = parseV6(ip.replace(/%.*$/, '')) // a zone id ("fe80::1%eth0") names an interface, not a host
  // ::ffff:a.b.c.d is an IPv4 client seen through a dual-stack socket: treat it as IPv4.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6)
    return { family: 4, octets: [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff] }
  }
  return { family: 6, groups }
}

/** Expands an address that isIP() accepted into 8 groups ("::" filled, dotted tail converted). */
function parseV6(ip: string): number[] {
  const toGroups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [Number.parseInt(g, 16)]
          const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number)
          return [(a << 8) | b, (c << 8) | d]
        })
  const [head = '', tail] = ip.split('::')
  const left = toGroups(head)
  if (tail === undefined) return left
  const right = toGroups(tail)
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right]
}

/** RFC 5952 text: lower-case hex, no leading zeros, the first longest run of 2+ zero groups as "::". */
function formatV6(groups: number[]): string {
  let best = -1
  let bestLen = 1
  for (let i = 0; i < groups.length; ) {
    let j = i
    while (groups[j] === 0) j++
    if (j - i > bestLen) [best, bestLen] = [i, j - i]
    i = j + 1
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':')
  if (best < 0) return hex(groups)
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`
}

function format(p: ParsedIp): string {
  return p.family === 4 ? p.octets.join('.') : formatV6(p.groups)
}

/** Canonical text of an address (IPv4-mapped IPv6 becomes IPv4, zone ids dropped); undefined if invalid. */
export function canonicalIp(ip: string): string | undefined {
  const p = parseIp(ip)
  return p && format(p)
}

/**
 * The network part kept wherever an IP outlives the raw (21-day) class: IPv4 /24, IPv6 /48.
 * `203.0.113.77` -> `203.0.113.0`, `2001:db8:abcd:12::1` -> `2001:db8:abcd::`.
 */
export function truncateIp(ip: string): string | undefined {
  const p = parseIp(ip)
  if (p === undefined) return undefined
  if (p.family === 4) return format({ family: 4, octets: [...p.octets.slice(0, 3), 0] })
  return format({ family: 6, groups: [...p.groups.slice(0, 3), 0, 0, 0, 0, 0] })
}

/** True for a globally routable unicast address; false for reserved ranges and for invalid input. */
export function isPublicIp(ip: string): boolean {
  const p = parseIp(ip)
  if (p === undefined) return false
  if (p.family === 4) return !RESERVED.check(format(p), 'ipv4')
  const text = format(p)
  return GLOBAL_V6.check(text, 'ipv6') && !RESERVED.check(text, 'ipv6')
}
