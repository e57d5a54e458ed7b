import { Client, type estypes } from '@elastic/elasticsearch'
import type { SporConfig } from './config.ts'
import { SporError } from './errors.ts'

export type { Client as EsClient }

export function createEsClient(config: SporConfig): Client {
  const { url, username, password, requestTimeoutMs } = config.es
  return new Client({
    node: url,
    auth: username && password ? { username, password } : undefined,
    requestTimeout: requestTimeoutMs,
    // spor's own loops own retries and backoff; the client must not hide outages behind its own.
    maxRetries: 0,
  })
}

/**
 * Waits until the cluster answers health with yellow or green. `GET /` is not served by every
 * distribution (the local integ-test node answers 405), so health is the readiness probe.
 */
export async function waitForEs(es: Client, timeoutMs = 60_000): Promise<{ version?: string }> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      await es.cluster.health({ wait_for_status: 'yellow', timeout: '5s' })
      const nodes = await es.nodes
        .info({ node_id: '_local', metric: '_none' } as never)
        .catch(() => undefined)
      const version = nodes
        ? Object.values((nodes as { nodes: Record<string, { version: string }> }).nodes)[0]?.version
        : undefined
      return { version }
    } catch (error) {
      last = error
      await new Promise((r) => setTimeout(r, 500))
    }
  }
  throw new SporError(
    'SPOR_ERR_UNAVAILABLE',
    `elasticsearch not ready after ${timeoutMs} ms: ${(last as Error)?.message}`,
  )
}

/** Whether the cluster has index lifecycle management (the local integ-test node has not). */
export async function hasIlm(es: Client): Promise<boolean> {
  try {
    await es.ilm.getStatus()
    return true
  } catch {
    return false
  }
}

/**
 * Creates a single (non-daily) index of spor's own — keys, tombstones, leases — unless it exists,
 * tolerating another instance creating it at the same moment, and waits for its shard: an
 * instance that lost the creation race could otherwise read before the shard has started.
 */
export async function ensureSingleIndex(
  es: Client,
  index: string,
  mappings: estypes.MappingTypeMapping,
): Promise<void> {
  if (!(await es.indices.exists({ index }))) {
    await es.indices
      .create({ index, settings: { number_of_shards: 1, number_of_replicas: 0 }, mappings })
      .catch((error: { meta?: { body?: { error?: { type?: string } } } }) => {
        if (error.meta?.body?.error?.type !== 'resource_already_exists_exception') throw error
      })
  }
  await es.cluster.health({ index, wait_for_active_shards: 1, timeout: '30s' })
}
