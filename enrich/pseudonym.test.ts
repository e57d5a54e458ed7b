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
})
