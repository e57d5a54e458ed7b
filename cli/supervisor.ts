import type { ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'

/**
 * Keeps one demo service running: when it exits on its own, says so with the last lines of its
 * log, and starts it again after a short backoff, at most `maxRestarts` times within `windowMs`
 * (the same idea as the consumers' own restart budget). Past the budget it gives up and reports,
 * so a newcomer sees why instead of a demo that silently stopped working.
 */
export interface SupervisorOptions {
  name: string
  start: () => ChildProcess
  logFile: string
  maxRestarts: number
  windowMs: number
  /** Lines of the log shown when the service exits. */
  tailLines?: number
  print: (line: string) => void
  onGiveUp: (name: string) => void
  now?: () => number
}

export interface Supervisor {
  readonly child: ChildProcess
  readonly restarts: number
  /** Stops supervising and the service (SIGTERM, then waits for it to exit). */
  stop(): Promise<void>
}

export function lastLines(file: string, count: number): string[] {
  if (!existsSync(file)) return []
  const text = readFileSync(file, 'utf8')
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-count)
}

export function supervise(options: SupervisorOptions): Supervisor {
  const now = options.now ?? Date.now
  const recent: number[] = []
  let stopping = false
  let total = 0
  let child = options.start()
  let timer: ReturnType<typeof setTimeout> | undefined

  const watch = (current: ChildProcess) => {
    current.once('exit', (code, signal) => {
      if (stopping) return
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`
      options.print(`spor demo: ${options.name} ${how}; last lines of ${options.logFile}:`)
      for (const line of lastLines(options.logFile, options.tailLines ?? 10)) options.print(`  | ${line}`)
      const at = now()
      recent.push(at)
      while (recent.length > 0 && recent[0]! < at - options.windowMs) recent.shift()
      if (recent.length > options.maxRestarts) {
        options.print(
          `spor demo: giving up on ${options.name} after ${options.maxRestarts} restarts within ${Math.round(options.windowMs / 1000)} s`,
        )
        options.onGiveUp(options.name)
        return
      }
      const delay = Math.min(10_000, 500 * 2 ** (recent.length - 1))
      options.print(
        `spor demo: restarting ${options.name} in ${delay} ms (restart ${recent.length} of ${options.maxRestarts})`,
      )
      timer = setTimeout(() => {
        if (stopping) return
        total++
        child = options.start()
        watch(child)
      }, delay)
    })
  }
  watch(child)

  return {
    get child() {
      return child
    },
    get restarts() {
      return total
    },
    stop() {
      stopping = true
      if (timer) clearTimeout(timer)
      return new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
    },
  }
}
