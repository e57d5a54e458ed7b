import { loadConfig, type SporConfig } from '../core/config.ts'
import { createEsClient, type EsClient, waitForEs } from '../core/es.ts'
import { createLogger, type Logger } from '../core/logger.ts'
import { startupOptions } from '../core/startup.ts'

export interface EsSession {
  config: SporConfig
  log: Logger
  es: EsClient
}

/**
 * What every Elasticsearch command of the CLI does around its work: load the configuration, wait
 * for the cluster with the start-up retries (core/startup.ts: transient failures retried, a
 * refused key or a rejected request ends the command at once), run, and close the client
 * whatever happens.
 */
export async function withEs<T>(component: string, work: (session: EsSession) => Promise<T>): Promise<T> {
  const config = loadConfig()
  const log = createLogger(component, config.logLevel)
  const es = createEsClient(config)
  try {
    await waitForEs(es, startupOptions(config, log))
    return await work({ config, log, es })
  } finally {
    await es.close()
  }
}
