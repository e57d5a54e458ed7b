import { describe, expect, it } from 'vitest'
import { type IndexingSample, steadyWindow } from './indexing-window.ts'

/** A row of 1,000 documents: slow for its first second (warming up), then 500 per second. */
function row(): IndexingSample[] {
  const samples: IndexingSample[] = []
  for (let at = 0; at <= 3_000; at += 200) {
    const documents = at <= 1_000 ? at / 10 : Math.min(1_000, 100 + ((at - 1_000) * 500) / 1_000)
    samples.push({ at, documents, cpu: { es: at / 1_000, spor: at / 2_000 } })
  }
  return samples
}

describe('steady window of a bench row', () => {
  it('leaves out the slow start and times the middle by the samples themselves', () => {
    const w = steadyWindow(row(), 1_000)!
    // First sample at ≥ 200 documents: 1.2 s (200); last at ≤ 900: 2.6 s (900).
    expect(w.perSecond).toBeCloseTo(500, 6)
    expect(w.busy).toEqual({ es: 100, spor: 50 })
    expect([w.from, w.to]).toEqual([0.2, 0.9])
  })

  it('has no window when too few samples fall inside it', () => {
    const samples = row()
    expect(steadyWindow([samples[0]!, samples.at(-1)!], 1_000)).toBeUndefined()
    expect(steadyWindow([], 1_000)).toBeUndefined()
  })

  it('reports busy shares only for processes sampled at both ends', () => {
    const samples = row().map((s, i) => (i < 8 ? { ...s, cpu: { es: s.cpu.es! } } : s))
    expect(Object.keys(steadyWindow(samples, 1_000)!.busy)).toEqual(['es'])
  })
})
