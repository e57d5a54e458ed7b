import type { SporConfig } from '../core/config.ts'
import type { Logger } from '../core/logger.ts'

/**
 * kafkajs restarts a crashed consumer forever by default. As in ingest, a bounded number of
 * restarts per window is allowed (SPOR_MAX_RESTARTS / SPOR_RESTART_WINDOW_MS); after that the
 * consumer stays down and the process exits non-zero with a clear line.
 */
export function restartBudget(
  config: SporConfig,
  log: Logger,
  stage: string,
): (error: Error) => Promise<boolean> {
  const restarts: number[] = []
  return async (error) => {
    const { maxRestarts, restartWindowMs } = config.ingest
    const now = Date.now()
    restarts.push(now)
    while (restarts.length > 0 && restarts[0]! < now - restartWindowMs) restarts.shift()
    const allowed = restarts.length <= maxRestarts
    log.error(
      { err: error, stage, restartsInWindow: restarts.length, maxRestarts },
      allowed ? 'detect consumer failed; restarting' : 'detect consumer failed too often; giving up',
    )
    return allowed
  }
}
