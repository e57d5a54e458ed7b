import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

/** Integration tests need the real services: start the local stack (idempotent, fast when up). */
export default function setup(): void {
  if (process.env.SPOR_KAFKA_BROKERS && process.env.SPOR_ES_URL) return
  const result = spawnSync('bash', [join(import.meta.dirname, '..', '..', 'stack', 'stack.sh'), 'up'], {
    stdio: 'inherit',
  })
  if (result.status !== 0) throw new Error('spor stack up failed; see the output above')
}
