import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT } from './ingest.ts'
import { runProcess } from './run-process.ts'

/**
 * A second Elasticsearch node of the test's own (own data folder and ports), for tests that
 * stop Elasticsearch: the shared node must keep serving the other test files. Starting and
 * stopping never block the test process: a consumer running in it must keep its heartbeats
 * (a node can take longer than the group's session timeout to start on a busy machine).
 */
/**
 * Time for a test that stops and starts its private node inside the test: the start alone may
 * take up to SPOR_STACK_TIMEOUT (120 s) on a busy machine, on top of the test's own waits
 * (a clean-clone CI run timed out at the default 120 s with the node just back).
 */
export const RESTART_TEST_TIMEOUT_MS = 360_000

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

  async up(): Promise<void> {
    await this.#run('up')
  }

  async down(): Promise<void> {
    await this.#run('down')
  }

  async remove(): Promise<void> {
    await this.#run('down')
    rmSync(this.#dir, { recursive: true, force: true })
  }

  async #run(action: string): Promise<void> {
    const env: Record<string, string | undefined> = { ...process.env, ...this.#env }
    delete env.SPOR_ES_URL // would mark Elasticsearch as external and start nothing
    const result = await runProcess('bash', [join(REPO_ROOT, 'stack', 'stack.sh'), action, 'es'], { env })
    if (result.code !== 0) throw new Error(`stack.sh ${action} es failed: ${result.stdout}\n${result.stderr}`)
  }
}
