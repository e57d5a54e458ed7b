import { describe, expect, it } from 'vitest'
import { processCpuSeconds, serverLoad } from './server-cpu.ts'

describe('server CPU accounting of the ingest bench', () => {
  it('reads a process CPU time that grows while it works', () => {
    const before = processCpuSeconds(process.pid)
    // Spin for 200 ms of CPU, not of wall time: a busy host may give this process far less than
    // a core, and then a wall-clock spin proves nothing about the reader.
    const start = process.cpuUsage()
    const spentSeconds = () => {
      const used = process.cpuUsage(start)
      return (used.user + used.system) / 1e6
    }
    while (spentSeconds() < 0.2);
    const spent = spentSeconds()
    const after = processCpuSeconds(process.pid)
    // /proc counts in USER_HZ ticks (10 ms): allow a few ticks of rounding at either end.
    expect(after - before).toBeGreaterThanOrEqual(spent - 0.05)
  })

  it('turns CPU seconds into µs per event and a share of one core, per server measured', () => {
    const load = serverLoad({ es: 10, kafka: 2 }, { es: 16, kafka: 2.5 }, 100_000, 8)
    expect(load.es?.microsPerEvent).toBeCloseTo(60)
    expect(load.es?.coreShare).toBeCloseTo(75)
    expect(load.kafka?.microsPerEvent).toBeCloseTo(5)
    expect(load.kafka?.coreShare).toBeCloseTo(6.25)
    // A server that is not a process on this host is left out, not reported as zero.
    expect(serverLoad({ es: 1 }, { es: 2 }, 10, 1)).toEqual({
      es: { microsPerEvent: 100_000, coreShare: 100 },
    })
  })
})
