/**
 * One registry of spor's error codes. Each code has a stable name, an HTTP status for the APIs and
 * a flag saying whether retrying the same operation can succeed. Expected outcomes of event
 * processing (bad input, unknown type) are values (`dlq` results), not these errors.
 */
export const ERRORS = {
  SPOR_ERR_CONFIG: { status: 500, retriable: false, message: 'invalid configuration' },
  SPOR_ERR_STACK: { status: 500, retriable: false, message: 'local stack failed' },
  SPOR_ERR_UNAUTHORIZED: { status: 401, retriable: false, message: 'missing or invalid key' },
  SPOR_ERR_FORBIDDEN: { status: 403, retriable: false, message: 'not allowed for this key' },
  SPOR_ERR_NOT_FOUND: { status: 404, retriable: false, message: 'not found' },
  SPOR_ERR_BAD_REQUEST: { status: 400, retriable: false, message: 'bad request' },
  SPOR_ERR_PAYLOAD_TOO_LARGE: { status: 413, retriable: false, message: 'payload too large' },
  SPOR_ERR_RATE_LIMITED: { status: 429, retriable: true, message: 'rate limit exceeded' },
  SPOR_ERR_BUDGET_SPENT: { status: 429, retriable: true, message: 'statistics question budget spent' },
  SPOR_ERR_UNAVAILABLE: { status: 503, retriable: true, message: 'a backing service is unavailable' },
  // The tombstone is in force but the person's documents were still being written or moved.
  SPOR_ERR_ERASURE_INCOMPLETE: { status: 503, retriable: true, message: 'erasure not complete; retry it' },
  SPOR_ERR_ES: { status: 502, retriable: true, message: 'elasticsearch request failed' },
  SPOR_ERR_KAFKA: { status: 502, retriable: true, message: 'kafka request failed' },
  SPOR_ERR_KAFKA_AUTH: {
    status: 502,
    retriable: false,
    message: 'kafka refused the connection (credentials or TLS certificate)',
  },
  SPOR_ERR_ES_AUTH: {
    status: 502,
    retriable: false,
    message: 'elasticsearch refused the connection (credentials or TLS certificate)',
  },
  // Start-up (core/startup.ts): the cluster answered, and retrying the same request cannot help.
  SPOR_ERR_ES_REJECTED: {
    status: 502,
    retriable: false,
    message: 'elasticsearch rejected the request (mapping, settings or cluster state)',
  },
  SPOR_ERR_KAFKA_REJECTED: {
    status: 502,
    retriable: false,
    message: 'kafka rejected the request (topic settings, policy or cluster state)',
  },
  SPOR_ERR_POISON_BATCH: { status: 500, retriable: false, message: 'undecodable kafka record batch' },
  SPOR_ERR_GEOIP: { status: 500, retriable: false, message: 'geo database unusable' },
  SPOR_ERR_FATAL_RESTARTS: { status: 500, retriable: false, message: 'too many fatal errors' },
} as const

export type ErrorCode = keyof typeof ERRORS

export class SporError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  readonly retriable: boolean

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    const entry = ERRORS[code]
    super(detail ? `${entry.message}: ${detail}` : entry.message, options)
    this.name = 'SporError'
    this.code = code
    this.statusCode = entry.status
    this.retriable = entry.retriable
  }
}
