import { spawn } from 'node:child_process'
import { createReadStream, mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requirePseudonymKey } from '../core/config.ts'
import type { SporEvent } from '../core/event-schema.ts'
import { classIndex } from '../core/indices.ts'
import { DAY_MS } from '../core/retention.ts'
import { createEnrichers, enrichEvent } from '../enrich/index.ts'
import { documentId } from '../ingest/plan-batch.ts'
import { countDocs, createTestEnv, type TestEnv } from './helpers/test-env.ts'

const REPO = join(import.meta.dirname, '..')
const now = new Date()
const LARGE = 100_000
const SMALL = 10_000
/** JavaScript heap cap for the bounded-memory proof, well under the 100 MB the export writes. */
const HEAP_CAP_MB = 48

/** A heavy user's history: `count` short-class events spread over 20 days. */
function* history(user: string, count: number): Generator<SporEvent> {
  const start = now.getTime() - 20 * DAY_MS
  for (let i = 0; i < count; i++) {
    yield {
      v: 1,
      id: `${user}-${i}`,
      type: i % 2 === 0 ? 'page.view' : 'feature.use',
      ts: new Date(start + Math.floor((i / count) * 20 * DAY_MS)).toISOString(),
      tenant: 'acme',
      user,
      session: `s-${user}-${Math.floor(i / 50)}`,
      module: 'crm',
      function: 'contacts.view',
      ip: '81.166.12.34',
      device: {
        ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
        deviceId: `dev-${user}`,
        screen: { w: 1920, h: 1080 },
        network: { type: 'ethernet' },
      },
    }
  }
}

/** Indexes enriched documents directly with bulk (bulk speed; the consumer path is tested elsewhere). */
async function seed(t: TestEnv, events: Iterable<SporEvent>): Promise<void> {
  const enrichers = createEnrichers({ uaCacheSize: 100, pseudonymKey: requirePseudonymKey(t.config) })
  let operations: object[] = []
  const flush = async () => {
    if (operations.length === 0) return
    const result = await t.es.bulk({ operations })
    if (result.errors) throw new Error('seeding bulk failed')
    operations = []
  }
  for (const event of events) {
    operations.push(
      {
        index: {
          _index: classIndex(t.name, 'short', new Date(event.ts)),
          _id: documentId(event.tenant, event.id),
        },
      },
      enrichEvent(event, 'short', enrichers, now),
    )
    if (operations.length >= 4000) await flush()
  }
  await flush()
}

/** Runs `spor subject export` as its own process and samples its peak RSS (VmHWM) until it exits. */
async function exportWithPeakRss(
  t: TestEnv,
  args: string[],
  nodeOptions: string[] = [],
): Promise<{ code: number | null; peakKb: number; stderr: string }> {
  const child = spawn(process.execPath, [...nodeOptions, join(REPO, 'bin', 'spor.js'), ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...t.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (chunk) => {
    stderr += chunk
  })
  let peakKb = 0
  const sample = () => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
      const match = /VmHWM:\s+(\d+) kB/.exec(status)
      if (match) peakKb = Math.max(peakKb, Number(match[1]))
    } catch {
      // the process is gone; the last sample holds the peak (VmHWM only grows)
    }
  }
  const timer = setInterval(sample, 50)
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  clearInterval(timer)
  return { code, peakKb, stderr }
}

async function lineStats(file: string): Promise<{ lines: number; ids: Set<string>; foreign: number }> {
  const ids = new Set<string>()
  let lines = 0
  let foreign = 0
  for await (const line of createInterface({ input: createReadStream(file) })) {
    lines++
    if (lines === 1) continue
    const record = JSON.parse(line) as { id: string; document: { user?: { id?: string } } }
    ids.add(record.id)
    if (record.document.user?.id !== 'heavy') foreign++
  }
  return { lines, ids, foreign }
}

describe('large export: 100 000 events stream with bounded memory', () => {
  let t: TestEnv

  beforeAll(async () => {
    t = await createTestEnv('privbig')
    await seed(t, history('heavy', LARGE))
    await seed(t, history('light', SMALL))
    await t.es.indices.refresh({ index: `${t.name}-short-*` })
    expect(await countDocs(t, 'short-*')).toBe(LARGE + SMALL)
  }, 600_000)

  afterAll(async () => {
    await t?.cleanup()
  })

  it('exports every event of the subject; memory stays bounded whatever the export size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spor-big-'))
    const exportArgs = (user: string) => [
      'subject',
      'export',
      '--tenant',
      'acme',
      '--user',
      user,
      '--out',
      join(dir, `${user}.ndjson`),
    ]
    // The CLI's own footprint (it loads the geo database for every command): the baseline.
    const idle = await exportWithPeakRss(t, ['--help'])
    const small = await exportWithPeakRss(t, exportArgs('light'))
    const large = await exportWithPeakRss(t, exportArgs('heavy'))
    expect(small.code, small.stderr).toBe(0)
    expect(large.code, large.stderr).toBe(0)
    expect(large.stderr).toMatch(/exported: \d+\/100000/)

    const stats = await lineStats(join(dir, 'heavy.ndjson'))
    expect(stats.lines).toBe(LARGE + 1)
    expect(stats.ids.size).toBe(LARGE)
    expect(stats.foreign).toBe(0)
    const exportMb = statSync(join(dir, 'heavy.ndjson')).size / 1e6

    // The same export with the JavaScript heap capped far below the export's size: it can only
    // succeed if documents are written as they are read.
    const capped = await exportWithPeakRss(t, exportArgs('heavy'), [`--max-old-space-size=${HEAP_CAP_MB}`])
    expect(capped.code, capped.stderr).toBe(0)
    // (plus the audit record of the first export, which is about the same person)
    expect((await lineStats(join(dir, 'heavy.ndjson'))).ids.size).toBe(LARGE + 1)

    const mb = (kb: number) => Math.round(kb / 1024)
    const report = {
      exportMb: Math.round(exportMb),
      peakRssMb: {
        idleCli: mb(idle.peakKb),
        export10k: mb(small.peakKb),
        export100k: mb(large.peakKb),
        export100kHeapCapped: mb(capped.peakKb),
      },
      heapCapMb: HEAP_CAP_MB,
    }
    console.log(`large export: ${JSON.stringify(report)}`)
    expect(HEAP_CAP_MB).toBeLessThan(exportMb / 2)
  }, 600_000)
})
