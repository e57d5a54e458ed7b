import { type Logger, pino } from 'pino'

export type { Logger }

/** One root logger per process; modules take child loggers once, never per event. */
// The level comes from the validated config (`config.logLevel`), never straight from the environment.
export function createLogger(service: string, level: string): Logger {
  return pino({
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
  })
}
