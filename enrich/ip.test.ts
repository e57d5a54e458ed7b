import { describe, expect, it } from 'vitest'
import { canonicalIp, isPublicIp, truncateIp } from './ip.ts'

describe('truncateIp', () => {
  it.each([
    ['203.0.113.77', '203.0.113.0'],
    ['8.8.8.8', '8.8.8.0'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.0'],
    ['2001:db8:abcd:12:1:2:3:4', '2001:db8:abcd::'],
    ['2001:0DB8:ABCD:0012:0000:0000:0000:0001', '2001:db8:abcd::'],
    ['2001:db8::1', '2001:db8::'],
    ['2001:0:0:1::1', '2001::'], // the zero run after /48 joins the one inside it
    ['2a01:79c:cebd:1234::1', '2a01:79c:cebd::'],
    ['fe80::1%eth0', 'fe80::'], // zone id dropped
    ['::1', '::'],
    ['1:2:3:4:5:6:7::', '1:2:3::'], // "::" for one group, at either end
    ['::1:2:3:4:5:6:7', '0:1:2::'],
    ['::ffff:1.2.3.4', '1.2.3.0'], // IPv4-mapped is IPv4
    ['::ffff:102:304', '1.2.3.0'], // the same, written in hex
    ['::FFFF:81.167.0.1', '81.167.0.0'],
  ])('%s -> %s', (ip, want) => {
    expect(truncateIp(ip)).toBe(want)
  })

  it.each([
    '',
    'x',
    '1.2.3',
    '1.2.3.4.5',
    '01.2.3.4',
    '1.2.3.256',
    '1.2.3.4/24',
    ' 1.2.3.4',
    '2001:db8::1::2',
    '12345::',
    '1:2:3:4::5:6:7:8', // "::" must stand for at least one group
    '::1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7:8::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    ':1::2',
    '1::2:',
    '1:::2',
    ':::',
    'g::1',
  ])('invalid %j -> undefined', (ip) => {
    expect(truncateIp(ip)).toBeUndefined()
    expect(canonicalIp(ip)).toBeUndefined()
    expect(isPublicIp(ip)).toBe(false)
  })
})

describe('canonicalIp', () => {
  it.each([
    ['8.8.8.8', '8.8.8.8'],
    ['::ffff:8.8.8.8', '8.8.8.8'],
    ['2001:0DB8:0000:0:1:0:0:1', '2001:db8::1:0:0:1'], // RFC 5952: the first of equally long runs
    ['2001:db8:0:0:1:0:0:0', '2001:db8:0:0:1::'], // ... and the longest one
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group stays
    ['::', '::'],
  ])('%s -> %s', (ip, want) => {
    expect(canonicalIp(ip)).toBe(want)
  })
})

describe('isPublicIp', () => {
  it.each([
    ['8.8.8.8', true],
    ['81.167.0.1', true],
    ['::ffff:8.8.8.8', true],
    ['2001:4860:4860::8888', true],
    ['2a01:79c::1', true],
    ['0.1.2.3', false], // "this network"
    ['10.0.0.1', false],
    ['100.64.0.1', false], // CGNAT
    ['100.128.0.1', true], // just past CGNAT
    ['127.0.0.1', false],
    ['169.254.1.1', false],
    ['172.16.0.1', false],
    ['172.32.0.1', true], // just past 172.16/12
    ['192.0.2.1', false],
    ['192.168.1.1', false],
    ['198.18.0.1', false],
    ['198.51.100.1', false],
    ['203.0.113.77', false],
    ['224.0.0.1', false],
    ['255.255.255.255', false],
    ['::ffff:192.168.1.1', false], // mapped private is private
    ['::', false],
    ['::1', false],
    ['64:ff9b::808:808', false], // NAT64
    ['fc00::', false],
    ['fd12:3456::1', false],
    ['fe80::1%eth0', false],
    ['ff02::1', false],
    ['2001:db8::1', false],
    ['2001::1', false], // Teredo
    ['3fff::1', false],
  ])('%s -> %s', (ip, want) => {
    expect(isPublicIp(ip)).toBe(want)
  })
})
