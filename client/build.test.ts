import { describe, expect, it } from 'vitest'
import { buildClient } from './build.ts'

describe('browser client bundle', () => {
  it('is one dependency-free ES module small enough to inline (≤ 3 KiB minified + gzip)', async () => {
    const { code, gzipBytes } = await buildClient()
    expect(code).toMatch(/export\s*\{[^}]*createSporClient/)
    expect(code).not.toMatch(/\bimport\b[^(]/) // nothing to load besides itself
    expect(gzipBytes).toBeLessThanOrEqual(3 * 1024)
  })
})
