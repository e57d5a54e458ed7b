import { describe, expect, it } from 'vitest'
import { SporError } from '../core/errors.ts'
import { createPseudonymizer } from './pseudonym.ts'

const keyA = Buffer.alloc(32, 'a')
const keyB = Buffer.alloc(32, 'b')

describe('createPseudonymizer', () => {
  const pseudoA = createPseudonymizer(keyA)

  it.each([
    { name: 'user id', tenant: 'acme', value: 'u-1001' },
    { name: 'device id', tenant: 'acme', value: 'device:3f2a9c' },
    { name: 'unicode value', tenant: 'nordlys', value: 'ærlig-øl-å' },
    { name: 'empty value', tenant: 'acme', value: '' },
  ])('$name: stable, 22 base64url chars, not the identity', ({ tenant, value }) => {
    const p = pseudoA(tenant, value)
    expect(p).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(p).not.toBe(value)
    expect(pseudoA(tenant, value)).toBe(p)
    expect(createPseudonymizer(Buffer.from(keyA))(tenant, value)).toBe(p) // same key, new instance
  })

  it.each([
    { name: 'another tenant', other: () => pseudoA('globex', 'u-1001') },
    { name: 'another master key', other: () => createPseudonymizer(keyB)('acme', 'u-1001') },
    { name: 'another value', other: () => pseudoA('acme', 'u-1002') },
    // The tenant prefix is part of the key derivation, not concatenated with the value.
    { name: 'tenant/value boundary moved', other: () => pseudoA('acme-u', '1001') },
  ])('$name gives a different pseudonym', ({ other }) => {
    expect(other()).not.toBe(pseudoA('acme', 'u-1001'))
  })

  it('does not depend on the caller keeping its key buffer intact', () => {
    const key = Buffer.alloc(32, 'c')
    const pseudo = createPseudonymizer(key)
    const before = pseudo('acme', 'u-1001')
    key.fill(0)
    expect(pseudo('acme', 'u-1001')).toBe(before)
  })

  it.each([0, 16, 31])('a %i-byte master key is a config error', (length) => {
    expect(() => createPseudonymizer(Buffer.alloc(length, 'k'))).toThrow(SporError)
    expect(() => createPseudonymizer(Buffer.alloc(length, 'k'))).toThrow(/at least 32 bytes/)
  })

  describe('with a cache', () => {
    it('gives exactly the uncached pseudonyms, also after entries were evicted', () => {
      const cached = createPseudonymizer(keyA, { cacheSize: 3 })
      const pairs = [
        ['acme', 'u-1'],
        ['acme', 'u-2'],
        ['globex', 'u-1'],
        ['acme', 'device:u-1'],
        ['ab', 'c'],
        ['a', 'bc'],
        ['1:a', 'b'],
        ['1', ':ab'],
      ] as const
      for (let round = 0; round < 3; round++) {
        for (const [tenant, value] of pairs) expect(cached(tenant, value)).toBe(pseudoA(tenant, value))
      }
    })

    it('never answers one (tenant, value) pair with the entry of a pair spelling the same text', () => {
      const cached = createPseudonymizer(keyA, { cacheSize: 100 })
      expect(cached('ab', 'c')).not.toBe(cached('a', 'bc'))
      expect(cached('1:a', 'b')).not.toBe(cached('1', ':ab'))
      expect(cached('a', 'bc')).toBe(pseudoA('a', 'bc'))
    })

    it('belongs to its key: a rotated key gives its own pseudonyms at once', () => {
      const current = createPseudonymizer(keyA, { cacheSize: 100 })
      const rotated = createPseudonymizer(keyB, { cacheSize: 100 })
      expect(current('acme', 'u-1001')).toBe(pseudoA('acme', 'u-1001'))
      expect(rotated('acme', 'u-1001')).toBe(createPseudonymizer(keyB)('acme', 'u-1001'))
      expect(rotated('acme', 'u-1001')).not.toBe(current('acme', 'u-1001'))
    })
  })
})
