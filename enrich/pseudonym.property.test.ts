import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createPseudonymizer } from './pseudonym.ts'

describe('property: pseudonyms', () => {
  const pseudonym = createPseudonymizer(Buffer.alloc(32, 9))

  it('are stable, 22 base64url characters, and never the input itself', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (tenant, value) => {
        const p = pseudonym(tenant, value)
        expect(p).toMatch(/^[A-Za-z0-9_-]{22}$/)
        expect(pseudonym(tenant, value)).toBe(p)
        expect(p).not.toBe(value)
      }),
    )
  })

  it('differ between tenants and between values (no cross-tenant joins, S11)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (a, b, value) => {
        fc.pre(a !== b)
        expect(pseudonym(a, value)).not.toBe(pseudonym(b, value))
        expect(pseudonym(a, value)).not.toBe(pseudonym(a, `${value}\u0000`))
      }),
    )
  })

  it('depend on the master key', () => {
    const other = createPseudonymizer(Buffer.alloc(32, 10))
    fc.assert(
      fc.property(fc.string(), fc.string(), (tenant, value) => {
        expect(other(tenant, value)).not.toBe(pseudonym(tenant, value))
      }),
    )
  })
})

describe('pseudonym master key length', () => {
  it('takes a key of exactly 32 bytes (inside the test, not at import) and refuses 31', () => {
    expect(createPseudonymizer(Buffer.alloc(32, 1))('acme', 'u1')).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(createPseudonymizer(Buffer.alloc(64, 1))('acme', 'u1')).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(() => createPseudonymizer(Buffer.alloc(31, 1))).toThrow(
      expect.objectContaining({
        code: 'SPOR_ERR_CONFIG',
        message: expect.stringMatching(/at least 32 bytes/),
      }),
    )
  })
})
