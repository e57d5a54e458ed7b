import { describe, expect, it } from 'vitest'
import { loadConfig, redactedConfig, requireTombstoneKeys } from './config.ts'

const CURRENT = 'current-pseudonym-key-0123456789abcdef'
const OLD = 'old-pseudonym-key-0123456789abcdefghij'
const OLDER = 'older-pseudonym-key-0123456789abcdefgh'

describe('SPOR_PSEUDONYM_KEY_PREVIOUS (pseudonym-key rotation)', () => {
  it('tombstone keys are the current key first, then the previous ones, without repeats', () => {
    const config = loadConfig({
      SPOR_PSEUDONYM_KEY: CURRENT,
      SPOR_PSEUDONYM_KEY_PREVIOUS: `${OLD}, ${OLDER},${CURRENT}`,
    })
    expect(requireTombstoneKeys(config).map((k) => k.toString('utf8'))).toEqual([CURRENT, OLD, OLDER])
    expect(requireTombstoneKeys(loadConfig({ SPOR_PSEUDONYM_KEY: CURRENT })).map(String)).toEqual([CURRENT])
  })

  it('a previous key shorter than 32 characters is a configuration error', () => {
    expect(() => loadConfig({ SPOR_PSEUDONYM_KEY: CURRENT, SPOR_PSEUDONYM_KEY_PREVIOUS: 'short' })).toThrow(
      expect.objectContaining({
        code: 'SPOR_ERR_CONFIG',
        message: expect.stringContaining('pseudonymKeysPrevious'),
      }),
    )
  })

  it('previous keys without a current key are refused where tombstones are read', () => {
    expect(() => requireTombstoneKeys(loadConfig({ SPOR_PSEUDONYM_KEY_PREVIOUS: OLD }))).toThrow(
      expect.objectContaining({ code: 'SPOR_ERR_CONFIG' }),
    )
  })

  it('`spor config` shows that previous keys are set, never their values', () => {
    const shown = JSON.stringify(
      redactedConfig(loadConfig({ SPOR_PSEUDONYM_KEY: CURRENT, SPOR_PSEUDONYM_KEY_PREVIOUS: OLD })),
    )
    expect(shown).toContain('"pseudonymKeysPrevious":["(set)"]')
    expect(shown).not.toContain(OLD)
    expect(shown).not.toContain(CURRENT)
  })
})
