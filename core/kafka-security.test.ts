import { describe, expect, it } from 'vitest'
import { loadConfig } from './config.ts'
import { kafkaClientSecurity, securityError } from './kafka-security.ts'

describe('kafkaClientSecurity', () => {
  it('plaintext: neither TLS nor SASL', () => {
    expect(kafkaClientSecurity(loadConfig({}).kafkaConnection)).toEqual({})
  })

  it('SASL_SSL with SCRAM: TLS with the chain verified and the mechanism kafkajs names', () => {
    const { ssl, sasl } = kafkaClientSecurity(
      loadConfig({
        SPOR_KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
        SPOR_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
        SPOR_KAFKA_SASL_USERNAME: 'spor',
        SPOR_KAFKA_SASL_PASSWORD: 'pw',
        SPOR_KAFKA_SSL_CA_FILE: import.meta.filename,
      }).kafkaConnection,
    )
    expect(ssl).toMatchObject({
      rejectUnauthorized: true,
      ca: [expect.stringContaining('kafkaClientSecurity')],
    })
    expect(ssl).not.toHaveProperty('checkServerIdentity')
    expect(sasl).toEqual({ mechanism: 'scram-sha-512', username: 'spor', password: 'pw' })
  })

  it('switching the host-name check off keeps chain verification', () => {
    const { ssl } = kafkaClientSecurity(
      loadConfig({ SPOR_KAFKA_SECURITY_PROTOCOL: 'SSL', SPOR_KAFKA_SSL_CHECK_HOSTNAME: 'false' })
        .kafkaConnection,
    )
    expect(ssl).toMatchObject({ rejectUnauthorized: true, checkServerIdentity: expect.any(Function) })
  })
})

describe('securityError', () => {
  it.each([
    [
      { name: 'KafkaJSSASLAuthenticationError', message: 'SASL SCRAM SHA512 authentication failed' },
      /refused the login/,
    ],
    [{ name: 'KafkaJSConnectionError', code: 'SELF_SIGNED_CERT_IN_CHAIN', message: 'x' }, /not trusted/],
    [{ name: 'KafkaJSConnectionError', code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: 'x' }, /not trusted/],
    [{ name: 'KafkaJSConnectionError', code: 'CERT_HAS_EXPIRED', message: 'x' }, /not trusted/],
  ])('stops at once on %j', (error, message) => {
    const stop = securityError(error)
    expect(stop?.code).toBe('SPOR_ERR_KAFKA_AUTH')
    expect(stop?.message).toMatch(message)
  })

  it.each([
    [{ name: 'KafkaJSConnectionError', code: 'ECONNREFUSED', message: 'refused' }],
    [{ name: 'KafkaJSProtocolError', type: 'COORDINATOR_LOAD_IN_PROGRESS' }],
    [undefined],
  ])('leaves %j to the retries (a broker may be starting)', (error) => {
    expect(securityError(error)).toBeUndefined()
  })
})
