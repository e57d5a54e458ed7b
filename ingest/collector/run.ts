import { systemClock } from '../../core/clock.ts'
import type { SporConfig } from '../../core/config.ts'
import { createEsClient, waitForEs } from '../../core/es.ts'
import { createProducer, waitForKafka } from '../../core/kafka.ts'
import { KeyStore } from '../../core/keys.ts'
import type { Logger } from '../../core/logger.ts'
import { runUntilSignal } from '../../core/service.ts'
import { startupOptions, startupSteps } from '../../core/startup.ts'
import { buildCollector } from './app.ts'
import { createCollectorKafka } from './kafka.ts'

/** `spor collector`: the HTTP endpoint in front of the events topic. */
export async function runCollector(config: SporConfig, log: Logger): Promise<never> {
  const es = createEsClient(config)
  const kafka = createCollectorKafka(config, log)
  const startup = startupOptions(config, log)
  await Promise.all([waitForEs(es, startup), waitForKafka(kafka, startup)])
  const keys = new KeyStore(es, config.es.indexPrefix, config.collector.keyCacheMs)
  const step = startupSteps(config, log)
  await step('key index', () => keys.ensureIndex())
  const producer = createProducer(kafka)
  await step('kafka producer', () => producer.connect())
  const app = await buildCollector({ config, keys, producer, log, clock: systemClock })
  await app.listen({ host: config.collector.host, port: config.collector.port })
  log.info({ host: config.collector.host, port: config.collector.port }, 'collector listening')
  return runUntilSignal(log, async () => {
    await app.close() // stops accepting, lets in-flight requests finish
    await producer.disconnect()
    await es.close()
  })
}
