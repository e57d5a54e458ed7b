import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { supervise } from './supervisor.ts'

describe('demo supervisor', { timeout: 60_000 }, () => {
  it('reports each exit with the last log lines, restarts within the budget, then gives up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spor-supervisor-'))
    const logFile = join(dir, 'svc.log')
    const printed: string[] = []
    // A service that logs a line and dies at once, as `spor ingest` does on a bad configuration.
    const start = () =>
      spawn(
        process.execPath,
        [
          '-e',
          `require('fs').appendFileSync(${JSON.stringify(logFile)}, 'boom: ' + process.pid + '\\n'); process.exit(3)`,
        ],
        { stdio: 'ignore' },
      )
    const gaveUp = await new Promise<string>((resolve) => {
      supervise({
        name: 'ingest',
        start,
        logFile,
        maxRestarts: 2,
        windowMs: 60_000,
        print: (l) => printed.push(l),
        onGiveUp: resolve,
      })
    })
    expect(gaveUp).toBe('ingest')
    expect(printed.filter((l) => l.includes('ingest exited with code 3'))).toHaveLength(3)
    expect(printed.filter((l) => l.startsWith('  | boom: '))).toHaveLength(1 + 2 + 3) // the log grows
    expect(printed.filter((l) => l.includes('restarting ingest'))).toHaveLength(2)
    expect(printed.at(-1)).toMatch(/giving up on ingest after 2 restarts/)
  })

  it('does not restart what it was asked to stop', async () => {
    const printed: string[] = []
    const sup = supervise({
      name: 'query',
      start: () => spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }),
      logFile: '/nonexistent',
      maxRestarts: 5,
      windowMs: 60_000,
      print: (l) => printed.push(l),
      onGiveUp: () => {},
    })
    await sup.stop()
    expect(sup.child.signalCode).toBe('SIGTERM')
    expect(printed).toEqual([])
    expect(sup.restarts).toBe(0)
  })
})
