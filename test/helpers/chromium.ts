import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'

/**
 * Debian's chromium for headless-browser tests, installed on demand (CI starts from a fresh
 * machine). Idempotent and safe when several test files call it at once: a directory lock
 * serialises the apt-get runs, and an existing binary short-circuits everything.
 */
export const CHROMIUM = '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

const LOCK = '/tmp/spor-chromium-install.lock'

function apt(args: string[]): { ok: boolean; output: string } {
  const result = spawnSync('apt-get', args, {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: 15 * 60_000,
  })
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}`.slice(-2000) }
}

export async function ensureChromium(): Promise<string> {
  if (existsSync(CHROMIUM)) return CHROMIUM
  if (process.getuid?.() !== 0)
    throw new Error(`${CHROMIUM} is missing and installing it needs root: run "apt-get install -y chromium"`)
  const deadline = Date.now() + 20 * 60_000
  for (;;) {
    try {
      mkdirSync(LOCK)
      break
    } catch {
      if (existsSync(CHROMIUM)) return CHROMIUM
      if (Date.now() > deadline) throw new Error(`waited too long for another chromium install (${LOCK})`)
      await new Promise((r) => setTimeout(r, 2000))
    }
  }
  try {
    if (existsSync(CHROMIUM)) return CHROMIUM
    let result = apt(['install', '-y', '--no-install-recommends', 'chromium'])
    if (!result.ok) {
      // A fresh machine has no package lists yet.
      const update = apt(['update'])
      if (!update.ok) throw new Error(`apt-get update failed:\n${update.output}`)
      result = apt(['install', '-y', '--no-install-recommends', 'chromium'])
    }
    if (!result.ok || !existsSync(CHROMIUM))
      throw new Error(`apt-get install chromium failed:\n${result.output}`)
    return CHROMIUM
  } finally {
    rmSync(LOCK, { recursive: true, force: true })
  }
}
