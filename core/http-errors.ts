import type { FastifyError, FastifyInstance } from 'fastify'
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
}

export const ErrorBodySchema = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' } },
  required: ['statusCode', 'code', 'message'],
} as const

/** Every error leaves as `{ statusCode, code, message }`; 5xx details go to the log only. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | SporError, request, reply) => {
    let code: ErrorCode
    let message: string
    if (error instanceof SporError) {
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
      request.log.error({ err: error }, 'request failed')
      code = 'SPOR_ERR_UNAVAILABLE'
      message = ERRORS.SPOR_ERR_UNAVAILABLE.message
    }
    const statusCode = ERRORS[code].status
    const body: ErrorBody = { statusCode, code, message }
    return reply.code(statusCode).send(body)
  })
  app.setNotFoundHandler((_request, reply) => {
    const body: ErrorBody = {
      statusCode: 404,
      code: 'SPOR_ERR_NOT_FOUND',
      message: ERRORS.SPOR_ERR_NOT_FOUND.message,
    }
    return reply.code(404).send(body)
  })
}
