import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'

/**
 * A program from a Debian package, installed on demand (CI starts from a fresh machine): Chromium
 * for the browser tests, promtool for the alert rules. Idempotent and safe when several test
 * files call it at once: one directory lock serialises every apt-get run (dpkg allows one at a
 * time), and an existing binary short-circuits everything.
 */
const LOCK = '/tmp/spor-chromium-install.lock'

function apt(args: string[]): { ok: boolean; output: string } {
  const result = spawnSync('apt-get', args, {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: 15 * 60_000,
  })
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}`.slice(-2000) }
}

/** Returns `binary`, installing Debian package `pkg` first when it is missing (needs root). */
export async function ensureDebianBinary(binary: string, pkg: string): Promise<string> {
  if (existsSync(binary)) return binary
  if (process.getuid?.() !== 0)
    throw new Error(`${binary} is missing and installing it needs root: run "apt-get install -y ${pkg}"`)
  const deadline = Date.now() + 20 * 60_000
  for (;;) {
    try {
      mkdirSync(LOCK)
      break
    } catch {
      if (existsSync(binary)) return binary
      if (Date.now() > deadline) throw new Error(`waited too long for another apt-get (${LOCK})`)
      await new Promise((r) => setTimeout(r, 2000))
    }
  }
  try {
    if (existsSync(binary)) return binary
    let result = apt(['install', '-y', '--no-install-recommends', pkg])
    if (!result.ok) {
      // A fresh machine has no package lists yet.
      const update = apt(['update'])
      if (!update.ok) throw new Error(`apt-get update failed:\n${update.output}`)
      result = apt(['install', '-y', '--no-install-recommends', pkg])
    }
    if (!result.ok || !existsSync(binary)) throw new Error(`apt-get install ${pkg} failed:\n${result.output}`)
    return binary
  } finally {
    rmSync(LOCK, { recursive: true, force: true })
  }
}
