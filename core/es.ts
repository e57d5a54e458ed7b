import { readFileSync } from 'node:fs'
import { Client, type ClientOptions, type estypes } from '@elastic/elasticsearch'
import { CompleteReadsTransport } from './complete-reads.ts'
import type { SporConfig } from './config.ts'
import type { EsConnection } from './connection-config.ts'
import { parseReplicas } from './replicas.ts'
import { DEFAULT_STARTUP_POLICY, retryStartup, type StartupOptions } from './startup.ts'

export type { Client as EsClient }

/** Replica settings of the client's cluster (SPOR_ES_REPLICAS), for spor's own single indices. */
const clusterReplicas = new WeakMap<Client, estypes.IndicesIndexSettings>()

/**
 * Every service and CLI command reach Elasticsearch through this: a URL or an Elastic Cloud id,
 * an API key or basic auth, a CA file or a CA fingerprint (config checks the combinations).
 */
export function createEsClient(config: SporConfig): Client {
  const { url, username, password, requestTimeoutMs } = config.es
  const client = new Client({
    ...esEndpoint(url, config.esConnection),
    ...esAuth(username, password, config.esConnection),
    ...esTls(config.esConnection),
    requestTimeout: requestTimeoutMs,
    // spor's own loops own retries and backoff; the client must not hide outages behind its own.
    maxRetries: 0,
    // A search, count or multi-search missing shards fails instead of answering with part of the data.
    Transport: CompleteReadsTransport,
  })
  clusterReplicas.set(client, replicaSettings(config.esConnection.replicas))
  return client
}

function esEndpoint(url: string, connection: EsConnection): Pick<ClientOptions, 'node' | 'cloud'> {
  return connection.cloudId ? { cloud: { id: connection.cloudId } } : { node: url }
}

function esAuth(
  username: string | undefined,
  password: string | undefined,
  connection: EsConnection,
): Pick<ClientOptions, 'auth'> {
  const { apiKey } = connection
  if (apiKey) {
    // "id:api_key" as Elasticsearch returns it from _security/api_key, or the "encoded" form.
    const colon = apiKey.indexOf(':')
    return {
      auth: {
        apiKey: colon > 0 ? { id: apiKey.slice(0, colon), api_key: apiKey.slice(colon + 1) } : apiKey,
      },
    }
  }
  return username && password ? { auth: { username, password } } : {}
}

function esTls(connection: EsConnection): Pick<ClientOptions, 'tls' | 'caFingerprint'> {
  if (connection.caFile)
    return { tls: { ca: readFileSync(connection.caFile, 'utf8'), rejectUnauthorized: true } }
  if (connection.caFingerprint) {
    // The client compares upper-case hex pairs separated by colons. As Elastic documents for a
    // self-signed CA: the pinned fingerprint, checked by the client on every connection, stands
    // in for chain verification. A CA file (SPOR_ES_CA_FILE) is the stronger choice.
    const hex = connection.caFingerprint.replace(/:/g, '').toUpperCase()
    return { caFingerprint: hex.match(/../g)!.join(':'), tls: { rejectUnauthorized: false } }
  }
  return {}
}

/** Index settings for SPOR_ES_REPLICAS (parsed in core/replicas.ts, one parser for settings and counts). */
export function replicaSettings(replicas: string): estypes.IndicesIndexSettings {
  return parseReplicas(replicas).settings
}

/** The replica settings configured for this client's cluster (default auto-expand 0-1). */
export function replicasOf(es: Client): estypes.IndicesIndexSettings {
  return clusterReplicas.get(es) ?? replicaSettings('0-1')
}

/**
 * Waits until the cluster answers health with yellow or green. `GET /` is not served by every
 * distribution (the local integ-test node answers 405), so health is the readiness probe.
 * Transient failures are retried with backoff (core/startup.ts); a refused key or an untrusted
 * certificate will not heal by waiting and ends the wait at once (SPOR_ERR_ES_AUTH). A number is
 * the timeout with the default backoff.
 */
export async function waitForEs(
  es: Client,
  options: StartupOptions | number = {},
): Promise<{ version?: string }> {
  const opts =
    typeof options === 'number' ? { policy: { ...DEFAULT_STARTUP_POLICY, timeoutMs: options } } : options
  return retryStartup(
    'elasticsearch ready',
    async () => {
      await es.cluster.health({ wait_for_status: 'yellow', timeout: '5s' })
      const nodes = await es.nodes
        .info({ node_id: '_local', metric: '_none' } as never)
        .catch(() => undefined)
      const version = nodes
        ? Object.values((nodes as { nodes: Record<string, { version: string }> }).nodes)[0]?.version
        : undefined
      return { version }
    },
    opts,
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
 * Runs a read, again while one of its indices is just being created: a daily index that ingest or
 * `spor migrate` has just made answers 503 (`no_shard_available_action_exception`, or "Search
 * rejected due to missing shards" for a point-in-time) until its primary shard has started, which
 * takes well under a second. That is "not yet", not a failure; any other error, or shards still
 * missing after `attempts` tries, is thrown.
 */
export async function whenShardsStarted<T>(
  read: () => Promise<T>,
  { attempts = 40, waitMs = 250 }: { attempts?: number; waitMs?: number } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read()
    } catch (error) {
      const status = (error as { meta?: { statusCode?: number } }).meta?.statusCode
      const message = String((error as Error).message)
      const starting = status === 503 || /no_shard_available|missing shards/.test(message)
      if (!starting || attempt >= attempts) throw error
      await new Promise((resolve) => setTimeout(resolve, waitMs))
    }
  }
}

/** Each item's outcome of a bulk answer, in request order, whatever its action (index, create, delete, update). */
export function bulkItems(result: estypes.BulkResponse): estypes.BulkResponseItem[] {
  return result.items.map((item) => Object.values(item)[0]!)
}

/**
 * Creates a single (non-daily) index of spor's own — keys, tombstones, leases — with the
 * configured replicas (a multi-node cluster keeps a copy: losing one node must not lose the
 * pseudonym keys or the erasure tombstones), unless it exists,
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
      .create({ index, settings: { number_of_shards: 1, ...replicasOf(es) }, mappings })
      .catch((error: { meta?: { body?: { error?: { type?: string } } } }) => {
        if (error.meta?.body?.error?.type !== 'resource_already_exists_exception') throw error
      })
  }
  await es.cluster.health({ index, wait_for_active_shards: 1, timeout: '30s' })
}
