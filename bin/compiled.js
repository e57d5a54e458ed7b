// The CLI precompiled to one JavaScript file (dist/spor.mjs), so that a running `spor` needs no
// TypeScript loader: tsx transpiles in memory and runs its loader hooks in a thread of their own
// (another V8 isolate), together about 60 MB of resident memory in `spor ingest`. Built by
// `npm run build` (also the `prepare` script, so `npm ci` / `npm install` build it); used only
// while every source it was built from is unchanged, otherwise bin/spor.js falls back to tsx.
// Tests (vitest) keep running the TypeScript sources.
import { createHash } from 'node:crypto'
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const OUT_DIR = join(ROOT, 'dist')
const bundleOf = (outDir) => join(outDir, 'spor.mjs')
const manifestOf = (outDir) => join(outDir, 'spor.build.json')

/**
 * One hash over the sources' paths and contents (as read now, or as `read` recorded them);
 * undefined when one of them is gone.
 */
function sourcesHash(sources, read = new Map()) {
  const hash = createHash('sha256')
  for (const source of sources) {
    try {
      hash
        .update(`${source}\0`)
        .update(read.get(source) ?? readFileSync(join(ROOT, source)))
        .update('\0')
    } catch {
      return undefined
    }
  }
  return hash.digest('hex')
}

/** URL of dist/spor.mjs when it was built from exactly the sources present now, else undefined. */
export function currentBuild(outDir = OUT_DIR) {
  let manifest
  try {
    manifest = JSON.parse(readFileSync(manifestOf(outDir), 'utf8'))
  } catch {
    return undefined
  }
  if (!Array.isArray(manifest?.sources) || typeof manifest.hash !== 'string') return undefined
  if (sourcesHash(manifest.sources) !== manifest.hash) return undefined
  return pathToFileURL(bundleOf(outDir))
}

// Each source keeps its own location for import.meta: files find data next to them
// (segments.json, the dashboard's public/, the geo package through createRequire), so
// import.meta.url/dirname/filename become the source's own, relative to where the bundle is.
// Every source's text is recorded as read (`read`), so the manifest's hash is that of what was
// bundled: a file saved during the build leaves the bundle unused, not marked current.
function ownImportMeta(outDir, read) {
  return {
    name: 'own-import-meta',
    setup(build) {
      build.onLoad({ filter: /\.js$/ }, (args) => {
        const source = relative(ROOT, args.path).split('\\').join('/')
        if (source.startsWith('node_modules/')) return undefined
        const text = readFileSync(args.path, 'utf8')
        read.set(source, text)
        return { contents: text, loader: 'js' }
      })
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        const source = relative(ROOT, args.path).split('\\').join('/')
        if (source.startsWith('node_modules/')) return undefined
        let text = readFileSync(args.path, 'utf8')
        read.set(source, text)
        if (!text.includes('import.meta')) return { contents: text, loader: 'ts' }
        const fromBundle = relative(outDir, args.path).split('\\').join('/')
        const url = `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`
        text = text
          .replaceAll('import.meta.url', url)
          .replaceAll('import.meta.filename', `__sporFileURLToPath(${url})`)
          .replaceAll('import.meta.dirname', `__sporDirname(__sporFileURLToPath(${url}))`)
        const header =
          "import { fileURLToPath as __sporFileURLToPath } from 'node:url'\nimport { dirname as __sporDirname } from 'node:path'\n"
        return { contents: header + text, loader: 'ts' }
      })
    },
  }
}

/** Builds dist/spor.mjs and its manifest (written last, so a half-built bundle is never used). */
export async function build(outDir = OUT_DIR) {
  const bundle = bundleOf(outDir)
  const esbuild = await import('esbuild')
  const read = new Map()
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, 'cli', 'spor.ts')],
    outfile: `${bundle}.tmp`,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    metafile: true,
    logLevel: 'warning',
    plugins: [ownImportMeta(outDir, read)],
  })
  const sources = Object.keys(result.metafile.inputs)
    .filter((path) => !path.startsWith('node_modules/'))
    .sort()
  renameSync(`${bundle}.tmp`, bundle)
  writeFileSync(manifestOf(outDir), `${JSON.stringify({ sources, hash: sourcesHash(sources, read) })}\n`)
  return sources.length
}

// `node bin/compiled.js`: the build. Never fails an install: without esbuild (or on any error)
// `spor` runs the sources through tsx as before.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const count = await build()
    console.log(`spor: compiled ${count} sources to dist/spor.mjs`)
  } catch (error) {
    console.warn(`spor: not compiled (${error?.message ?? error}); spor will run the sources through tsx`)
  }
}
