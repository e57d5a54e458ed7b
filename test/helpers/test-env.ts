import { randomBytes } from 'node:crypto'
import { type AddressInfo, createServer } from 'node:net'
import type { Client } from '@elastic/elasticsearch'
import type { Kafka } from 'kafkajs'
import { loadConfig, type SporConfig, type SporEnv } from '../../core/config.ts'
import { createEsClient, whenShardsStarted } from '../../core/es.ts'
import { MISSING_INDICES_ARE_EMPTY } from '../../core/indices.ts'
import { createKafka } from '../../core/kafka.ts'
import { createLogger, type Logger } from '../../core/logger.ts'
import { DAY_MS } from '../../core/retention.ts'
import { dropInstallation } from '../../core/teardown.ts'
import { installIndexSetup } from '../../ilm-policies/install.ts'
import { ensureTopics } from '../../ingest/topics.ts'

/**
 * An isolated spor installation on the shared local stack: its own index prefix, topics and
 * consumer groups, so test files can run side by side. `cleanup()` deletes what it created
 * (indices by exact name: the cluster refuses wildcard deletes).
 */
export interface TestEnv {
  name: string
  env: SporEnv & Record<string, string>
  config: SporConfig
  es: Client
  kafka: Kafka
  log: Logger
  cleanup: () => Promise<void>
}

export const TEST_PSEUDONYM_KEY = 'test-only-pseudonym-key-0123456789abcdef'

export async function createTestEnv(label: string, overrides: Record<string, string> = {}): Promise<TestEnv> {
  const name = `t${label.replace(/[^a-z0-9]/g, '').slice(0, 12)}${randomBytes(3).toString('hex')}`
  const env: SporEnv & Record<string, string> = {
    SPOR_INDEX_PREFIX: name,
    SPOR_TOPIC_PREFIX: name,
    SPOR_PSEUDONYM_KEY: TEST_PSEUDONYM_KEY,
    SPOR_LOG_LEVEL: process.env.SPOR_TEST_LOG_LEVEL ?? 'warn',
    SPOR_RETRY_BASE_MS: '100',
    SPOR_RETRY_MAX_MS: '2000',
    ...(process.env.SPOR_KAFKA_BROKERS ? { SPOR_KAFKA_BROKERS: process.env.SPOR_KAFKA_BROKERS } : {}),
    ...(process.env.SPOR_ES_URL ? { SPOR_ES_URL: process.env.SPOR_ES_URL } : {}),
    ...overrides,
  }
  const config = loadConfig(env)
  const log = createLogger(`test-${label}`, config.logLevel)
  const es = createEsClient(config)
  const kafka = createKafka(config, log)
  await installIndexSetup(es, config)
  await ensureTopics(kafka, config)
  return {
    name,
    env,
    config,
    es,
    kafka,
    log,
    cleanup: async () => {
      await dropInstallation(es, kafka, name)
      await es.close()
    },
  }
}

/** Polls `probe` until it returns a value accepted by `done`, or fails with the last value seen. */
export async function waitFor<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 60_000, intervalMs = 250, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: T | undefined
  while (Date.now() < deadline) {
    last = await probe()
    if (done(last)) return last
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${describe(last)}`)
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 2000) ?? String(value)
  } catch {
    return String(value) // circular (e.g. a response object)
  }
}

/**
 * Number of event documents (short and long class) in the test's indices, or of the indices
 * matching `suffix` (e.g. `short-*`). Derived indices (profiles, stats, alerts) are not events.
 */
export async function countDocs(t: TestEnv, suffix?: string, query?: object): Promise<number> {
  const index = suffix ? `${t.name}-${suffix}` : `${t.name}-short-*,${t.name}-long-*`
  return whenShardsStarted(async () => {
    await t.es.indices.refresh({ index, ...MISSING_INDICES_ARE_EMPTY })
    const result = await t.es.count({
      index,
      ...MISSING_INDICES_ARE_EMPTY,
      ...(query ? { query } : {}),
    })
    return result.count
  })
}

// Reads of indices just created by ingest or detect: "not yet" until their shards start.
export { whenShardsStarted }

/**
 * The last millisecond of yesterday (UTC): an `end` for generated traffic whose volume does not
 * depend on the time of day the test runs (with `end: new Date()`, a one-day simulation run just
 * after midnight has no events at all), yet lies within every retention class.
 */
export function endOfYesterday(now: Date = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - 1)
}

/**
 * The end of the latest run of `days` working days (Mon–Fri, UTC) before today: the generator
 * thins weekend sessions with an extra random draw, so a window ending yesterday gave a different
 * dataset on every weekday (none at all on a Monday for one or two days), and tests that need
 * enough traffic failed on some weekdays only. Always the same weekday data, at most a week old.
 */
export function endOfLatestWorkingDays(days: number, now: Date = new Date()): Date {
  if (!(days >= 1 && days <= 5)) throw new Error(`${days} working days in a row do not fit in a week`)
  let end = endOfYesterday(now)
  const isWeekend = (t: number) => [0, 6].includes(new Date(t).getUTCDay())
  const windowHasWeekend = () =>
    Array.from({ length: days }, (_, i) => end.getTime() - i * DAY_MS).some(isWeekend)
  while (windowHasWeekend()) end = new Date(end.getTime() - DAY_MS)
  return end
}

/**
 * A port no socket on this machine holds now, from the operating system, for a server a test
 * starts as a child process. Random ports in a fixed range collided: 32768-60999 is Linux's
 * ephemeral range, where every outgoing connection of the suite takes its local port.
 */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
