import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_RETENTION_DAYS, RETENTION_CLASSES } from '../core/retention.ts'
import { fileText, GENERATED_DIR, generatedFiles, readPolicyFiles } from './generated.ts'
import { lifecyclePolicy, policyName } from './policies.ts'

describe('generated ILM JSON files', () => {
  const expected = generatedFiles('spor', DEFAULT_RETENTION_DAYS)

  it.each([...expected.keys()])(
    '%s in the repository equals the generator (run `spor retention write-json`)',
    async (path) => {
      // Parsed, so the formatter may lay the files out its own way.
      const text = await readFile(join(GENERATED_DIR, path), 'utf8')
      expect(JSON.parse(text)).toStrictEqual(JSON.parse(fileText(expected.get(path)!)))
    },
  )

  it('holds no file the generator does not make', async () => {
    const present: string[] = []
    for (const sub of ['policies', 'templates']) {
      for (const f of await readdir(join(GENERATED_DIR, sub))) present.push(join(sub, f))
    }
    expect(present.sort()).toEqual([...expected.keys()].sort())
  })

  it('has one policy per class, equal to what setup installs', async () => {
    const policies = await readPolicyFiles(GENERATED_DIR)
    expect(Object.keys(policies).sort()).toEqual(RETENTION_CLASSES.map((c) => policyName('spor', c)).sort())
    for (const cls of RETENTION_CLASSES) {
      expect(policies[policyName('spor', cls)]).toEqual(lifecyclePolicy(cls, DEFAULT_RETENTION_DAYS))
    }
  })
})
