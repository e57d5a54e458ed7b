import { errors } from '@elastic/elasticsearch'
import {
  KafkaJSAggregateError,
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSSASLAuthenticationError,
} from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { SporError } from './errors.ts'
import { classifyStartupError, retryStartup, type StartupPolicy } from './startup.ts'

function esAnswer(statusCode: number, type = 'some_exception', reason = 'why'): Error {
  return new errors.ResponseError({
    statusCode,
    body: { error: { type, reason }, status: statusCode },
    headers: {},
    warnings: null,
    meta: {} as never,
  })
}

// kafkajs's typings lag its constructors (a protocol error is built from {type, code, retriable, message}).
const protocolError = (fields: { type: string; code: number; retriable: boolean; message: string }): Error =>
  new (KafkaJSProtocolError as unknown as new (e: object) => Error)(fields)
const saslError = (message: string): Error =>
  new (KafkaJSSASLAuthenticationError as unknown as new (m: string) => Error)(message)

function netError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:9200`), { code })
}

describe('classifyStartupError: transient', () => {
  it.each([
    ['ES 502', esAnswer(502)],
    ['ES 503', esAnswer(503)],
    ['ES 504', esAnswer(504)],
    ['ES 429', esAnswer(429, 'es_rejected_execution_exception')],
    ['ES 408 (health wait timed out)', esAnswer(408)],
    ['ES no shard available', esAnswer(500, 'no_shard_available_action_exception')],
    [
      'ES cluster state not recovered',
      esAnswer(
        500,
        'cluster_block_exception',
        'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];',
      ),
    ],
    ['ES master not discovered', esAnswer(500, 'master_not_discovered_exception')],
    ['ES connection refused', new errors.ConnectionError('connect ECONNREFUSED 127.0.0.1:9200')],
    ['ES timeout', new errors.TimeoutError('Request timed out')],
    ['ES no living connections', new errors.NoLivingConnectionsError('none', {} as never)],
    ['kafka connection', new KafkaJSConnectionError('Connection error: connect ECONNREFUSED')],
    [
      'kafka retries exceeded',
      new KafkaJSNumberOfRetriesExceeded(new Error('x'), { retryCount: 5, retryTime: 1 }),
    ],
    [
      'kafka retriable protocol error',
      protocolError({
        type: 'LEADER_NOT_AVAILABLE',
        code: 5,
        retriable: true,
        message: 'no leader',
      }),
    ],
    ['socket reset', netError('ECONNRESET')],
    ['DNS not yet', netError('EAI_AGAIN')],
    ['retriable SporError', new SporError('SPOR_ERR_KAFKA', 'no leader yet')],
  ])('%s', (_what, error) => {
    expect(classifyStartupError(error)).toMatchObject({ transient: true })
  })
})

describe('classifyStartupError: permanent, with the code to exit on', () => {
  it.each([
    ['ES 401', esAnswer(401, 'security_exception'), 'SPOR_ERR_ES_AUTH'],
    ['ES 403 privileges', esAnswer(403, 'security_exception'), 'SPOR_ERR_ES_AUTH'],
    ['ES 400 bad mapping', esAnswer(400, 'mapper_parsing_exception'), 'SPOR_ERR_ES_REJECTED'],
    ['ES 404', esAnswer(404, 'index_not_found_exception'), 'SPOR_ERR_ES_REJECTED'],
    [
      'ES 403 read-only block is no credential problem',
      esAnswer(403, 'cluster_block_exception', 'index [x] blocked by: [FORBIDDEN/12/index read-only]'),
      'SPOR_ERR_ES_REJECTED',
    ],
    [
      'ES untrusted certificate',
      new errors.ConnectionError('self-signed certificate in certificate chain'),
      'SPOR_ERR_ES_AUTH',
    ],
    ['kafka login refused', saslError('SASL SCRAM-SHA-512 failed'), 'SPOR_ERR_KAFKA_AUTH'],
    [
      'kafka ACL',
      protocolError({
        type: 'TOPIC_AUTHORIZATION_FAILED',
        code: 29,
        retriable: false,
        message: 'no',
      }),
      'SPOR_ERR_KAFKA_AUTH',
    ],
    [
      'kafka bad topic config',
      protocolError({
        type: 'INVALID_REPLICATION_FACTOR',
        code: 38,
        retriable: false,
        message: 'rf',
      }),
      'SPOR_ERR_KAFKA_REJECTED',
    ],
    [
      'kafka aggregate with one permanent part',
      new KafkaJSAggregateError('create', [
        new KafkaJSConnectionError('x'),
        protocolError({ type: 'POLICY_VIOLATION', code: 44, retriable: false, message: 'p' }),
      ]),
      'SPOR_ERR_KAFKA_REJECTED',
    ],
    ['kafka non-retriable', new KafkaJSNonRetriableError('nope'), 'SPOR_ERR_KAFKA_REJECTED'],
    ['config', new SporError('SPOR_ERR_CONFIG', 'bad'), 'SPOR_ERR_CONFIG'],
  ])('%s', (_what, error, code) => {
    const verdict = classifyStartupError(error)
    expect(verdict.transient).toBe(false)
    expect(!verdict.transient && verdict.error).toMatchObject({ code })
  })

  it('an unknown error (a bug) is permanent and thrown unchanged, stack and all', () => {
    const bug = new TypeError('x is not a function')
    expect(classifyStartupError(bug)).toEqual({ transient: false, error: bug })
  })
})

describe('retryStartup', () => {
  const policy: StartupPolicy = { timeoutMs: 10_000, baseMs: 100, maxMs: 1_000 }

  /** A virtual clock: waits advance it, so the test is exact and takes no time. */
  function virtual() {
    let t = 0
    const waits: number[] = []
    return {
      waits,
      now: () => t,
      wait: async (ms: number) => {
        waits.push(ms)
        t += ms
      },
    }
  }

  function recordingLog() {
    const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = []
    const at = (level: string) => (fields: Record<string, unknown>, msg: string) => {
      lines.push({ level, fields, msg })
    }
    return { lines, log: { warn: at('warn'), info: at('info'), error: at('error') } as never }
  }

  it('retries transient failures with capped full-jitter backoff, one warning per attempt', async () => {
    const clock = virtual()
    const { lines, log } = recordingLog()
    let calls = 0
    const result = await retryStartup(
      'tombstones',
      async (attempt) => {
        calls++
        if (attempt <= 5) throw esAnswer(502)
        return 'loaded'
      },
      { policy, log, random: () => 1, ...clock },
    )
    expect(result).toBe('loaded')
    expect(calls).toBe(6)
    // base·2^n capped at maxMs, at the top of the jitter range (random = 1).
    expect(clock.waits).toEqual([100, 200, 400, 800, 1000])
    const warnings = lines.filter((l) => l.level === 'warn')
    expect(warnings.map((l) => l.fields.attempt)).toEqual([1, 2, 3, 4, 5])
    expect(warnings[0]!.fields).toMatchObject({ step: 'tombstones', retryInMs: 100 })
    expect(String(warnings[0]!.fields.reason)).toContain('502')
    expect(lines.at(-1)).toMatchObject({ level: 'info', fields: { step: 'tombstones', attempts: 6 } })
  })

  it('fails at once on a permanent failure, with its code, after one attempt', async () => {
    const clock = virtual()
    const { lines, log } = recordingLog()
    let calls = 0
    await expect(
      retryStartup(
        'elasticsearch ready',
        async () => {
          calls++
          throw esAnswer(401, 'security_exception', 'missing authentication credentials')
        },
        { policy, log, ...clock },
      ),
    ).rejects.toMatchObject({ code: 'SPOR_ERR_ES_AUTH', message: expect.stringContaining('401') })
    expect(calls).toBe(1)
    expect(clock.waits).toEqual([])
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'error',
        fields: expect.objectContaining({ code: 'SPOR_ERR_ES_AUTH' }),
      }),
    ])
  })

  it('gives up with SPOR_ERR_UNAVAILABLE naming the step and last reason once the budget is spent', async () => {
    const clock = virtual()
    let calls = 0
    const failure = retryStartup(
      'kafka ready',
      async () => {
        calls++
        throw new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092')
      },
      { policy, random: () => 1, ...clock },
    )
    await expect(failure).rejects.toMatchObject({
      code: 'SPOR_ERR_UNAVAILABLE',
      message: expect.stringMatching(
        /kafka ready: not done after 10000 ms \(\d+ attempts\); last: .*ECONNREFUSED/,
      ),
    })
    // 100+200+400+800 then 1000 each: the 13th wait would pass 10 s.
    expect(clock.now()).toBeLessThanOrEqual(policy.timeoutMs)
    expect(calls).toBe(clock.waits.length + 1)
    expect(clock.waits.reduce((a, b) => a + b, 0)).toBe(9500)
  })

  it('stops waiting when the signal aborts (shutdown during start-up)', async () => {
    const controller = new AbortController()
    let calls = 0
    await expect(
      retryStartup(
        'topics',
        async () => {
          calls++
          controller.abort()
          throw esAnswer(503)
        },
        { policy, signal: controller.signal },
      ),
    ).rejects.toMatchObject({ code: 'SPOR_ERR_UNAVAILABLE' })
    expect(calls).toBe(1)
  })
})
