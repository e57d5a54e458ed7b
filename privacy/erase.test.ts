import { describe, expect, it } from 'vitest'
import { withoutIdentifiers } from './erase.ts'

describe('withoutIdentifiers', () => {
  it.each([
    [
      'strips user, session and IP prefix, keeps country and the business facts',
      {
        '@timestamp': 't',
        event: { id: 'e', type: 'job.start', v: 1 },
        tenant: 'acme',
        user: { id: 'u1', pseudo: 'p' },
        session: { id: 's' },
        source: { ip_prefix: '81.166.12.0', geo: { country: 'NO' } },
        module: 'mail',
        props: { recipients: 5 },
      },
      {
        '@timestamp': 't',
        event: { id: 'e', type: 'job.start', v: 1 },
        tenant: 'acme',
        user: { erased: true },
        source: { geo: { country: 'NO' } },
        module: 'mail',
        props: { recipients: 5 },
      },
    ],
    [
      'a document without source stays without one',
      { tenant: 'acme', user: { id: 'u' } },
      { tenant: 'acme', user: { erased: true } },
    ],
  ])('%s', (_name, input, expected) => {
    expect(withoutIdentifiers(input)).toEqual(expected)
  })
})
