import type { Logger } from './logger.ts'

/**
 * Runs a long-lived service until SIGINT/SIGTERM, then calls `stop` once (graceful: in-flight
 * work finishes). A second signal forces exit. `fatal` resolving ends the process non-zero.
 */
export async function runUntilSignal(
  log: Logger,
  stop: () => Promise<void>,
  fatal: Promise<Error> = new Promise(() => {}),
): Promise<never> {
  let stopping = false
  const shutdown = async (signal: string, code: number) => {
    if (stopping) {
      log.warn({ signal }, 'second signal; exiting without waiting')
      process.exit(130)
    }
    stopping = true
    log.info({ signal }, 'shutting down gracefully')
    try {
      await stop()
      log.info('stopped')
    } catch (error) {
      log.error({ err: error }, 'error during shutdown')
      code = code || 1
    }
    log.flush()
    process.exit(code)
  }
  process.on('SIGINT', () => void shutdown('SIGINT', 0))
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0))
  const error = await fatal
  log.fatal({ err: error, code: (error as { code?: string }).code }, 'fatal error; exiting with status 1')
  await shutdown('fatal', 1)
  return process.exit(1)
}
