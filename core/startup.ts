import { backoffDelay, sleep } from './backoff.ts'
import type { SporConfig } from './config.ts'
import { SporError } from './errors.ts'
import { securityError as kafkaSecurityError } from './kafka-security.ts'
import type { Logger } from './logger.ts'

/**
 * Start-up steps that talk to Elasticsearch or Kafka (readiness, index and topic creation,
 * templates, the tombstone load) run through `retryStartup`: a cluster that is still starting,
 * a load balancer's one-off 502 or a timeout is retried with bounded backoff and one log line per
 * attempt; a refused key, a rejected mapping or bad configuration ends the start at once with
 * one coded error (core/errors.ts) instead of a minute of retries.
 */

export interface StartupPolicy {
  /** The whole step gives up (SPOR_ERR_UNAVAILABLE) once this much time has passed. */
  timeoutMs: number
  /** Full-jitter exponential backoff between attempts (core/backoff.ts). */
  baseMs: number
  maxMs: number
}

export const DEFAULT_STARTUP_POLICY: StartupPolicy = { timeoutMs: 60_000, baseMs: 250, maxMs: 5_000 }

export interface StartupOptions {
  policy?: StartupPolicy
  log?: Logger
  /** Shutdown during start-up: stop waiting. */
  signal?: AbortSignal
  /** For tests of the helper itself. */
  random?: () => number
  now?: () => number
  wait?: (ms: number, signal?: AbortSignal) => Promise<void>
}

/** The start-up options of a service: its configured policy and its logger. */
export function startupOptions(config: SporConfig, log: Logger): StartupOptions {
  return { policy: config.startup, log }
}

/** A permanent verdict carries what to throw: a coded SporError, or an unknown error unchanged (its stack is what a bug report needs). */
export type StartupVerdict = { transient: true; reason: string } | { transient: false; error: Error }

/** Statuses that mean "not now": throttled, a proxy or node not ready, a health wait timed out. */
const TRANSIENT_STATUS = new Set([408, 429, 502, 503, 504])
/** Elasticsearch error types of a cluster that is still forming or recovering. */
const TRANSIENT_ES_TYPE =
  /no_shard_available_action_exception|unavailable_shards_exception|master_not_discovered_exception|not_master_exception|node_not_connected_exception|node_disconnected_exception|cluster_block_exception.*(not recovered|no master|initializ)|process_cluster_event_timeout_exception|circuit_breaking_exception/
/** The ES client's transport failures: nothing was answered. */
const TRANSIENT_ES_CLIENT = new Set(['ConnectionError', 'TimeoutError', 'NoLivingConnectionsError'])
/** kafkajs failures that a broker coming up or a leader election explains. */
const TRANSIENT_KAFKA = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSTimeout',
])
const KAFKA_AUTH = /AUTHORIZATION_FAILED|SASL_AUTHENTICATION_FAILED/
const TRANSIENT_NET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
])
const TLS_TRUST =
  /self[-_ ]signed|unable[-_ ]to[-_ ]verify|unable[-_ ]to[-_ ]get[-_ ]issuer|CERT_|ERR_TLS_CERT|certificate|fingerprint/i

interface AnyError {
  name?: string
  message?: string
  code?: string
  type?: string
  retriable?: boolean
  cause?: unknown
  errors?: unknown[]
  meta?: { statusCode?: number; body?: { error?: { type?: string; reason?: string } | string } }
}

/**
 * Transient or permanent, for any error a start-up step can meet. Unknown errors are permanent:
 * a bug retried for a minute is only a slower crash.
 */
export function classifyStartupError(error: unknown): StartupVerdict {
  if (error instanceof SporError)
    return error.retriable ? { transient: true, reason: error.message } : { transient: false, error }
  const e = (error ?? {}) as AnyError
  const kafkaAuth = kafkaSecurityError(error)
  if (kafkaAuth) return { transient: false, error: kafkaAuth }
  const name = e.name ?? ''
  if (!TRANSIENT_ES_CLIENT.has(name) && typeof e.meta?.statusCode === 'number' && e.meta.statusCode > 0)
    return classifyEsResponse(error, e)
  if (TRANSIENT_ES_CLIENT.has(name)) {
    const cause = causeCode(e)
    if (TLS_TRUST.test(cause) || TLS_TRUST.test(e.message ?? ''))
      return {
        transient: false,
        error: new SporError(
          'SPOR_ERR_ES_AUTH',
          `elasticsearch's TLS certificate is not trusted (${e.message}); check SPOR_ES_CA_FILE or SPOR_ES_CA_FINGERPRINT`,
          { cause: error },
        ),
      }
    return { transient: true, reason: `${name}: ${e.message}` }
  }
  if (name.startsWith('KafkaJS')) return classifyKafka(error, e)
  if (TRANSIENT_NET.has(causeCode(e))) return { transient: true, reason: `${causeCode(e)}: ${e.message}` }
  return { transient: false, error: error instanceof Error ? error : new Error(String(error)) }
}

function causeCode(e: AnyError): string {
  const cause = e.cause as AnyError | undefined
  return e.code ?? cause?.code ?? ''
}

function classifyEsResponse(error: unknown, e: AnyError): StartupVerdict {
  const status = e.meta?.statusCode ?? 0
  const body = e.meta?.body?.error
  const type = typeof body === 'object' ? (body?.type ?? '') : ''
  const reason = typeof body === 'object' ? (body?.reason ?? e.message ?? '') : (e.message ?? '')
  const what = `elasticsearch answered ${status}${type ? ` ${type}` : ''}: ${reason}`.slice(0, 500)
  if (TRANSIENT_STATUS.has(status) || TRANSIENT_ES_TYPE.test(`${type} ${reason}`))
    return { transient: true, reason: what }
  // A read-only block also answers 403: that is a cluster state to fix, not a credential.
  if ((status === 401 || status === 403) && type !== 'cluster_block_exception')
    return {
      transient: false,
      error: new SporError(
        'SPOR_ERR_ES_AUTH',
        `${what}; check SPOR_ES_API_KEY or SPOR_ES_USERNAME/SPOR_ES_PASSWORD and the key's privileges`,
        { cause: error },
      ),
    }
  return { transient: false, error: new SporError('SPOR_ERR_ES_REJECTED', what, { cause: error }) }
}

function classifyKafka(error: unknown, e: AnyError): StartupVerdict {
  const name = e.name ?? ''
  if (Array.isArray(e.errors) && e.errors.length > 0) {
    // An aggregate (one error per topic of a CreateTopics): transient only if every part is.
    for (const part of e.errors) {
      const verdict = classifyStartupError(part)
      if (!verdict.transient) return verdict
    }
    return { transient: true, reason: `${name}: ${e.message}` }
  }
  if (KAFKA_AUTH.test(`${e.type ?? ''} ${e.message ?? ''}`))
    return {
      transient: false,
      error: new SporError('SPOR_ERR_KAFKA_AUTH', `${e.message}; check the Kafka ACLs for spor's user`, {
        cause: error,
      }),
    }
  if (e.retriable || TRANSIENT_KAFKA.has(name)) return { transient: true, reason: `${name}: ${e.message}` }
  return {
    transient: false,
    error: new SporError('SPOR_ERR_KAFKA_REJECTED', `${e.type ?? name}: ${e.message}`, { cause: error }),
  }
}

/**
 * Runs one start-up step until it succeeds, fails permanently (thrown at once as its SporError)
 * or runs out of time (SPOR_ERR_UNAVAILABLE naming the step and the last reason). Each failed
 * attempt logs one warning with the step, the attempt number, the reason and the wait.
 */
export async function retryStartup<T>(
  step: string,
  attemptStep: (attempt: number) => Promise<T>,
  options: StartupOptions = {},
): Promise<T> {
  const policy = options.policy ?? DEFAULT_STARTUP_POLICY
  const now = options.now ?? Date.now
  const wait = options.wait ?? sleep
  const deadline = now() + policy.timeoutMs
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await attemptStep(attempt)
      if (attempt > 1) options.log?.info({ step, attempts: attempt }, 'start-up step succeeded after retries')
      return result
    } catch (error) {
      const verdict = classifyStartupError(error)
      if (!verdict.transient) {
        options.log?.error(
          { step, attempt, code: (verdict.error as { code?: string }).code, err: verdict.error.message },
          'start-up step failed permanently',
        )
        throw verdict.error
      }
      const delay = backoffDelay(policy, attempt - 1, options.random)
      if (now() + delay > deadline || options.signal?.aborted)
        throw new SporError(
          'SPOR_ERR_UNAVAILABLE',
          `${step}: not done after ${policy.timeoutMs} ms (${attempt} attempts); last: ${verdict.reason}`,
          { cause: error },
        )
      options.log?.warn(
        { step, attempt, reason: verdict.reason, retryInMs: delay },
        'start-up step failed; retrying',
      )
      await wait(delay, options.signal)
    }
  }
}

/** Shorthand for a service's steps: `const step = startupSteps(config, log); await step('x', fn)`. */
export function startupSteps(
  config: SporConfig,
  log: Logger,
): <T>(step: string, attemptStep: () => Promise<T>) => Promise<T> {
  const options = startupOptions(config, log)
  return (step, attemptStep) => retryStartup(step, attemptStep, options)
}
