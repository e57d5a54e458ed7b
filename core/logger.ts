import { type Logger, pino } from 'pino'

export type { Logger }

/**
 * One root logger per process; modules take child loggers once, never per event. Lines are
 * written synchronously to stdout: pino's default asynchronous destination, in the worker thread
 * `spor ingest` runs in, once wrote a line cut short with the next one glued on
 * (`…":125,"20{"level":50,…`, test/ingest-restart-budget on a clean CI clone), the truncation
 * sonic-boom's async mode is known for (pinojs/sonic-boom#128), which breaks every JSON log
 * shipper. spor logs per batch and per incident, never per event, so a blocking write per line
 * costs nothing measurable, and nothing is left in a buffer when the process exits.
 */
// The level comes from the validated config (`config.logLevel`), never straight from the environment.
export function createLogger(service: string, level: string): Logger {
  return pino(
    {
      name: 'spor',
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          '*.password',
          '*.apiKey',
          'headers.authorization',
          'req.headers.authorization',
          // Kafka connection secrets (core/connection-config.ts)
          '*.saslPassword',
          '*.sslKeyPassword',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination({ dest: 1, sync: true }),
  )
}
