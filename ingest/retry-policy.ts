import { errors } from '@elastic/elasticsearch'

/**
 * What to do with a bulk outcome (as in Vector's elasticsearch retry logic): 429 and 5xx are the
 * cluster saying "not now" and are retried a bounded number of times; 401, 403 and 404 are the
 * cluster refusing every document (credentials, a read-only block, no auto-created indices), so
 * the batch pauses until that is fixed instead of dead-lettering good events; other 4xx mean the
 * document itself is wrong (mapping) and go to the dead-letter topic. Pure and table-tested.
 */
export type ItemDecision = 'done' | 'retry' | 'pause' | 'dlq'

export function classifyItemStatus(status: number): ItemDecision {
  if (status >= 200 && status < 300) return 'done'
  if (status === 429 || status >= 500) return 'retry'
  if (status === 401 || status === 403 || status === 404) return 'pause'
  return 'dlq'
}

export type RequestDecision = 'retry' | 'fatal'

/**
 * A whole bulk request that failed: connection refused, timeouts and 429/5xx are outages to wait
 * out; a 4xx for the whole request is a bug in spor (e.g. malformed body) and must not loop.
 */
export function classifyRequestError(error: unknown): RequestDecision {
  if (error instanceof errors.ConnectionError || error instanceof errors.TimeoutError) return 'retry'
  if (error instanceof errors.NoLivingConnectionsError) return 'retry'
  if (error instanceof errors.ResponseError) {
    const status = error.statusCode ?? 0
    return status === 429 || status >= 500 || status === 0 ? 'retry' : 'fatal'
  }
  return 'fatal'
}
