import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The parts of a V8 `.cpuprofile` (what `--cpu-prof` writes) this summary reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]
  samples: number[]
  timeDeltas: number[]
}

export interface SelfTime {
  name: string
  ms: number
  share: number
}

/** Where a script lives, short: the package for node_modules, the repo path for spor's own files. */
function place(url: string): string {
  if (!url) return '(native/V8)'
  const modules = url.lastIndexOf('node_modules/')
  if (modules >= 0) {
    const rest = url.slice(modules + 13).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  if (url.startsWith('node:')) return url
  const repo = url.match(/\/((?:bench|bin|core|enrich|ingest|generate|privacy|detect|query)\/[^/]+)$/)
  return repo ? repo[1]! : url.replace(/^file:\/\//, '')
}

/**
 * Self time of every `.cpuprofile` in a folder (`npm run bench -- --ingest-cpu-prof=DIR`), summed
 * by function and by file/package: what the `spor ingest` process spent its CPU on. Idle time
 * (`(idle)`) is left out of the shares, so they are shares of the CPU actually used; `skipMs`
 * leaves out the first milliseconds of each profile (module loading, joining the group).
 */
export function summariseProfiles(
  dir: string,
  top = 25,
  skipMs = 0,
): { byFunction: SelfTime[]; byPlace: SelfTime[]; busyMs: number } {
  const byFunction = new Map<string, number>()
  const byPlace = new Map<string, number>()
  let busy = 0
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile
    const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]))
    let elapsedMs = 0
    for (let i = 0; i < profile.samples.length; i++) {
      const frame = frames.get(profile.samples[i]!)!
      const ms = (profile.timeDeltas[i] ?? 0) / 1000
      elapsedMs += ms
      if (elapsedMs < skipMs || frame.functionName === '(idle)') continue
      busy += ms
      const where = place(frame.url)
      const fn = `${frame.functionName || '(anonymous)'} ${where}${frame.url ? `:${frame.lineNumber + 1}` : ''}`
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms)
      const key = frame.url ? where : frame.functionName
      byPlace.set(key, (byPlace.get(key) ?? 0) + ms)
    }
  }
  const rank = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, share: ms / busy }))
  return { byFunction: rank(byFunction), byPlace: rank(byPlace), busyMs: busy }
}

// `node --import tsx bench/ingest-profile.ts DIR [TOP] [SKIP_MS]`: SKIP_MS leaves out start-up
if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2]
  if (!dir) {
    console.error('usage: node --import tsx bench/ingest-profile.ts DIR [TOP] [SKIP_MS]')
    process.exit(2)
  }
  const { byFunction, byPlace, busyMs } = summariseProfiles(
    dir,
    Number(process.argv[3] ?? 25),
    Number(process.argv[4] ?? 0),
  )
  const line = (t: SelfTime) =>
    `  ${(100 * t.share).toFixed(1).padStart(5)} %  ${t.ms.toFixed(0).padStart(7)} ms  ${t.name}`
  console.log(`busy CPU ${busyMs.toFixed(0)} ms (idle left out)\nby file / package:`)
  for (const t of byPlace) console.log(line(t))
  console.log('by function:')
  for (const t of byFunction) console.log(line(t))
}
