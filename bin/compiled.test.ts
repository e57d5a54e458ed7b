import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build, currentBuild } from './compiled.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
// Under dist/ (ignored by git and biome), one level deeper than the real bundle: the sources'
// import.meta must still point at the sources.
const OUT = join(ROOT, 'dist', `test-${process.pid}`)
const MANIFEST = join(OUT, 'spor.build.json')

describe('precompiled CLI (bin/compiled.js)', () => {
  let manifest: string
  beforeAll(async () => {
    expect(await build(OUT)).toBeGreaterThan(50)
    manifest = readFileSync(MANIFEST, 'utf8')
  }, 60_000)
  afterAll(() => rmSync(OUT, { recursive: true, force: true }))

  it('runs as the sources do: version from package.json, configuration, bundled geo package found', () => {
    const bundle = currentBuild(OUT)
    expect(bundle?.pathname).toBe(join(OUT, 'spor.mjs'))
    const version = spawnSync(process.execPath, [fileURLToPath(bundle!), '--version'], { encoding: 'utf8' })
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
    expect(version.stdout.trim()).toBe(`spor ${pkg.version}`)
    const config = spawnSync(process.execPath, [fileURLToPath(bundle!), 'config'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, SPOR_INGEST_HEAP_MB: '200' },
    })
    expect(config.status).toBe(0)
    expect(JSON.parse(config.stdout).ingest.heapMb).toBe(200)
  }, 60_000)

  it('is not used once a source differs from the one it was built from, or is gone', () => {
    const parsed = JSON.parse(manifest) as { sources: string[]; hash: string }
    expect(parsed.sources).toContain('cli/spor.ts')
    writeFileSync(
      MANIFEST,
      JSON.stringify({ ...parsed, hash: parsed.hash.replace(/^./, (c) => (c === '0' ? '1' : '0')) }),
    )
    expect(currentBuild(OUT)).toBeUndefined()
    writeFileSync(MANIFEST, JSON.stringify({ ...parsed, sources: [...parsed.sources, 'cli/gone.ts'] }))
    expect(currentBuild(OUT)).toBeUndefined()
    writeFileSync(MANIFEST, '{not json')
    expect(currentBuild(OUT)).toBeUndefined()
    writeFileSync(MANIFEST, manifest)
    expect(currentBuild(OUT)).toBeDefined()
  })
})
