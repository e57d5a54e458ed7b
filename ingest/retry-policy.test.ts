import { errors } from '@elastic/elasticsearch'
import { describe, expect, it } from 'vitest'
import { classifyItemStatus, classifyRequestError } from './retry-policy.ts'

const response = (statusCode: number) =>
  new errors.ResponseError({
    statusCode,
    body: { error: 'x' },
    headers: {},
    warnings: null,
    meta: {} as never,
  })

describe('classifyItemStatus', () => {
  it.each([
    [200, 'done'],
    [201, 'done'],
    [400, 'dlq'], // mapper_parsing_exception, strict_dynamic_mapping_exception
    [401, 'pause'], // credentials: every document would fail
    [403, 'pause'], // cluster_block_exception (read-only index, disk watermark)
    [404, 'pause'], // index_not_found_exception where auto-creation is off
    [409, 'dlq'],
    [413, 'dlq'],
    [429, 'retry'], // es_rejected_execution_exception: the cluster is busy
    [500, 'retry'],
    [503, 'retry'],
  ] as const)('%i → %s', (status, decision) => {
    expect(classifyItemStatus(status)).toBe(decision)
  })
})

describe('classifyRequestError', () => {
  it.each([
    ['connection refused', new errors.ConnectionError('connect ECONNREFUSED'), 'retry'],
    ['timeout', new errors.TimeoutError('timeout'), 'retry'],
    ['no living connections', new errors.NoLivingConnectionsError('none', {} as never), 'retry'],
    ['429', response(429), 'retry'],
    ['502', response(502), 'retry'],
    ['503', response(503), 'retry'],
    ['400 for the whole request', response(400), 'fatal'],
    ['401', response(401), 'fatal'],
    ['a bug', new TypeError('x is undefined'), 'fatal'],
  ])('%s → %s', (_name, error, decision) => {
    expect(classifyRequestError(error)).toBe(decision)
  })
})
