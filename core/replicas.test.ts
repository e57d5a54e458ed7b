import { describe, expect, it } from 'vitest'
import { parseReplicas } from './replicas.ts'

describe('SPOR_ES_REPLICAS', () => {
  it.each([
    ['0', { number_of_replicas: 0, auto_expand_replicas: 'false' }],
    ['2', { number_of_replicas: 2, auto_expand_replicas: 'false' }],
    ['0-1', { auto_expand_replicas: '0-1' }],
    ['1-all', { auto_expand_replicas: '1-all' }],
  ])('%s gives the index settings %j', (setting, settings) => {
    expect(parseReplicas(setting).settings).toEqual(settings)
  })

  it.each([
    // setting, data nodes, replicas per primary
    ['2', 1, 2],
    ['2', 5, 2],
    ['0-1', 1, 0],
    ['0-1', 2, 1],
    ['0-1', 5, 1],
    ['0-all', 1, 0],
    ['0-all', 4, 3],
    ['1-3', 1, 1],
    ['1-3', 3, 2],
    ['1-3', 9, 3],
    ['1-all', 0, 1],
    ['0-all', 0, 0],
  ])('%s on %i data nodes is %i replicas', (setting, nodes, replicas) => {
    expect(parseReplicas(setting).replicasOn(nodes)).toBe(replicas)
  })

  it.each(['', '-1', 'all', '1-', '0-1-2', ' 1', '100', '1.5', '0-al'])(
    'refuses %j with a config error',
    (setting) => {
      expect(() => parseReplicas(setting)).toThrow(expect.objectContaining({ code: 'SPOR_ERR_CONFIG' }))
    },
  )
})
