import { describe, expect, it } from 'vitest'
import { withoutIdentifiers } from './erase.ts'

describe('withoutIdentifiers', () => {
  it.each([
    [
      'first shape (not yet migrated): strips user, session, IP prefix and client props, keeps country, object and the business facts',
      {
        '@timestamp': 't',
        event: { id: 'e', type: 'job.start', v: 1 },
        tenant: 'acme',
        user: { id: 'u1', pseudo: 'p' },
        session: { id: 's' },
        source: { ip_prefix: '81.166.12.0', geo: { country: 'NO' } },
        module: 'mail',
        object: { type: 'campaign', id: 'c1' },
        props: { recipients: 5, to: 'someone@example.com' },
      },
      {
        '@timestamp': 't',
        event: { id: 'e', type: 'job.start', v: 1 },
        tenant: 'acme',
        user: { erased: true },
        source: { geo: { country: 'NO' } },
        module: 'mail',
        object: { type: 'campaign', id: 'c1' },
      },
    ],
    [
      "an audit record of a request the person made keeps spor's pseudonymous properties only",
      {
        event: { id: 'privacy-export-1', type: 'privacy.export', v: 1 },
        tenant: 'acme',
        user: { id: 'admin', pseudo: 'pa' },
        module: 'privacy',
        props: { requester_key: 'k1', subject_pseudo: 'ps', count_short: 3, note: 'x@example.com' },
      },
      {
        event: { id: 'privacy-export-1', type: 'privacy.export', v: 1 },
        tenant: 'acme',
        user: { erased: true },
        module: 'privacy',
        props: { requester_key: 'k1', subject_pseudo: 'ps', count_short: 3 },
      },
    ],
    [
      'a document without source stays without one',
      { tenant: 'acme', user: { id: 'u' } },
      { tenant: 'acme', user: { erased: true } },
    ],
    [
      'ECS shape: strips user, session, IP prefix and client props, keeps country, object and the facts',
      {
        '@timestamp': 't',
        event: { id: 'e', action: 'job.start', kind: 'event', category: ['process'], ingested: 't' },
        organization: { id: 'acme' },
        user: { id: 'u1', hash: 'p' },
        source: { geo: { country_iso_code: 'NO' } },
        spor: {
          event_version: 1,
          origin: 'server',
          session: { id: 's' },
          source: { ip_prefix: '81.166.12.0' },
          module: 'mail',
          object: { type: 'campaign', id: 'c1' },
        },
        props: { recipients: 5, to: 'someone@example.com' },
      },
      {
        '@timestamp': 't',
        event: { id: 'e', action: 'job.start', kind: 'event', category: ['process'], ingested: 't' },
        organization: { id: 'acme' },
        source: { geo: { country_iso_code: 'NO' } },
        spor: {
          event_version: 1,
          origin: 'server',
          user_erased: true,
          module: 'mail',
          object: { type: 'campaign', id: 'c1' },
        },
      },
    ],
    [
      "ECS shape: an audit record keeps spor's pseudonymous properties only",
      {
        event: { id: 'privacy-export-1', action: 'privacy.export' },
        organization: { id: 'acme' },
        user: { id: 'admin', hash: 'pa' },
        spor: { module: 'privacy' },
        props: { requester_key: 'k1', subject_pseudo: 'ps', count_short: 3, note: 'x@example.com' },
      },
      {
        event: { id: 'privacy-export-1', action: 'privacy.export' },
        organization: { id: 'acme' },
        spor: { module: 'privacy', user_erased: true },
        props: { requester_key: 'k1', subject_pseudo: 'ps', count_short: 3 },
      },
    ],
  ])('%s', (_name, input, expected) => {
    expect(withoutIdentifiers(input)).toEqual(expected)
  })
})
