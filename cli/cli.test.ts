import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runSpor } from '../test/helpers/run-process.ts'

const ROOT = join(import.meta.dirname, '..')
const SPOR = join(ROOT, 'bin', 'spor.js')
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

const run = runSpor

// Each run starts node and transpiles the CLI: seconds on a busy machine, hence the timeout.
describe('spor CLI: version, exit codes, closed pipes', { timeout: 120_000 }, () => {
  it('prints its version', async () => {
    for (const flag of ['--version', '-v'])
      expect(await run([flag])).toMatchObject({ code: 0, stdout: `spor ${VERSION}\n` })
  })

  it('exits 2 on usage errors: unknown option, unknown command, bad argument', async () => {
    expect((await run(['--no-such-option'])).code).toBe(2)
    expect((await run(['no-such-command'])).code).toBe(2)
    const bad = await run(['dlq', 'replay', '--partition', 'x', '--from-offset', '1', '--to-offset', '2'])
    expect(bad).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/SPOR_ERR_BAD_REQUEST.*--partition "x"/),
    })
    expect(await run(['dlq', 'replay'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/bounded range/),
    })
  })

  it('exits 2 with the exact problem on a configuration error', async () => {
    const result = await run(['config'], { SPOR_NO_SUCH_VARIABLE: '1' })
    expect(result).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/SPOR_ERR_CONFIG.*SPOR_NO_SUCH_VARIABLE/),
    })
  })

  it('exits 0 on help', async () => {
    expect((await run(['--help'])).code).toBe(0)
  })

  it('ends quietly when the reader closes the pipe (| head)', async () => {
    const child = spawn(process.execPath, [SPOR, 'schema'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    child.stdout.destroy() // the reader is gone before spor writes a byte
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(stderr).toBe('')
    expect(code).toBe(0)
  })
})
