import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import type { Client } from '@elastic/elasticsearch'
import type { SporConfig } from '../core/config.ts'

/** USER_HZ of /proc/<pid>/stat: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100

/**
 * CPU time a process has used so far (user + system, all threads), seconds, from
 * /proc/<pid>/stat. Per event it is the cost that does not depend on how busy the machine is.
 */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
}

/** The Elasticsearch node and Kafka broker the bench talks to, when they run on this host. */
export interface ServerProcesses {
  es?: number
  kafka?: number
}

/** CPU seconds of each server process at one moment. */
export type ServerCpu = Partial<Record<keyof ServerProcesses, number>>

const isLoopback = (host: string) => /^(127\.|localhost$|\[?::1\]?$)/.test(host)

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
  } catch {
    return ''
  }
}

/**
 * Finds the servers' processes: the Elasticsearch node says its own pid (`_nodes/_local`), the
 * broker's is in the local stack's pid file (stack/stack.sh). Each only when it is reached on a
 * loopback address and the process with that pid is that server, so a remote cluster is never
 * confused with an unrelated local process.
 */
export async function localServers(
  es: Client,
  config: SporConfig,
  repoRoot: string,
): Promise<ServerProcesses> {
  const found: ServerProcesses = {}
  if (isLoopback(new URL(config.es.url).hostname)) {
    const info = await es.nodes.info({ node_id: '_local', metric: 'process' }).catch(() => undefined)
    const pid = Object.values(info?.nodes ?? {})[0]?.process?.id
    if (pid && commandLine(pid).includes('org.elasticsearch')) found.es = pid
  }
  const pidFile = join(process.env.SPOR_STACK_DIR ?? join(repoRoot, '.spor', 'stack'), 'kafka', 'pid')
  if (config.kafka.brokers.every((b) => isLoopback(b.slice(0, b.lastIndexOf(':')))) && existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim())
    if (pid > 0 && commandLine(pid).includes('kafka.Kafka')) found.kafka = pid
  }
  return found
}

export function serverCpu(servers: ServerProcesses): ServerCpu {
  const cpu: ServerCpu = {}
  for (const [name, pid] of Object.entries(servers) as [keyof ServerProcesses, number][]) {
    cpu[name] = processCpuSeconds(pid)
  }
  return cpu
}

/** A process's CPU over a stretch of work: µs per event, and its share of one core, %. */
export interface CpuLoad {
  microsPerEvent: number
  coreShare: number
}

export function cpuLoad(cpuSeconds: number, events: number, seconds: number): CpuLoad {
  return { microsPerEvent: (cpuSeconds * 1e6) / events, coreShare: (100 * cpuSeconds) / seconds }
}

/** What each server measured on this host spent between two samples. */
export type ServerLoad = Partial<Record<keyof ServerProcesses, CpuLoad>>

export function serverLoad(from: ServerCpu, to: ServerCpu, events: number, seconds: number): ServerLoad {
  const load: ServerLoad = {}
  for (const name of Object.keys(to) as (keyof ServerProcesses)[]) {
    const [before, after] = [from[name], to[name]]
    if (before !== undefined && after !== undefined) load[name] = cpuLoad(after - before, events, seconds)
  }
  return load
}

/**
 * `--isolate-es`: the Elasticsearch node gets CPU 0 to itself and everything else (the broker,
 * this bench and the `spor ingest` children it starts) the other CPUs, as a cluster has its own
 * nodes: the ceiling is then the node's, not what is left of a core spor also uses. Returns the
 * undo (every CPU for all three again). Needs the node's pid, two CPUs and `taskset`.
 */
export function isolateElasticsearch(servers: ServerProcesses): () => void {
  const cpus = availableParallelism()
  if (!servers.es) throw new Error('--isolate-es: the Elasticsearch node is not a process on this host')
  if (cpus < 2) throw new Error(`--isolate-es needs two CPUs; this host has ${cpus}`)
  const rest = [servers.kafka, process.pid].filter((pid): pid is number => pid !== undefined)
  const pin = (list: string, pid: number) => execFileSync('taskset', ['-a', '-p', '-c', list, String(pid)])
  const all = `0-${cpus - 1}`
  pin('0', servers.es)
  for (const pid of rest) pin(`1-${cpus - 1}`, pid)
  return () => {
    for (const pid of [servers.es!, ...rest]) pin(all, pid)
  }
}
