import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

/**
 * The local stack's state folders (issue 15): a folder under a directory anyone can write to
 * (like /var/tmp, where the root fallback lives) is used only if stack.sh created it; foreign,
 * group/world-writable or symlinked folders and symlinked lock files are refused. Runs the real
 * script with `status` / `down kafka` on an instance of its own (ports of issue 15's range);
 * neither starts a service.
 */
const SCRIPT = join(import.meta.dirname, '..', 'stack', 'stack.sh')
const base = mkdtempSync(join(tmpdir(), 'spor-i15-')) // private (0700), ours
const shared = join(base, 'shared')
mkdirSync(shared)
chmodSync(shared, 0o1777) // a sticky, world-writable folder like /var/tmp
const cache = join(base, 'cache')
mkdirSync(cache, { mode: 0o755 })

function stack(command: string[], stackDir: string) {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    SPOR_CACHE_DIR: cache,
    SPOR_STACK_DIR: stackDir,
    SPOR_KAFKA_PORT: '41092',
    SPOR_KAFKA_CONTROLLER_PORT: '41093',
    SPOR_ES_PORT: '41200',
    SPOR_ES_TRANSPORT_PORT: '41300',
  }
  const run = spawnSync('bash', [SCRIPT, ...command], { env, encoding: 'utf8', timeout: 30_000 })
  return { status: run.status, out: `${run.stdout}${run.stderr}` }
}

describe('stack.sh state folders', () => {
  afterAll(() => {
    rmSync(base, { recursive: true, force: true })
  })

  it('creates a missing folder itself, private and marked, and accepts it afterwards', () => {
    const dir = join(shared, 'fresh')
    expect(stack(['status'], dir).status).toBe(3) // nothing running, but the folder is fine
    expect(existsSync(join(dir, '.spor-state-dir'))).toBe(true)
    expect(stack(['status'], dir).status).toBe(3)
  })

  it('refuses a folder someone else created in advance under a world-writable directory', () => {
    const dir = join(shared, 'planted')
    mkdirSync(dir, { mode: 0o755 })
    const run = stack(['status'], dir)
    expect(run.status).toBe(1)
    expect(run.out).toMatch(/refusing state folder .*not created by spor stack/)
  })

  it('refuses a group- or world-writable folder', () => {
    const dir = join(base, 'open')
    mkdirSync(dir)
    chmodSync(dir, 0o777)
    const run = stack(['status'], dir)
    expect(run.status).toBe(1)
    expect(run.out).toMatch(/writable by group or others/)
  })

  it('never opens a lock file through a symlink', () => {
    const dir = join(shared, 'locks')
    expect(stack(['status'], dir).status).toBe(3)
    const victim = join(cache, 'victim.txt')
    writeFileSync(victim, 'precious')
    symlinkSync(victim, join(dir, '.kafka.lock'))
    const run = stack(['down', 'kafka'], dir)
    expect(run.status).toBe(1)
    expect(run.out).toMatch(/refusing lock file .* symbolic link/)
    expect(readFileSync(victim, 'utf8')).toBe('precious')
  })
})
