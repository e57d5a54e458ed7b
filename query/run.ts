import { systemClock } from '../core/clock.ts'
import type { SporConfig } from '../core/config.ts'
import { createEsClient, waitForEs } from '../core/es.ts'
import { KeyStore } from '../core/keys.ts'
import type { Logger } from '../core/logger.ts'
import { runUntilSignal } from '../core/service.ts'
import { startupOptions, startupSteps } from '../core/startup.ts'
import { buildQueryApp } from './app.ts'
import { startRollupSchedule } from './rollups/job.ts'
import { RowCacheWarmUp } from './stats/warm-up.ts'

/** `spor query`: the API and dashboard server. */
export async function runQuery(config: SporConfig, log: Logger): Promise<never> {
  const es = createEsClient(config)
  await waitForEs(es, startupOptions(config, log))
  const keys = new KeyStore(es, config.es.indexPrefix, config.collector.keyCacheMs)
  await startupSteps(config, log)('key index', () => keys.ensureIndex())
  const warmUp = new RowCacheWarmUp()
  const app = await buildQueryApp({ config, es, keys, log, clock: systemClock, warmUp })
  await app.listen({ host: config.query.host, port: config.query.port })
  // Not ready (GET /ready 503) until the dashboard's first view is in the row cache.
  void warmUp.start(log)
  log.info({ url: `http://${config.query.host}:${config.query.port}` }, 'query API listening (docs at /docs)')
  const rollups = startRollupSchedule(es, config, log, systemClock)
  return runUntilSignal(log, async () => {
    await rollups?.stop()
    await app.close()
    await es.close()
  })
}
