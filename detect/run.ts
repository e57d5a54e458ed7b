import Fastify from 'fastify'
import { systemClock } from '../core/clock.ts'
import { requirePseudonymKey, type SporConfig } from '../core/config.ts'
import { SporError } from '../core/errors.ts'
import { createEsClient, waitForEs } from '../core/es.ts'
import { createKafka, waitForKafka } from '../core/kafka.ts'
import type { Logger } from '../core/logger.ts'
import { registerOpsRoutes } from '../core/ops-plugin.ts'
import { runUntilSignal } from '../core/service.ts'
import { startupOptions, startupSteps } from '../core/startup.ts'
import { startTombstoneCache } from '../privacy/tombstones.ts'
import { RuleBook } from './rule-config.ts'
import { DetectService } from './service.ts'

/** `spor detect`: both stages plus /health, /ready and /metrics. */
export async function runDetect(config: SporConfig, log: Logger): Promise<never> {
  // Configuration problems fail before connecting to anything.
  const rules = RuleBook.fromFile(config.detect.rulesFile)
  requirePseudonymKey(config) // erased subjects are recognised by a keyed hash
  if (config.detect.webhookUrl && !config.detect.webhookSecret)
    throw new SporError(
      'SPOR_ERR_CONFIG',
      'SPOR_DETECT_WEBHOOK_URL needs SPOR_DETECT_WEBHOOK_SECRET (HMAC key)',
    )
  if (config.detect.lookbackMs < rules.longestWindowMs()) {
    log.warn(
      {
        lookbackHours: config.detect.lookbackMs / 3_600_000,
        longestRuleWindowHours: rules.longestWindowMs() / 3_600_000,
      },
      'lookback shorter than the longest rule window: after a restart the longer histories start learning again (fewer alerts, never extra ones)',
    )
  }
  const es = createEsClient(config)
  const kafka = createKafka(config, log)
  const startup = startupOptions(config, log)
  await Promise.all([waitForEs(es, startup), waitForKafka(kafka, startup)])
  // Erased subjects (S9), as in ingest: loaded before consuming starts, so replaying the events
  // or the repartition topic cannot raise alerts about them again.
  const tombstones = await startupSteps(config, log)('tombstones', () => startTombstoneCache(es, config, log))
  const service = new DetectService({
    config,
    es,
    kafka,
    log,
    clock: systemClock,
    rules,
    isErased: (tenant, user) => tombstones.isErased(tenant, user),
  })
  const ops = Fastify({ logger: false })
  await registerOpsRoutes(ops, async () => ({
    ready: service.running,
    state: service.stateSizes(),
    webhookPending: service.webhookPending,
  }))
  await ops.listen({ host: '127.0.0.1', port: config.detect.httpPort })
  await service.start()
  return runUntilSignal(
    log,
    async () => {
      await service.stop()
      tombstones.stop()
      await ops.close()
      await es.close()
    },
    service.fatal,
  )
}
