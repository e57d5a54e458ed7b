import type { SporConfig } from './config.ts'
import type { Logger } from './logger.ts'

/**
 * kafkajs restarts a crashed consumer forever by default. Every spor consumer instead allows a
 * bounded number of restarts per window (SPOR_MAX_RESTARTS / SPOR_RESTART_WINDOW_MS); after
 * that the consumer stays down and the process exits non-zero with a clear line. Pass the
 * returned function as kafkajs's `retry.restartOnFailure`.
 */
export function restartBudget(
  config: SporConfig,
  log: Logger,
  consumer: string,
  fields: Record<string, unknown> = {},
): (error: Error) => Promise<boolean> {
  const restarts: number[] = []
  return async (error) => {
    const { maxRestarts, restartWindowMs } = config.ingest
    const now = Date.now()
    restarts.push(now)
    while (restarts.length > 0 && restarts[0]! < now - restartWindowMs) restarts.shift()
    const allowed = restarts.length <= maxRestarts
    log.error(
      { ...fields, err: error, restartsInWindow: restarts.length, maxRestarts, windowMs: restartWindowMs },
      allowed
        ? `${consumer} consumer failed; restarting`
        : `${consumer} consumer failed too often; giving up`,
    )
    return allowed
  }
}
