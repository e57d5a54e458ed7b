import { spawn } from 'node:child_process'
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

/**
 * stack.sh's per-instance Elasticsearch config (`es_prepare_instance`): built aside and renamed
 * into place, so a half copy, a planted symlink or a second preparation at the same moment never
 * leaves a broken config or makes the copy land elsewhere. The script is sourced (it then only
 * defines its functions) and the function runs on a fake distribution: nothing is started.
 */
const SCRIPT = join(import.meta.dirname, '..', 'stack', 'stack.sh')
const base = mkdtempSync(join(tmpdir(), 'spor-iops-stack-'))
const esHome = join(base, 'es-home')
mkdirSync(join(esHome, 'config', 'jvm.options.d'), { recursive: true })
writeFileSync(join(esHome, 'config', 'elasticsearch.yml'), '# distribution\n')
writeFileSync(join(esHome, 'config', 'jvm.options'), '-Xss1m\n')
writeFileSync(join(esHome, 'config', 'jvm.options.d', 'gc.options'), '-XX:+UseG1GC\n')

let n = 0
function instance(): string {
  const dir = join(base, `stack-${n++}`, 'es')
  mkdirSync(dir, { recursive: true })
  return dir
}

/** Runs es_prepare_instance on `esDir`; `before` is bash run after sourcing (to stage a fault). */
function prepare(esDir: string, before = ''): Promise<{ code: number | null; out: string }> {
  const script = `source "${SCRIPT}"; ES_HOME="${esHome}"; ES_DIR="${esDir}"; ${before}
es_prepare_instance`
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SPOR_STACK_DIR: join(base, 'unused') },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (c) => {
      out += c
    })
    child.stderr.on('data', (c) => {
      out += c
    })
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, out }))
  })
}

/** The instance config is the distribution's, complete, in a real folder; nothing is left over but the preparation's lock file. */
function expectComplete(esDir: string): void {
  const config = join(esDir, 'config')
  expect(lstatSync(config).isDirectory()).toBe(true)
  expect(readFileSync(join(config, 'elasticsearch.yml'), 'utf8')).toBe('# distribution\n')
  expect(readFileSync(join(config, 'jvm.options.d', 'gc.options'), 'utf8')).toBe('-XX:+UseG1GC\n')
  expect(readdirSync(config).sort()).toEqual(['elasticsearch.yml', 'jvm.options', 'jvm.options.d'])
  expect(readdirSync(esDir).sort()).toEqual(['.config-prep.lock', 'config', 'data', 'logs', 'tmp'])
}

describe('stack.sh es_prepare_instance', () => {
  afterAll(() => {
    rmSync(base, { recursive: true, force: true })
  })

  it('copies the config once and leaves an existing one alone (idempotent `stack up`)', async () => {
    const esDir = instance()
    expect((await prepare(esDir)).code).toBe(0)
    expectComplete(esDir)
    // An operator's change to the instance config survives the next `up`.
    writeFileSync(join(esDir, 'config', 'elasticsearch.yml'), '# tuned\n')
    expect((await prepare(esDir)).code).toBe(0)
    expect(readFileSync(join(esDir, 'config', 'elasticsearch.yml'), 'utf8')).toBe('# tuned\n')
  })

  it('replaces a half-copied config (an interrupted earlier preparation)', async () => {
    const esDir = instance()
    mkdirSync(join(esDir, 'config'))
    writeFileSync(join(esDir, 'config', 'jvm.options'), 'partial')
    expect((await prepare(esDir)).code).toBe(0)
    expectComplete(esDir)
  })

  it('never writes through a symlink planted at config, before or during the copy', async () => {
    for (const when of ['before', 'during'] as const) {
      const esDir = instance()
      const victim = join(base, `victim-${when}`)
      mkdirSync(victim)
      const plant = `ln -sfn "${victim}" "${esDir}/config"`
      // "during": the link appears after whatever clean-up ran and right before the copy (the
      // window a user who can write ES_DIR had with rm -rf + cp -R).
      const stage =
        when === 'before' ? plant : `cp() { [[ -e "${esDir}/config" ]] || ${plant}; command cp "$@"; }`
      if (when === 'before') symlinkSync(victim, join(esDir, 'config'))
      expect((await prepare(esDir, when === 'before' ? '' : stage)).code).toBe(0)
      expect(readdirSync(victim)).toEqual([])
      expectComplete(esDir)
    }
  })

  it('eight preparations of one instance at once end with one complete config', async () => {
    const esDir = instance()
    const barrier = join(base, 'barrier')
    mkdirSync(barrier)
    // Every preparation reaches the preparation lock before any takes it (a barrier on evidence:
    // all eight have arrived), the worst interleaving for check-then-prepare.
    const meet = `eval "orig_$(declare -f take_lock)"; take_lock() { touch "${barrier}/$BASHPID"; local i;
      for ((i = 0; i < 1000; i++)); do (( $(ls "${barrier}" | wc -l) >= 8 )) && break; sleep 0.01; done;
      orig_take_lock "$@"; }`
    const runs = await Promise.all(Array.from({ length: 8 }, () => prepare(esDir, meet)))
    expect(readdirSync(barrier)).toHaveLength(8)
    expect(runs.map((r) => r.code)).toEqual(Array(8).fill(0))
    expectComplete(esDir)
    expect(existsSync(join(esDir, 'config', 'config'))).toBe(false)
  })
})
