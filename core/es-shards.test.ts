import { errors } from '@elastic/elasticsearch'
import { describe, expect, it } from 'vitest'
import { whenShardsStarted } from './es.ts'

/** An error as the client throws it for an answer with this status and body. */
function responseError(statusCode: number, reason: string, type = 'search_phase_execution_exception'): Error {
  return new errors.ResponseError({
    body: { error: { type, reason, caused_by: { type, reason } } },
    statusCode,
    headers: {},
    warnings: null,
    meta: {} as never,
  })
}

describe('whenShardsStarted', () => {
  it('reads again while an index is just being created, then answers', async () => {
    const failures = [
      responseError(503, 'Search rejected due to missing shards [[spor-short-ecs-2026.12.01][0]]'),
      responseError(503, 'no_shard_available_action_exception'),
    ]
    let calls = 0
    const answer = await whenShardsStarted(
      async () => {
        calls++
        const failure = failures.shift()
        if (failure) throw failure
        return 'read'
      },
      { waitMs: 1 },
    )
    expect(answer).toBe('read')
    expect(calls).toBe(3)
  })

  it('throws any other error at once, and shards still missing after the last attempt', async () => {
    let calls = 0
    const badQuery = whenShardsStarted(
      async () => {
        calls++
        throw responseError(400, 'unknown query [mach]', 'parsing_exception')
      },
      { waitMs: 1 },
    )
    await expect(badQuery).rejects.toThrow(/parsing_exception/)
    expect(calls).toBe(1)
    calls = 0
    const never = whenShardsStarted(
      async () => {
        calls++
        throw responseError(503, 'no_shard_available_action_exception')
      },
      { attempts: 3, waitMs: 1 },
    )
    await expect(never).rejects.toThrow(/no_shard_available/)
    expect(calls).toBe(3)
  })
})
