import { isIP } from 'node:net'

/**
 * An address as numbers: IPv4 as one unsigned 32-bit value, IPv6 as 8 16-bit groups.
 * IPv4-mapped IPv6 is already IPv4 here.
 */
type ParsedIp = { family: 4; value: number } | { family: 6; groups: number[] }

const CHAR_0 = 48
const CHAR_9 = 57
const CHAR_DOT = 46

/**
 * Special-purpose ranges (IANA IPv4/IPv6 Special-Purpose Address Registries): none of them locates
 * a person, so geo lookup skips them and never asks the database. Checked as numbers: this runs
 * once per event, and net.BlockList builds a SocketAddress for every check.
 */
const RESERVED_V4: readonly (readonly [number, number])[] = (
  [
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
  ] as const
).map(([net, bits]) => [parseV4(net), bits] as const)

// Only 2000::/3 is allocated as global unicast, so v6 is checked against it first; that already
// excludes ::, ::1, NAT64 64:ff9b::/96, 100::/64, fc00::/7 (ULA), fe80::/10, fec0::/10, ff00::/8.
const GLOBAL_V6 = [parseV6('2000::'), 3] as const
const RESERVED_V6: readonly (readonly [number[], number])[] = (
  [
    ['2001::', 23], // IETF protocol assignments (Teredo, benchmarking, ORCHID)
    ['2001:db8::', 32], // documentation
    ['3fff::', 20], // documentation (RFC 9637)
  ] as const
).map(([net, bits]) => [parseV6(net), bits] as const)

// Ranges are read by index, not destructured: array destructuring runs the iterator protocol,
// which V8 did not optimise away here (an iterator per range, 2.3 kB per IPv4 event).
const inV4 = (value: number, range: readonly [number, number]): boolean =>
  (value ^ range[0]) >>> (32 - range[1]) === 0

/** Whether the first `bits` bits of two IPv6 addresses are equal. */
function inV6(groups: readonly number[], range: readonly [readonly number[], number]): boolean {
  const net = range[0]
  const bits = range[1]
  let i = 0
  for (; (i + 1) * 16 <= bits; i++) if (groups[i] !== net[i]) return false
  const rest = bits - i * 16
  return rest === 0 || (groups[i]! ^ net[i]!) >>> (16 - rest) === 0
}

/**
 * Dotted-quad IPv4 exactly as net.isIP accepts it (decimal 0-255, no leading zeros, nothing
 * around it), as an unsigned 32-bit value; -1 for anything else. The text of an accepted address
 * is already its canonical form.
 */
function parseV4(text: string): number {
  const length = text.length
  if (length < 7 || length > 15) return -1
  let value = 0
  let part = 0
  let digits = 0
  let parts = 0
  for (let i = 0; i <= length; i++) {
    const c = i < length ? text.charCodeAt(i) : CHAR_DOT
    if (c === CHAR_DOT) {
      if (digits === 0 || part > 255 || ++parts > 4) return -1
      value = value * 256 + part
      part = 0
      digits = 0
    } else if (c >= CHAR_0 && c <= CHAR_9) {
      if (digits === 1 && part === 0) return -1 // leading zero
      part = part * 10 + (c - CHAR_0)
      digits++
    } else {
      return -1
    }
  }
  return parts === 4 ? value : -1
}

/** Parses an address once for all helpers here; undefined when it is not a plain IP address. */
function parseIp(ip: string): ParsedIp | undefined {
  const v4 = parseV4(ip)
  if (v4 >= 0) return { family: 4, value: v4 }
  let groups = parseHexV6(ip)
  if (groups === undefined) {
    // Forms the quick parser leaves out (zone id, dotted tail) go through net.isIP's grammar.
    // parseV4 takes every IPv4 text isIP takes (ip.property.test.ts), so only IPv6 is left here.
    if (isIP(ip) !== 6) return undefined
    groups = parseV6(ip.replace(/%.*$/, '')) // a zone id ("fe80::1%eth0") names an interface, not a host
  }
  // ::ffff:a.b.c.d is an IPv4 client seen through a dual-stack socket: treat it as IPv4.
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0) {
    if (groups[5] === 0xffff) return { family: 4, value: groups[6]! * 0x10000 + groups[7]! }
  }
  return { family: 6, groups }
}

const hexDigit = (c: number): number =>
  c >= CHAR_0 && c <= CHAR_9 ? c - CHAR_0 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1

/**
 * IPv6 written as hex groups only (1-4 digits each, at most one "::", nothing else), which is
 * how clients and proxies write nearly every address: 8 groups, or undefined for any other text,
 * valid or not. Every text it accepts, net.isIP accepts as IPv6 (eight groups, or "::" standing
 * for one or more zero groups among at most seven).
 */
function parseHexV6(text: string): number[] | undefined {
  if (text.length < 2 || text.length > 39) return undefined
  const gapAt = text.indexOf('::')
  if (gapAt >= 0 && text.indexOf('::', gapAt + 1) >= 0) return undefined // ":::" or a second "::"
  const groups: number[] = []
  if (!hexGroups(text, 0, gapAt < 0 ? text.length : gapAt, groups)) return undefined
  if (gapAt < 0) return groups.length === 8 ? groups : undefined
  const head = groups.length
  if (!hexGroups(text, gapAt + 2, text.length, groups)) return undefined
  const tail = groups.length - head
  if (tail > 7 - head) return undefined // "::" stands for at least one zero group
  // Move the groups after "::" to the end and fill the gap with zeros (in place: this runs per event).
  groups.length = 8
  for (let i = tail - 1; i >= 0; i--) groups[8 - tail + i] = groups[head + i]!
  for (let i = head; i < 8 - tail; i++) groups[i] = 0
  return groups
}

/** Appends the colon-separated groups of text[from, to) (1-4 hex digits each); false if malformed. */
function hexGroups(text: string, from: number, to: number, out: number[]): boolean {
  if (from === to) return true
  let group = 0
  let digits = 0
  for (let i = from; i <= to; i++) {
    const c = i < to ? text.charCodeAt(i) : 58
    if (c === 58 /* : */) {
      if (digits === 0 || out.length === 8) return false
      out.push(group)
      group = 0
      digits = 0
      continue
    }
    const d = hexDigit(c)
    if (d < 0 || digits === 4) return false
    group = group * 16 + d
    digits++
  }
  return true
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
function formatV6(groups: readonly number[]): string {
  let best = -1
  let bestLen = 1
  for (let i = 0; i < groups.length; ) {
    let j = i
    while (groups[j] === 0) j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j + 1
  }
  let text = ''
  for (let i = 0; i < groups.length; i++) {
    if (i === best) {
      text += '::'
      i += bestLen - 1
    } else {
      if (text !== '' && i !== best + bestLen) text += ':'
      text += groups[i]!.toString(16)
    }
  }
  return text
}

const formatV4 = (value: number): string =>
  `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`

function format(p: ParsedIp): string {
  return p.family === 4 ? formatV4(p.value) : formatV6(p.groups)
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
  if (p.family === 4) return formatV4(p.value & 0xffffff00)
  const [a = 0, b = 0, c = 0] = p.groups
  return formatV6([a, b, c, 0, 0, 0, 0, 0])
}

function isPublic(p: ParsedIp): boolean {
  if (p.family === 4) {
    for (let i = 0; i < RESERVED_V4.length; i++) if (inV4(p.value, RESERVED_V4[i]!)) return false
    return true
  }
  if (!inV6(p.groups, GLOBAL_V6)) return false
  for (let i = 0; i < RESERVED_V6.length; i++) if (inV6(p.groups, RESERVED_V6[i]!)) return false
  return true
}

/** True for a globally routable unicast address; false for reserved ranges and for invalid input. */
export function isPublicIp(ip: string): boolean {
  const p = parseIp(ip)
  return p !== undefined && isPublic(p)
}

/**
 * A globally routable address in canonical text with its family (what a geo database is asked
 * for), parsed once; undefined for reserved ranges and invalid input.
 */
export function publicIp(ip: string): { text: string; family: 4 | 6 } | undefined {
  const p = parseIp(ip)
  if (p === undefined || !isPublic(p)) return undefined
  // A dotted quad parseV4 accepts is already canonical: no new text per event.
  const text = p.family === 4 && parseV4(ip) === p.value ? ip : format(p)
  return { text, family: p.family }
}
