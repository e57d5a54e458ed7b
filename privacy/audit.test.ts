import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { IDENTIFIER_PATTERN } from '../core/event-schema.ts'
import { documentId } from '../ingest/plan-batch.ts'
import { auditDocumentId } from './audit.ts'

const identifier = new RegExp(IDENTIFIER_PATTERN)
const tenantPattern = /^[a-z0-9][a-z0-9_-]*$/

describe('audit record ids', () => {
  it('no valid event, from any producer and any tenant, gets the _id of an audit record', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(tenantPattern),
        fc.stringMatching(identifier),
        fc.stringMatching(tenantPattern),
        fc.uuid(),
        fc.constantFrom('export', 'erase'),
        (tenant, eventId, auditTenant, uuid, action) => {
          const audit = auditDocumentId(auditTenant, `privacy-${action}-${uuid}`)
          expect(documentId(tenant, eventId)).not.toBe(audit)
        },
      ),
      { numRuns: 2000 },
    )
  })
  it('the id an attacker would copy (privacy-export-<uuid>) still misses', () => {
    const uuid = '0b8f6a1e-1c1e-4d7e-9d55-6a1f0e2b3c4d'
    expect(documentId('acme', `privacy-export-${uuid}`)).not.toBe(
      auditDocumentId('acme', `privacy-export-${uuid}`),
    )
  })
})
