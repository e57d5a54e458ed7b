import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { estypes } from '@elastic/elasticsearch'
import { RETENTION_CLASSES, type RetentionDays } from '../core/retention.ts'
import { lifecyclePolicy, policyName } from './policies.ts'
import { indexTemplate, registeredClasses, templateName } from './templates.ts'

/**
 * The lifecycle policies and index templates as JSON files an operator can review and apply
 * (`PUT _ilm/policy/<file name>` with a policy file, `PUT _index_template/<file name>` with a
 * template file), generated from the same functions `spor setup` installs from. The files in
 * the repository are for the default prefix `spor` and the default retention table, with the
 * lifecycle settings a cluster with ILM gets; `spor retention write-json` writes them for this
 * installation's configuration. A unit test keeps the committed files equal to the generator.
 */
export const GENERATED_DIR = join(dirname(fileURLToPath(import.meta.url)), 'generated')

export function generatedFiles(prefix: string, retention: RetentionDays): Map<string, object> {
  const files = new Map<string, object>()
  for (const cls of RETENTION_CLASSES) {
    files.set(join('policies', `${policyName(prefix, cls)}.json`), {
      policy: lifecyclePolicy(cls, retention),
    })
  }
  for (const cls of registeredClasses()) {
    const { name: _name, ...body } = indexTemplate(prefix, cls, { ilm: true })
    files.set(join('templates', `${templateName(prefix, cls)}.json`), body)
  }
  return files
}

export function fileText(content: object): string {
  return `${JSON.stringify(content, null, 2)}\n`
}

export async function writeGeneratedFiles(
  dir: string,
  prefix: string,
  retention: RetentionDays,
): Promise<string[]> {
  const written: string[] = []
  for (const [path, content] of generatedFiles(prefix, retention)) {
    const file = join(dir, path)
    await mkdir(dirname(file), { recursive: true })
    await writeFile(file, fileText(content))
    written.push(file)
  }
  return written
}

/** The policy files of a directory: policy name (the file name) → the body inside `policy`. */
export async function readPolicyFiles(dir: string): Promise<Record<string, estypes.IlmPolicy>> {
  const policiesDir = join(dir, 'policies')
  const out: Record<string, estypes.IlmPolicy> = {}
  for (const file of (await readdir(policiesDir)).filter((f) => f.endsWith('.json')).sort()) {
    const parsed = JSON.parse(await readFile(join(policiesDir, file), 'utf8')) as {
      policy?: estypes.IlmPolicy
    }
    if (!parsed.policy) throw new Error(`${file}: expected {"policy": {...}}`)
    out[file.slice(0, -'.json'.length)] = parsed.policy
  }
  return out
}
