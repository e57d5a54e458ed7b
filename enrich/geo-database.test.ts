import { copyFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { createLogger } from '../core/logger.ts'
import { createGeoLookup } from './geo.ts'
import { defaultGeoDbPaths, GeoDatabase } from './geo-database.ts'

const dir = mkdtempSync(join(tmpdir(), 'spor-geo-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const [v4File, v6File] = defaultGeoDbPaths() as [string, string]

function expectGeoError(run: () => unknown, message: RegExp): void {
  try {
    run()
  } catch (error) {
    expect(error).toMatchObject({ code: 'SPOR_ERR_GEOIP', message: expect.stringMatching(message) })
    return
  }
  throw new Error('expected SPOR_ERR_GEOIP')
}

describe('GeoDatabase start-up checks', () => {
  it('a missing file is a clear error naming it', () => {
    const missing = join(dir, 'nope.mmdb')
    expectGeoError(() => new GeoDatabase([missing]), /nope\.mmdb: ENOENT/)
  })

  it('a file that is not an mmdb is a clear error', () => {
    const junk = join(dir, 'junk.mmdb')
    writeFileSync(junk, 'this is not a MaxMind database\n'.repeat(100))
    expectGeoError(() => new GeoDatabase([junk]), /junk\.mmdb is not a readable MaxMind City database/)
  })

  it('a truncated file is a clear error', () => {
    const cut = join(dir, 'cut.mmdb')
    writeFileSync(cut, Buffer.alloc(4096, 0xab))
    expectGeoError(() => new GeoDatabase([cut]), /cut\.mmdb is not a readable/)
  })

  it('no file at all is an error', () => {
    expectGeoError(() => new GeoDatabase([]), /no geo database file/)
  })
})

describe('GeoDatabase replacement', () => {
  it('a replaced file is picked up without restart; a corrupt replacement is refused and the data kept', async () => {
    const path = join(dir, 'city.mmdb')
    copyFileSync(v4File, path)
    const db = new GeoDatabase([path])
    const lookup = createGeoLookup(db)
    expect(lookup('8.8.8.8')?.country).toBe('US')
    expect(db.info.files[0]?.ipVersion).toBe(4)

    // A corrupt file renamed into place: refused, the loaded data stays in use.
    const bad = join(dir, 'bad.tmp')
    writeFileSync(bad, 'garbage')
    renameSync(bad, path)
    expect(db.reloadIfChanged()).toBe(false)
    expect(lookup('8.8.8.8')?.country).toBe('US')

    // The operator's way: write the new file beside it, rename it over the old one. The IPv6-only
    // file holds no IPv4 ranges, so 8.8.8.8 stops resolving once it is in use.
    const next = join(dir, 'next.tmp')
    copyFileSync(v6File, next)
    const log = createLogger('test', 'silent')
    db.watch({ intervalMs: 50, maxAgeDays: 100_000, log })
    try {
      renameSync(next, path)
      await vi.waitFor(() => expect(db.info.files[0]?.ipVersion).toBe(6), { timeout: 30_000, interval: 50 })
      expect(lookup('8.8.8.8')).toBeUndefined()
      expect(lookup('2a01:79c::1')?.country).toBe('NO')
    } finally {
      db.close()
    }
  }, 60_000) // copies and reads ~45 MB twice: slow on a busy machine, not a wait for time
})
