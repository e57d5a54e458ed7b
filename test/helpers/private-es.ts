import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT } from './ingest.ts'

/**
 * A second Elasticsearch node of the test's own (own data folder and ports), for tests that
 * stop Elasticsearch: the shared node must keep serving the other test files.
 */
export class PrivateElasticsearch {
  readonly url: string
  readonly #env: Record<string, string>
  readonly #dir: string

  constructor(name: string, port: number) {
    this.#dir = join('/var/tmp', `spor-test-${name}-${process.pid}`)
    this.url = `http://127.0.0.1:${port}`
    this.#env = {
      SPOR_STACK_DIR: this.#dir,
      SPOR_ES_PORT: String(port),
      SPOR_ES_TRANSPORT_PORT: String(port + 100),
    }
  }

  up(): void {
    this.#run('up')
  }

  down(): void {
    this.#run('down')
  }

  remove(): void {
    this.#run('down')
    rmSync(this.#dir, { recursive: true, force: true })
  }

  #run(action: string): void {
    const env: Record<string, string | undefined> = { ...process.env, ...this.#env }
    delete env.SPOR_ES_URL // would mark Elasticsearch as external and start nothing
    const result = spawnSync('bash', [join(REPO_ROOT, 'stack', 'stack.sh'), action, 'es'], {
      env,
      encoding: 'utf8',
    })
    if (result.status !== 0)
      throw new Error(`stack.sh ${action} es failed: ${result.stdout}\n${result.stderr}`)
  }
}
