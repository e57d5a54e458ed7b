import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { processCpuSeconds } from './server-cpu.ts'

export interface MemorySample {
  rssMb: number
  heapUsedMb: number
  heapTotalMb: number
  externalMb: number
}

const MB = 1024 * 1024
/** prom-client default metrics (prefixed `spor_` by core/ops-plugin.ts) → sample fields. */
const MEMORY_METRICS: Record<string, keyof MemorySample> = {
  spor_process_resident_memory_bytes: 'rssMb',
  spor_nodejs_heap_size_used_bytes: 'heapUsedMb',
  spor_nodejs_heap_size_total_bytes: 'heapTotalMb',
  spor_nodejs_external_memory_bytes: 'externalMb',
}

/**
 * `spor ingest` as its own process, as it runs in production, so the bench measures that
 * process's throughput and memory (VmHWM from /proc), not the bench driver's.
 */
export class IngestProcess {
  readonly #child: ChildProcess
  readonly #metricsUrl: string
  #stderr = ''
  #memoryAtPeak: MemorySample | undefined
  /** `spor_ingest_in_flight_bytes` at each scrape once events flow: is the budget the bound? */
  readonly #inFlightBytes: number[] = []
  /** Bulk requests sent and Kafka batches handled so far, from the last scrape. */
  #requests = { bulk: 0, batches: 0 }

  constructor(repoRoot: string, env: Record<string, string>, httpPort: number, nodeArgs: string[] = []) {
    this.#metricsUrl = `http://127.0.0.1:${httpPort}/metrics`
    this.#child = spawn(process.execPath, [...nodeArgs, join(repoRoot, 'bin', 'spor.js'), 'ingest'], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...env,
        SPOR_INGEST_HTTP_PORT: String(httpPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    // The last lines of its output (pino logs on stdout, crashes on stderr), for a failure report.
    const keep = (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000)
    }
    this.#child.stdout?.on('data', keep)
    this.#child.stderr?.on('data', keep)
    process.once('exit', () => this.#child.kill('SIGKILL'))
  }

  get pid(): number {
    return this.#child.pid!
  }

  get exited(): boolean {
    return this.#child.exitCode !== null || this.#child.signalCode !== null
  }

  /** CPU time the process has used so far (user + system, all threads), seconds. */
  cpuSeconds(): number {
    return processCpuSeconds(this.pid)
  }

  /** Peak resident memory of the process so far (VmHWM), MB. */
  peakRssMb(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8')
    const kb = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN)
    return kb / 1024
  }

  /** True once the consumer has joined its group (`/ready` answers 200). */
  async ready(): Promise<boolean> {
    if (this.exited) throw new Error(`spor ingest exited early: ${this.#stderr}`)
    try {
      return (await fetch(this.#metricsUrl.replace(/\/metrics$/, '/ready'))).ok
    } catch {
      return false
    }
  }

  /**
   * Events the process has finished (indexed, dead-lettered or dropped), from its /metrics;
   * undefined until it answers. Each call also samples the process's memory (prom-client's
   * default metrics), keeping the sample with the highest RSS: see `memoryAtPeak`.
   */
  async handled(): Promise<{ indexed: number; total: number } | undefined> {
    if (this.exited) throw new Error(`spor ingest exited early: ${this.#stderr}`)
    try {
      const text = await (await fetch(this.#metricsUrl)).text()
      let indexed = 0
      let total = 0
      let inFlight: number | undefined
      const memory: Partial<Record<keyof MemorySample, number>> = {}
      for (const line of text.split('\n')) {
        const value = Number(line.slice(line.lastIndexOf(' ') + 1))
        if (line.startsWith('spor_ingest_events_total{')) {
          total += value
          if (line.includes('outcome="indexed"')) indexed += value
          continue
        }
        if (line.startsWith('spor_ingest_in_flight_bytes ')) inFlight = value
        if (line.startsWith('spor_ingest_bulk_request_duration_seconds_count ')) this.#requests.bulk = value
        if (line.startsWith('spor_ingest_batch_size_count ')) this.#requests.batches = value
        const name = line.slice(0, line.indexOf(' '))
        const field = MEMORY_METRICS[name]
        if (field) memory[field] = value / MB
      }
      if (memory.rssMb !== undefined && memory.rssMb > (this.#memoryAtPeak?.rssMb ?? -1)) {
        this.#memoryAtPeak = {
          rssMb: memory.rssMb,
          heapUsedMb: memory.heapUsedMb ?? Number.NaN,
          heapTotalMb: memory.heapTotalMb ?? Number.NaN,
          externalMb: memory.externalMb ?? Number.NaN,
        }
      }
      if (inFlight !== undefined && total > 0) this.#inFlightBytes.push(inFlight)
      return { indexed, total }
    } catch {
      return undefined
    }
  }

  /**
   * The sampled memory at the highest RSS seen (undefined if the process exports no default
   * metrics): JS heap used and reserved, and memory outside the heap (Buffers: the geo database,
   * Kafka fetches, bulk bodies). RSS minus heap minus external is code, stacks and allocator slack.
   */
  get memoryAtPeak(): MemorySample | undefined {
    return this.#memoryAtPeak
  }

  /**
   * Bulk bytes in flight over the run (median and 90th percentile of the scrapes once events
   * flow), MB; undefined when the process exports no such gauge (older code). A median well below
   * SPOR_INGEST_MAX_INFLIGHT_BYTES means the budget was not what bounded throughput.
   */
  get inFlightMb(): { p50: number; p90: number } | undefined {
    if (this.#inFlightBytes.length === 0) return undefined
    const sorted = [...this.#inFlightBytes].sort((a, b) => a - b)
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! / MB
    return { p50: at(0.5), p90: at(0.9) }
  }

  /**
   * Bulk requests sent and Kafka batches handled so far: with the events, how big each was.
   * Elasticsearch pays per request and per shard-level request, so many small bulks cost it more
   * CPU per document than the raw rows' full ones.
   */
  get requests(): { bulk: number; batches: number } {
    return { ...this.#requests }
  }

  /** SIGTERM (graceful: finishes and commits), then waits for the exit. */
  async stop(): Promise<void> {
    if (this.exited) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    this.#child.kill('SIGTERM')
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 30_000)
    await exited
    clearTimeout(timer)
  }
}
