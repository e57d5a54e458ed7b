import { describe, expect, it } from 'vitest'
import { loadConfig } from '../core/config.ts'
import {
  DEFAULT_INGEST_HEAP_MB,
  INGEST_HEAP_GROWING_PERCENT,
  INGEST_YOUNG_GENERATION_MB,
  ingestHeapLimits,
  ingestV8Flags,
} from './ingest-heap.js'

/** The launcher's reading of SPOR_INGEST_HEAP_MB agrees with the configuration's. */
describe('ingest heap limits', () => {
  it('caps the heap by default and as configured', () => {
    expect(ingestHeapLimits({})).toEqual({
      maxOldGenerationSizeMb: DEFAULT_INGEST_HEAP_MB,
      maxYoungGenerationSizeMb: INGEST_YOUNG_GENERATION_MB,
    })
    expect(ingestHeapLimits({ SPOR_INGEST_HEAP_MB: '512' })?.maxOldGenerationSizeMb).toBe(512)
    expect(loadConfig({}).ingest.heapMb).toBe(DEFAULT_INGEST_HEAP_MB)
    expect(loadConfig({ SPOR_INGEST_HEAP_MB: '512' }).ingest.heapMb).toBe(512)
  })

  it('leaves 0 and every value the configuration refuses to the main thread (where the refusal is clear)', () => {
    expect(ingestHeapLimits({ SPOR_INGEST_HEAP_MB: '0' })).toBeUndefined()
    expect(loadConfig({ SPOR_INGEST_HEAP_MB: '0' }).ingest.heapMb).toBe(0)
    for (const bad of ['abc', '-1', '1.5', '95', '70000', 'Infinity']) {
      expect(ingestHeapLimits({ SPOR_INGEST_HEAP_MB: bad })).toBeUndefined()
      expect(() => loadConfig({ SPOR_INGEST_HEAP_MB: bad })).toThrow(/SPOR_INGEST_HEAP_MB|heapMb/)
    }
  })

  it('raises the heap growing factor only for the capped worker (Node’s own limits keep V8’s own factor)', () => {
    expect(ingestV8Flags(ingestHeapLimits({}))).toEqual([
      `--heap-growing-percent=${INGEST_HEAP_GROWING_PERCENT}`,
    ])
    expect(ingestV8Flags(ingestHeapLimits({ SPOR_INGEST_HEAP_MB: '0' }))).toEqual([])
  })

  it('refuses a cap too small for the in-flight bytes', () => {
    expect(() =>
      loadConfig({ SPOR_INGEST_HEAP_MB: '200', SPOR_INGEST_MAX_INFLIGHT_BYTES: String(32 * 1024 * 1024) }),
    ).toThrow(/at least 224/)
    expect(
      loadConfig({ SPOR_INGEST_HEAP_MB: '224', SPOR_INGEST_MAX_INFLIGHT_BYTES: String(32 * 1024 * 1024) })
        .ingest.heapMb,
    ).toBe(224)
  })

  it('grows the default cap with a larger in-flight budget instead of refusing it (every command loads this config)', () => {
    const env = { SPOR_INGEST_MAX_INFLIGHT_BYTES: String(64 * 1024 * 1024) }
    expect(loadConfig(env).ingest.heapMb).toBe(96 + 4 * 64)
    expect(ingestHeapLimits(env)?.maxOldGenerationSizeMb).toBe(96 + 4 * 64)
    // A budget the default already holds keeps the default.
    const small = { SPOR_INGEST_MAX_INFLIGHT_BYTES: String(8 * 1024 * 1024) }
    expect(loadConfig(small).ingest.heapMb).toBe(DEFAULT_INGEST_HEAP_MB)
    expect(ingestHeapLimits(small)?.maxOldGenerationSizeMb).toBe(DEFAULT_INGEST_HEAP_MB)
  })
})
