import { randomUUID } from 'node:crypto'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify'
import { ERRORS, type ErrorCode, SporError } from './errors.ts'

/** Maps fastify's own error codes onto spor's registry so every API answers in one shape. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'SPOR_ERR_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'SPOR_ERR_BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'SPOR_ERR_BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'SPOR_ERR_BAD_REQUEST',
  FST_ERR_VALIDATION: 'SPOR_ERR_BAD_REQUEST',
  FST_CP_ERR_INVALID_CONTENT_ENCODING: 'SPOR_ERR_BAD_REQUEST',
  FST_CP_ERR_INVALID_CONTENT: 'SPOR_ERR_BAD_REQUEST',
}

export interface ErrorBody {
  statusCode: number
  code: ErrorCode
  message: string
  /** The id of the request in spor's logs, so a client can report a failure without seeing internals. */
  requestId?: string
}

export const ErrorBodySchema = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    message: { type: 'string' },
    requestId: { type: 'string' },
  },
  required: ['statusCode', 'code', 'message'],
} as const

/**
 * Request ids for every spor HTTP service: random (a counter would tell a client how busy the
 * service is), returned as `x-request-id`; a caller's own id is not trusted (log injection).
 */
export const REQUEST_ID_OPTIONS: Pick<
  FastifyServerOptions,
  'genReqId' | 'requestIdHeader' | 'frameworkErrors'
> = {
  requestIdHeader: false,
  genReqId: () => randomUUID(),
  // Errors the router raises before any handler (a malformed %-escape, an over-long path
  // parameter) bypass the error handler; found by the query fuzz answering in fastify's shape.
  frameworkErrors: (error, request, reply) => {
    const message =
      error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? 'a path parameter is too long'
        : 'malformed request URL or headers'
    const body: ErrorBody = {
      statusCode: 400,
      code: 'SPOR_ERR_BAD_REQUEST',
      message,
      requestId: String(request.id),
    }
    ;(reply as unknown as FastifyReply).code(400).send(body)
  },
}

/**
 * Errors from the Elasticsearch client (a response error, a timeout, no connection): their text
 * names indices, shards, mappings and sometimes document content, so it goes to the log only.
 * Recognised by the client's error classes' names, so no import of the client is needed here.
 */
export function isBackendError(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name
  return (
    name === 'ResponseError' ||
    name === 'ConnectionError' ||
    name === 'TimeoutError' ||
    name === 'NoLivingConnectionsError' ||
    name === 'SerializationError' ||
    name === 'DeserializationError' ||
    name === 'RequestAbortedError' ||
    name === 'ProductNotSupportedError' ||
    name === 'KafkaJSError' ||
    (typeof name === 'string' && name.startsWith('KafkaJS'))
  )
}

/**
 * Every error leaves as `{ statusCode, code, message, requestId }`; 5xx details and every
 * backend (Elasticsearch, Kafka) error go to the log only, under the same request id.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  app.setErrorHandler((error: FastifyError | SporError, request, reply) => {
    let code: ErrorCode
    let message: string
    if (isBackendError(error)) {
      // The error's name, text and status only: its full form repeats request headers and paths.
      const {
        name,
        message: text,
        statusCode,
      } = error as { name: string; message: string; statusCode?: number }
      request.log.error(
        { err: { name, message: text, statusCode }, requestId: request.id },
        'backend request failed',
      )
      code = 'SPOR_ERR_UNAVAILABLE'
      message = ERRORS.SPOR_ERR_UNAVAILABLE.message
    } else if (error instanceof SporError) {
      code = error.code
      message = error.message
    } else if (error.code && FASTIFY_CODES[error.code]) {
      code = FASTIFY_CODES[error.code]!
      message = error.message
    } else if (error.statusCode === 429) {
      code = 'SPOR_ERR_RATE_LIMITED'
      message = error.message
    } else if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      code = 'SPOR_ERR_BAD_REQUEST'
      message = error.message
    } else {
      request.log.error({ err: error, requestId: request.id }, 'request failed')
      code = 'SPOR_ERR_UNAVAILABLE'
      message = ERRORS.SPOR_ERR_UNAVAILABLE.message
    }
    const statusCode = ERRORS[code].status
    const body: ErrorBody = { statusCode, code, message, requestId: String(request.id) }
    return reply.code(statusCode).send(body)
  })
  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = {
      statusCode: 404,
      code: 'SPOR_ERR_NOT_FOUND',
      message: ERRORS.SPOR_ERR_NOT_FOUND.message,
      requestId: String(request.id),
    }
    return reply.code(404).send(body)
  })
}
