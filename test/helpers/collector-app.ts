import type { FastifyInstance } from 'fastify'
import type { Kafka, Producer } from 'kafkajs'
import { systemClock } from '../../core/clock.ts'
import type { SporEvent } from '../../core/event-schema.ts'
import { createProducer } from '../../core/kafka.ts'
import { KeyStore } from '../../core/keys.ts'
import { buildCollector } from '../../ingest/collector/app.ts'
import { createTestEnv, type TestEnv } from './test-env.ts'

/** A valid page view a minute old: the event the status tests send. */
export const pageView = (id: string): Partial<SporEvent> => ({
  v: 1,
  id,
  type: 'page.view',
  ts: new Date(Date.now() - 60_000).toISOString(),
  user: 'u1',
  session: 's1',
})

/** An ingest key a test needs: always tenant-scoped (tenant `acme` unless named). */
export type TestIngestKey = Omit<Parameters<KeyStore['create']>[0], 'kind' | 'scope' | 'tenant' | 'name'> & {
  tenant?: string
  /** Revoked right after creation (a key that was once valid). */
  revoked?: boolean
}

export interface CollectorApp<K extends string> {
  t: TestEnv
  app: FastifyInstance
  /** The collector's own key store (its cache lifetime is `keyCacheMs`). */
  keyStore: KeyStore
  producer: Producer
  /** The plain text of each requested key, by the name the test gave it. */
  keys: Record<K, string>
  /** Closes the app, the producer and the test installation (for afterAll; safe to call twice). */
  close: () => Promise<void>
}

/**
 * The setup every collector test shares: an isolated installation on the shared stack, the
 * ingest keys the test asks for, spor's producer and the collector app on top (requests through
 * `app.inject`, or `app.listen` for a real socket). `producerOf` replaces the producer's Kafka
 * client, e.g. to reach the broker through a proxy the test can cut.
 */
export async function startCollectorApp<K extends string>(
  label: string,
  options: {
    env?: Record<string, string>
    keys: Record<K, TestIngestKey>
    /** Key cache lifetime of the collector's store; 0 (the default) reads every key fresh. */
    keyCacheMs?: number
    producerOf?: (t: TestEnv) => Kafka
  },
): Promise<CollectorApp<K>> {
  const t = await createTestEnv(label, options.env)
  let producer: Producer | undefined
  let app: FastifyInstance | undefined
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await app?.close()
    await producer?.disconnect()
    await t.cleanup()
  }
  try {
    const keyStore = new KeyStore(t.es, t.config.es.indexPrefix, options.keyCacheMs ?? 0)
    const keys = {} as Record<K, string>
    for (const [name, spec] of Object.entries(options.keys) as [K, TestIngestKey][]) {
      const { tenant = 'acme', revoked, ...rest } = spec
      const created = await keyStore.create({ kind: 'ingest', scope: 'tenant', tenant, name, ...rest })
      if (revoked) await keyStore.revoke(created.record.id)
      keys[name] = created.key
    }
    producer = createProducer(options.producerOf?.(t) ?? t.kafka)
    await producer.connect()
    app = await buildCollector({ config: t.config, keys: keyStore, producer, log: t.log, clock: systemClock })
    return { t, app, keyStore, producer, keys, close }
  } catch (error) {
    await close()
    throw error
  }
}
