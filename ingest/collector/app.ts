import compress from '@fastify/compress'
import rateLimit from '@fastify/rate-limit'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { CompressionTypes, type Producer } from 'kafkajs'
import { Counter } from 'prom-client'
import type { Clock } from '../../core/clock.ts'
import type { SporConfig } from '../../core/config.ts'
import { SporError } from '../../core/errors.ts'
import type { SporEvent } from '../../core/event-schema.ts'
import { ErrorBodySchema, installErrorHandler, REQUEST_ID_OPTIONS } from '../../core/http-errors.ts'
import { slowClientServerOptions } from '../../core/http-server.ts'
import { installIpRateLimit } from '../../core/ip-rate-limit.ts'
import { isClientKey, isReservedEventId, keyAllowsType, ORIGIN_HEADER } from '../../core/key-scopes.ts'
import type { KeyStore, VerifiedKey } from '../../core/keys.ts'
import type { Logger } from '../../core/logger.ts'
import { quietRequestLogs, registerOpsRoutes } from '../../core/ops-plugin.ts'
import { checkEvent } from '../parse-message.ts'
import { enforceOrigin, presentedKey, registerBrowserAccess } from './browser-access.ts'
import { clientAddress, clientHintsFromHeaders, withRequestContext } from './request-context.ts'

export interface CollectorDeps {
  config: SporConfig
  keys: KeyStore
  producer: Producer
  log: Logger
  clock: Clock
}

declare module 'fastify' {
  interface FastifyRequest {
    ingestKey?: VerifiedKey
  }
}

const collected = new Counter({
  name: 'spor_collector_events_total',
  help: 'Events received by the collector, by outcome (accepted, rejected)',
  labelNames: ['outcome'] as const,
})

// By status code (a handful of values): the 5xx and 429 alert rules divide these.
const responses = new Counter({
  name: 'spor_collector_responses_total',
  help: 'Collector answers on /v1/events by HTTP status code; alerts SporCollectorErrors, SporCollectorThrottling',
  labelNames: ['code'] as const,
})

/** Partition key: one user's (or anonymous session's) events stay ordered on one partition. */
export function partitionKey(event: SporEvent): string {
  return `${event.tenant}:${event.user ?? event.session ?? event.id}`
}

const REJECTION_SCHEMA = {
  type: 'object',
  properties: {
    index: { type: 'integer' },
    id: { type: 'string' },
    reason: { type: 'string' },
    errors: { type: 'array', items: { type: 'string' } },
  },
} as const

// 400 and 403 carry the per-event reasons.
const REFUSAL_SCHEMA = {
  ...ErrorBodySchema,
  properties: { ...ErrorBodySchema.properties, rejected: { type: 'array', items: REJECTION_SCHEMA } },
} as const

/**
 * Reasons that depend on the key, not on the event: another key of the same tenant (a server
 * key, a wider allow-list) would have taken the event. `reserved_id` is refused from every key
 * and `tenant_mismatch` must not tell a tenant apart from a typo, so both stay 400.
 */
const KEY_SCOPE_REASONS: ReadonlySet<string> = new Set(['type_not_allowed', 'ts_too_old'])

interface Rejection {
  index: number
  id?: string
  reason: string
  errors: string[]
}

/**
 * `POST /v1/events`: batches of events from web and mobile clients. Tenant-scoped ingest keys,
 * gzip bodies, per-event validation with the same checks the consumer applies, and an
 * idempotent producer waiting for all in-sync replicas before answering 202.
 */
export async function buildCollector(deps: CollectorDeps): Promise<FastifyInstance> {
  const { config, keys, producer, clock } = deps
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'collector' }) as FastifyBaseLogger,
    logController: quietRequestLogs(),
    ...REQUEST_ID_OPTIONS,
    ...slowClientServerOptions(config.hostile.httpRequestTimeoutMs),
    bodyLimit: config.collector.bodyLimitBytes,
    // The client IP is the socket's, unless the request came through a configured proxy.
    trustProxy: config.collector.trustedProxies.length > 0 ? [...config.collector.trustedProxies] : false,
  })
  installErrorHandler(app)
  // Request decompression is enabled per route (`decompress` below); bodyLimit then applies to
  // the inflated size, so a small gzip bomb still gets 413.
  await app.register(compress, { global: false, requestEncodings: ['gzip', 'deflate'] })
  await registerOpsRoutes(app, async () => ({ ready: true }), { token: config.hostile.opsToken })
  const addressOf = (request: { ip: string; socket: { remoteAddress?: string } }) =>
    clientAddress(request.ip, request.socket.remoteAddress)

  await app.register(async (api) => {
    // Before authentication: an unauthenticated request costs a key lookup, so it is counted too.
    installIpRateLimit(api, {
      max: config.hostile.collectorIpRatePerMinute,
      windowMs: 60_000,
      addressOf,
    })
    api.addHook('onRequest', async (request, reply) => {
      const key = await keys.verify(presentedKey(request), 'ingest')
      if (!key)
        throw new SporError(
          'SPOR_ERR_UNAUTHORIZED',
          'send a valid ingest key as "Authorization: Bearer <key>" (browsers: "?key=<key>")',
        )
      request.ingestKey = key
      enforceOrigin(request, reply, key)
    })
    await api.register(rateLimit, {
      max: config.collector.rateLimitPerMinute,
      timeWindow: 60_000,
      hook: 'preHandler',
      keyGenerator: (request) => request.ingestKey?.id ?? addressOf(request),
    })
    registerBrowserAccess(api, '/v1/events')
    api.addHook('onResponse', async (_request, reply) => {
      responses.inc({ code: String(reply.statusCode) })
    })

    api.post(
      '/v1/events',
      {
        decompress: {},
        schema: {
          description:
            'Submit a batch of events (JSON, optionally gzip-encoded; browsers may send it as text/plain with ?key=).',
          body: {
            type: 'object',
            required: ['events'],
            additionalProperties: false,
            properties: { events: { type: 'array', minItems: 1, items: {} } },
          },
          response: {
            202: {
              type: 'object',
              properties: {
                accepted: { type: 'integer' },
                rejected: { type: 'array', items: REJECTION_SCHEMA },
              },
            },
            400: REFUSAL_SCHEMA,
            403: REFUSAL_SCHEMA,
            '4xx': ErrorBodySchema,
            '5xx': ErrorBodySchema,
          },
        },
      },
      async (request, reply) => {
        const body = request.body as { events: unknown[] }
        if (body.events.length > config.collector.maxEventsPerRequest) {
          throw new SporError(
            'SPOR_ERR_PAYLOAD_TOO_LARGE',
            `${body.events.length} events in one request; at most ${config.collector.maxEventsPerRequest}`,
          )
        }
        const key = request.ingestKey!
        const client = isClientKey(key)
        const context = {
          tenant: key.tenant!,
          ip: addressOf(request),
          userAgent: request.headers['user-agent'],
          clientHints: clientHintsFromHeaders(request.headers),
        }
        const now = clock()
        const accepted: SporEvent[] = []
        const rejected: Rejection[] = []
        body.events.forEach((raw, index) => {
          const result = checkEvent(withRequestContext(raw, context), limitsOf(config), now)
          const id =
            typeof (raw as { id?: unknown })?.id === 'string' ? (raw as { id: string }).id : undefined
          if (result.kind === 'dlq') {
            rejected.push({ index, id, reason: result.reason, errors: result.detail.split('; ') })
          } else if (result.kind === 'drop') {
            rejected.push({
              index,
              id,
              reason: result.reason,
              errors: ['event is older than its retention period'],
            })
          } else if (result.value.event.tenant !== key.tenant) {
            // Same answer as any other invalid field: no hint whether that tenant exists.
            rejected.push({
              index,
              id,
              reason: 'tenant_mismatch',
              errors: ['/tenant does not match the ingest key'],
            })
          } else {
            const refusal = scopeRefusal(key, result.value.event, client, now, config)
            if (refusal) {
              rejected.push({ index, id, ...refusal })
              return
            }
            accepted.push(result.value.event)
          }
        })
        collected.inc({ outcome: 'rejected' }, rejected.length)
        if (accepted.length === 0) {
          // Valid events this key may not send: 403, so the integrator looks at the key, not the
          // payload. Anything else wrong in the batch (or a mix) is a bad request.
          if (rejected.every((r) => KEY_SCOPE_REASONS.has(r.reason))) {
            return reply.code(403).send({
              statusCode: 403,
              code: 'SPOR_ERR_FORBIDDEN',
              message: 'no event in the batch is allowed for this ingest key',
              rejected,
            })
          }
          return reply.code(400).send({
            statusCode: 400,
            code: 'SPOR_ERR_BAD_REQUEST',
            message: 'no valid event in the batch',
            rejected,
          })
        }
        try {
          await producer.send({
            topic: config.kafka.eventsTopic,
            acks: -1,
            // Compressed with SPOR_KAFKA_COMPRESSION (the producer's default), and never sent
            // uncompressed: a full request plus what the server adds must fit the broker's
            // message.max.bytes (1 MiB by default) for a batch of one partition.
            ...(config.kafkaConnection.compression === 'none' ? { compression: CompressionTypes.GZIP } : {}),
            // The origin header is how consumers know what a client reported about itself; only
            // the collector sets it (core/key-scopes.ts).
            messages: accepted.map((event) => ({
              key: partitionKey(event),
              value: JSON.stringify(event),
              headers: { [ORIGIN_HEADER]: client ? 'client' : 'server' },
            })),
          })
        } catch (error) {
          request.log.error({ err: error }, 'produce to kafka failed')
          reply.header('retry-after', '5')
          throw new SporError(
            'SPOR_ERR_KAFKA',
            'events were not stored; retry the same batch (ids make it idempotent)',
          )
        }
        collected.inc({ outcome: 'accepted' }, accepted.length)
        return reply.code(202).send({ accepted: accepted.length, rejected })
      },
    )
  })
  return app
}

/**
 * What a key's scope refuses: spor's own id namespace (for every key), types outside the key's
 * allow-list, and, for client keys, events dated further back than the configured bound (a
 * client must not pad the population of past days).
 */
function scopeRefusal(
  key: VerifiedKey,
  event: SporEvent,
  client: boolean,
  now: Date,
  config: SporConfig,
): { reason: string; errors: string[] } | undefined {
  if (isReservedEventId(event.id))
    return { reason: 'reserved_id', errors: ['/id uses a prefix reserved for spor (privacy-, spor-)'] }
  if (!keyAllowsType(key, event.type))
    return {
      reason: 'type_not_allowed',
      errors: [
        `/type ${event.type} is not allowed for this key${client ? ' (a browser key; server-side types need a server key)' : ''}`,
      ],
    }
  if (client && now.getTime() - Date.parse(event.ts) > config.hostile.clientMaxBackdateMs)
    return {
      reason: 'ts_too_old',
      errors: [
        `/ts is more than ${config.hostile.clientMaxBackdateMs / 3_600_000} h in the past (browser key)`,
      ],
    }
  return undefined
}

function limitsOf(config: SporConfig) {
  return {
    maxFutureSkewMs: config.ingest.maxFutureSkewMs,
    eventTypes: config.eventTypes,
    retentionDays: config.retentionDays,
  }
}
