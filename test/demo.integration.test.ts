import { type ChildProcess, spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT } from './helpers/ingest.ts'
import { runProcess } from './helpers/run-process.ts'
import { createTestEnv, type TestEnv } from './helpers/test-env.ts'

/**
 * The newcomer's path: `spor demo` starts everything and prints commands to try; each printed
 * command, pasted into a shell in the checkout, must work. The pseudonym key is NOT in the
 * environment here: the demo generates .spor/secrets.env and the CLI reads it, as on a clean clone.
 */
describe('spor demo: every suggested command works when pasted', () => {
  let t: TestEnv
  let demo: ChildProcess
  let output = ''
  let env: Record<string, string>

  beforeAll(async () => {
    t = await createTestEnv('demo')
    const { SPOR_PSEUDONYM_KEY: _fromFile, ...rest } = t.env
    env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...rest,
      // Not the defaults, so a demo someone runs is not disturbed; below Linux's ephemeral range
      // (32768-60999), so no other test's outgoing connection or port-0 listener can hold them.
      SPOR_COLLECTOR_PORT: '28301',
      SPOR_QUERY_PORT: '28302',
      SPOR_INGEST_HTTP_PORT: '28303',
      SPOR_DETECT_HTTP_PORT: '28304',
    }
    demo = spawn(process.execPath, ['bin/spor.js', 'demo'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk
        if (/try:[\s\S]*\n\n/.test(output)) resolve()
      }
      demo.stdout!.on('data', onData)
      demo.stderr!.on('data', onData)
      demo.once('exit', (code) => reject(new Error(`demo exited with ${code}:\n${output}`)))
    })
  })
  afterAll(async () => {
    if (demo && demo.exitCode === null) {
      demo.kill('SIGINT')
      await new Promise((resolve) => demo.once('exit', resolve))
    }
    await t?.cleanup()
  })

  const suggestions = () =>
    output
      .slice(output.indexOf('try:'))
      .split('\n')
      .map((line) => line.replace(/^\s*(try:)?\s*/, ''))
      .filter((line) => line.startsWith('curl ') || line.startsWith('node bin/spor.js '))

  it('suggests commands, and each one works as pasted', async () => {
    const commands = suggestions()
    expect(commands.length).toBeGreaterThanOrEqual(4)
    for (const command of commands) {
      const result = await runProcess('bash', ['-o', 'pipefail', '-c', command], { cwd: REPO_ROOT, env })
      expect(result.code, `${command}\n${result.stderr}`).toBe(0)
      expect(result.stdout.length, command).toBeGreaterThan(0)
      expect(result.stderr, command).not.toMatch(/EPIPE|Error:|SPOR_ERR/)
      if (command.startsWith('curl ')) expect(() => JSON.parse(result.stdout), command).not.toThrow()
      if (command.includes('| head -3')) expect(result.stdout.trim().split('\n')).toHaveLength(3)
    }
  })

  it('stops every service on Ctrl-C and exits 0', async () => {
    demo.kill('SIGINT')
    const code = await new Promise((resolve) => demo.once('exit', resolve))
    expect(code).toBe(0)
    expect(output).not.toMatch(/exited with code/)
  })
})
