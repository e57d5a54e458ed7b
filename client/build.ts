import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const CLIENT_DIR = import.meta.dirname

/**
 * The browser client as one minified ES module (no dependencies to bundle; esbuild strips the
 * types and minifies). Targets browsers with `fetch` keepalive and `sendBeacon` (2020 onwards).
 */
export async function buildClient(): Promise<{ code: string; bytes: number; gzipBytes: number }> {
  const result = await build({
    entryPoints: [join(CLIENT_DIR, 'spor.ts')],
    bundle: true,
    format: 'esm',
    minify: true,
    target: ['chrome90', 'firefox90', 'safari15'],
    write: false,
    logLevel: 'silent',
  })
  const code = result.outputFiles[0]!.text
  return { code, bytes: Buffer.byteLength(code), gzipBytes: gzipSync(code, { level: 9 }).length }
}

// `npm run client:build` writes dist/spor.min.js (git-ignored) and prints its size.
if (process.argv[1] === import.meta.filename) {
  const { code, bytes, gzipBytes } = await buildClient()
  const out = join(CLIENT_DIR, '..', 'dist', 'spor.min.js')
  mkdirSync(join(CLIENT_DIR, '..', 'dist'), { recursive: true })
  writeFileSync(out, code)
  console.log(`${out}: ${bytes} bytes minified, ${gzipBytes} bytes minified + gzip`)
}
