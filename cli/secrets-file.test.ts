import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadSecretsFile, parseSecretsFile } from './secrets-file.ts'

describe('secrets file', () => {
  it('reads SPOR_NAME=value lines, comments, blanks and quotes', () => {
    expect(
      parseSecretsFile('# made by spor demo\n\nSPOR_PSEUDONYM_KEY=abc=def\nSPOR_X="q v"\r\n', 'f'),
    ).toEqual({
      SPOR_PSEUDONYM_KEY: 'abc=def',
      SPOR_X: 'q v',
    })
  })

  it.each(['PATH=/evil', 'export SPOR_A=1', 'SPOR_A', 'spor_a=1'])(
    'refuses %j without echoing it',
    (line) => {
      expect(() => parseSecretsFile(`SPOR_OK=1\n${line}\n`, 'secrets.env')).toThrow(
        /^invalid configuration: secrets\.env:2 is not a SPOR_NAME=value line$/,
      )
    },
  )

  it('never overrides the environment, and a missing file is no error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spor-secrets-'))
    const file = join(dir, 'secrets.env')
    writeFileSync(file, 'SPOR_PSEUDONYM_KEY=from-file\nSPOR_OTHER=file\n')
    const env: NodeJS.ProcessEnv = { SPOR_PSEUDONYM_KEY: 'from-env' }
    expect(loadSecretsFile(file, env)).toEqual(['SPOR_OTHER'])
    expect(env).toEqual({ SPOR_PSEUDONYM_KEY: 'from-env', SPOR_OTHER: 'file' })
    expect(loadSecretsFile(join(dir, 'absent.env'), env)).toEqual([])
  })
})
