import { readFileSync } from 'node:fs'
import { type ConnectionOptions, checkServerIdentity, connect } from 'node:tls'
import type { KafkaConfig, SASLOptions } from 'kafkajs'
import type { KafkaConnection } from './connection-config.ts'
import { SporError } from './errors.ts'

/**
 * TLS and SASL options of every Kafka client spor creates (consumers, producers, transactional
 * producers, admin, CLI), from the validated SPOR_KAFKA_* settings. Files are read when the
 * client is built, so a rotated certificate is picked up by a restart.
 */
export function kafkaClientSecurity(connection: KafkaConnection): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {}
  if (connection.securityProtocol.endsWith('SSL')) out.ssl = tlsOptions(connection)
  if (connection.securityProtocol.startsWith('SASL_')) {
    const { saslMechanism, saslUsername, saslPassword } = connection
    out.sasl = {
      mechanism: saslMechanism!.toLowerCase(),
      username: saslUsername!,
      password: saslPassword!,
    } as SASLOptions
  }
  return out
}

function tlsOptions(connection: KafkaConnection): ConnectionOptions {
  return {
    rejectUnauthorized: true,
    ...(connection.sslCaFile ? { ca: [readFileSync(connection.sslCaFile, 'utf8')] } : {}),
    ...(connection.sslCertFile ? { cert: readFileSync(connection.sslCertFile, 'utf8') } : {}),
    ...(connection.sslKeyFile ? { key: readFileSync(connection.sslKeyFile, 'utf8') } : {}),
    ...(connection.sslKeyPassword ? { passphrase: connection.sslKeyPassword } : {}),
    // The chain is always verified; only the host-name check can be turned off (for a test
    // broker whose certificate names another host), and only explicitly.
    ...(connection.sslCheckHostname ? {} : { checkServerIdentity: () => undefined }),
  }
}

// Node's codes for a certificate that cannot be trusted: retrying cannot fix these.
const TLS_TRUST =
  /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_UNTRUSTED|CERT_REJECTED|CERT_SIGNATURE_FAILURE|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_.*)$/

/**
 * The error to stop on at once, or undefined for one worth retrying: a refused SASL login
 * (kafkajs marks it non-retriable) or a certificate the client does not trust.
 */
export function securityError(error: unknown): SporError | undefined {
  const e = error as { name?: string; message?: string; code?: string; cause?: unknown }
  if (e?.name === 'KafkaJSSASLAuthenticationError') {
    return new SporError('SPOR_ERR_KAFKA_AUTH', `the broker refused the login: ${e.message}`, {
      cause: error,
    })
  }
  if (typeof e?.code === 'string' && TLS_TRUST.test(e.code)) {
    return new SporError(
      'SPOR_ERR_KAFKA_AUTH',
      `the broker's TLS certificate is not trusted (${e.code}: ${e.message}); check SPOR_KAFKA_SSL_CA_FILE and the broker address`,
      { cause: error },
    )
  }
  return undefined
}

/**
 * One TLS handshake with the first broker that answers, before kafkajs connects: kafkajs counts
 * an untrusted certificate as a connection error and retries it for about a minute. An
 * unreachable broker is left to the normal wait (it may be starting).
 */
export async function preflightTls(brokers: readonly string[], connection: KafkaConnection): Promise<void> {
  if (!connection.securityProtocol.endsWith('SSL')) return
  const options = tlsOptions(connection)
  for (const broker of brokers) {
    const at = broker.lastIndexOf(':')
    const host = broker.slice(0, at).replace(/^\[|\]$/g, '')
    const port = Number(broker.slice(at + 1))
    const outcome = await new Promise<'ok' | 'unreachable' | SporError>((resolve) => {
      const socket = connect({
        ...options,
        host,
        port,
        // SNI only for names (Node refuses an IP address as servername).
        ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
        checkServerIdentity: connection.sslCheckHostname ? checkServerIdentity : () => undefined,
      })
      socket.setTimeout(10_000, () => {
        socket.destroy()
        resolve('unreachable')
      })
      socket.once('secureConnect', () => {
        socket.end()
        resolve('ok')
      })
      socket.once('error', (error) => {
        socket.destroy()
        resolve(securityError(error) ?? 'unreachable')
      })
    })
    if (outcome === 'ok') return
    if (outcome instanceof SporError)
      throw new SporError('SPOR_ERR_KAFKA_AUTH', `${broker}: ${outcome.message.replace(/^[^:]*: /, '')}`)
  }
}
