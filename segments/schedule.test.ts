import { Client } from '@elastic/elasticsearch'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../core/config.ts'
import { startSegmentsSchedule } from './schedule.ts'

describe('segments schedule switch (SPOR_SEGMENTS_EVERY_MS)', () => {
  it('0 starts nothing in this process and says who must compute the profiles instead', async () => {
    const lines: string[] = []
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) })
    // Nothing listens on port 1: a run that started anyway would log a failed attempt.
    const es = new Client({ node: 'http://127.0.0.1:1' })
    const config = loadConfig({ SPOR_SEGMENTS_EVERY_MS: '0' })
    expect(config.ingest.segmentsEveryMs).toBe(0)
    expect(startSegmentsSchedule(es, config, log)).toBeUndefined()
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual([
      'segments job disabled here (SPOR_SEGMENTS_EVERY_MS=0): `spor segments run` must compute the profiles',
    ])
    await es.close()
  })

  it('defaults to an hourly check', () => {
    expect(loadConfig({}).ingest.segmentsEveryMs).toBe(3_600_000)
  })
})
