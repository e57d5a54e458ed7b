import { Counter, Gauge, register } from 'prom-client'
import type { SporConfig } from './config.ts'
import type { Logger } from './logger.ts'

// Looked up first: test files build several consumers in one process (one registry).
const restartsTotal =
  (register.getSingleMetric('spor_consumer_restarts_total') as Counter<'consumer'>) ??
  new Counter({
    name: 'spor_consumer_restarts_total',
    help: 'Consumer crashes that kafkajs restarted (or gave up on), by consumer; alert SporConsumerRestarting',
    labelNames: ['consumer'],
  })
const budgetRemaining =
  (register.getSingleMetric('spor_consumer_restart_budget_remaining') as Gauge<'consumer'>) ??
  new Gauge({
    name: 'spor_consumer_restart_budget_remaining',
    help: 'Restarts left in the current window before the process gives up (SPOR_MAX_RESTARTS); alert SporRestartBudgetLow',
    labelNames: ['consumer'],
  })

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
  // Series exist from the start, so the first crash is an increase Prometheus can see.
  restartsTotal.inc({ consumer }, 0)
  budgetRemaining.set({ consumer }, config.ingest.maxRestarts)
  return async (error) => {
    const { maxRestarts, restartWindowMs } = config.ingest
    const now = Date.now()
    restarts.push(now)
    while (restarts.length > 0 && restarts[0]! < now - restartWindowMs) restarts.shift()
    const allowed = restarts.length <= maxRestarts
    restartsTotal.inc({ consumer })
    budgetRemaining.set({ consumer }, Math.max(0, maxRestarts - restarts.length))
    log.error(
      { ...fields, err: error, restartsInWindow: restarts.length, maxRestarts, windowMs: restartWindowMs },
      allowed
        ? `${consumer} consumer failed; restarting`
        : `${consumer} consumer failed too often; giving up`,
    )
    return allowed
  }
}
