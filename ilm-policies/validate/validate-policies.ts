import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { estypes } from '@elastic/elasticsearch'
import { SporError } from '../../core/errors.ts'

const run = promisify(execFile)
const HERE = dirname(fileURLToPath(import.meta.url))
const STACK_SH = join(HERE, '..', '..', 'stack', 'stack.sh')

export interface PolicyVerdict {
  name: string
  valid: boolean
  /** Elasticsearch's own message when the policy is rejected. */
  message?: string
}

/** Where the local Elasticsearch distribution and a JDK >= 21 are (`stack/stack.sh paths`). */
async function esPaths(): Promise<{ esHome: string; javaHome: string }> {
  try {
    const { stdout } = await run('bash', [STACK_SH, 'paths'])
    const value = (key: string) => stdout.match(new RegExp(`^${key}=(.+)$`, 'm'))?.[1]
    const esHome = value('ES_HOME')
    const javaHome = value('ES_JAVA_HOME')
    if (!esHome || !javaHome) throw new Error(`unexpected output: ${stdout}`)
    return { esHome, javaHome }
  } catch (error) {
    throw new SporError(
      'SPOR_ERR_STACK',
      `cannot locate the Elasticsearch distribution: ${(error as Error).message}`,
    )
  }
}

/**
 * Runs Elasticsearch's own ILM model (x-pack-core, `ValidatePolicy.java`) over the policies, as a
 * cluster with ILM would on `PUT _ilm/policy`. Needs the distribution that `spor stack up`
 * downloads and a JDK >= 21; about a second of JVM start plus source compilation.
 */
export async function validateWithElasticsearch(
  policies: Readonly<Record<string, estypes.IlmPolicy | Record<string, unknown>>>,
): Promise<PolicyVerdict[]> {
  const { esHome, javaHome } = await esPaths()
  const dir = await mkdtemp(join(tmpdir(), 'spor-ilm-'))
  try {
    const file = join(dir, 'policies.json')
    await writeFile(file, JSON.stringify(policies))
    const classpath = [join(esHome, 'lib', '*'), join(esHome, 'modules', 'x-pack-core', '*')].join(':')
    const args = ['-cp', classpath, join(HERE, 'ValidatePolicy.java'), file]
    let stdout: string
    try {
      ;({ stdout } = await run(join(javaHome, 'bin', 'java'), args, { timeout: 120_000 }))
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string }
      // Exit 1 means "a policy is invalid" and still carries the verdicts; anything else failed.
      if (e.code !== 1 || !e.stdout) {
        throw new SporError('SPOR_ERR_STACK', `ValidatePolicy failed (exit ${e.code}): ${e.stderr ?? ''}`)
      }
      stdout = e.stdout
    }
    return stdout
      .split('\n')
      .filter((line) => line.startsWith('OK ') || line.startsWith('INVALID '))
      .map((line) => {
        if (line.startsWith('OK ')) return { name: line.slice(3), valid: true }
        const rest = line.slice('INVALID '.length)
        const colon = rest.indexOf(': ')
        return { name: rest.slice(0, colon), valid: false, message: rest.slice(colon + 2) }
      })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
