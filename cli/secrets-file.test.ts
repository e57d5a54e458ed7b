import { chmodSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
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
    writeFileSync(file, 'SPOR_PSEUDONYM_KEY=from-file\nSPOR_OPS_TOKEN=file\n', { mode: 0o600 })
    const env: NodeJS.ProcessEnv = { SPOR_PSEUDONYM_KEY: 'from-env' }
    expect(loadSecretsFile(file, env)).toEqual(['SPOR_OPS_TOKEN'])
    expect(env).toEqual({ SPOR_PSEUDONYM_KEY: 'from-env', SPOR_OPS_TOKEN: 'file' })
    expect(loadSecretsFile(join(dir, 'absent.env'), env)).toEqual([])
  })

  it('holds secrets only: a planted connection setting is refused, not applied', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'spor-secrets-')), 'secrets.env')
    writeFileSync(file, 'SPOR_ES_URL=http://attacker.example:9200\n', { mode: 0o600 })
    const env: NodeJS.ProcessEnv = {}
    expect(() => loadSecretsFile(file, env)).toThrow(
      /may only hold secrets .*set SPOR_ES_URL in the environment/,
    )
    expect(env).toEqual({})
  })

  it('refuses a file others can write, and a symlink', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spor-secrets-'))
    const file = join(dir, 'secrets.env')
    writeFileSync(file, 'SPOR_PSEUDONYM_KEY=k\n')
    chmodSync(file, 0o666)
    expect(() => loadSecretsFile(file, {})).toThrow(/is refused: it must be a regular file owned by you/)
    chmodSync(file, 0o600)
    expect(loadSecretsFile(file, {})).toEqual(['SPOR_PSEUDONYM_KEY'])
    const link = join(dir, 'link.env')
    symlinkSync(file, link)
    expect(() => loadSecretsFile(link, {})).toThrow(/is refused/)
  })
})
