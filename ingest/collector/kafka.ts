import type { ISocketFactory } from 'kafkajs'
import type { SporConfig } from '../../core/config.ts'
import { createKafka, type Kafka } from '../../core/kafka.ts'
import type { Logger } from '../../core/logger.ts'

/**
 * The collector's Kafka client: a client waits on its answer, so a produce fails fast and the
 * client retries later (502 with Retry-After) instead of the request hanging for kafkajs's default
 * budget. kafkajs nests retries: each send attempt retries each broker connection with the same
 * settings, so with the default 10 × 10 at up to 30 s a send to an unreachable broker took many
 * minutes, and sends queued behind it kept the collector from accepting for about two minutes
 * after the broker came back. With `SPOR_COLLECTOR_KAFKA_RETRIES` (2) at 100 ms doubling to 1 s,
 * a refused connection ends in a 502 within a few seconds and a recovered broker is used at once.
 */
export function createCollectorKafka(
  config: SporConfig,
  log: Logger,
  options: { clientId?: string; socketFactory?: ISocketFactory } = {},
): Kafka {
  return createKafka(config, log, options.clientId ?? config.kafka.clientId, {
    socketFactory: options.socketFactory,
    retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: config.collector.kafkaRetries },
  })
}
