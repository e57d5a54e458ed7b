import { createServer, type Server } from 'node:http'
import type { FastifyServerOptions } from 'fastify'

/**
 * Server options for spor's public HTTP services against slow clients: a whole request (headers
 * and body) must arrive within `requestTimeoutMs`, checked every second (Node checks every 30 s
 * by default, so a slow-body client would hold its connection far longer than the timeout).
 * Idle keep-alive connections are closed after 5 s. A trickling body is answered 408 and closed.
 */
export function slowClientServerOptions(
  requestTimeoutMs: number,
): Pick<FastifyServerOptions, 'serverFactory'> {
  return {
    serverFactory: (handler) =>
      createServer(
        {
          requestTimeout: requestTimeoutMs,
          headersTimeout: Math.min(requestTimeoutMs, 60_000),
          keepAliveTimeout: 5_000,
          connectionsCheckingInterval: Math.min(1_000, Math.max(100, Math.floor(requestTimeoutMs / 4))),
        },
        handler,
      ) as Server,
  }
}
