import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT } from './ingest.ts'

/**
 * The local broker's SASL_SSL listener as `stack up` made it (stack/stack.sh paths): its address
 * and the client settings (SCRAM-SHA-512 user, CA file) as SPOR_* variables. Missing is a
 * failure, not a skip: `stack up` always starts the listener.
 */
export function saslStackEnv(): Record<string, string> {
  const result = spawnSync('bash', [join(REPO_ROOT, 'stack', 'stack.sh'), 'paths'], { encoding: 'utf8' })
  const value = (name: string) =>
    result.stdout
      .split('\n')
      .find((l) => l.startsWith(`${name}=`))
      ?.slice(name.length + 1)
  const bootstrap = value('KAFKA_SASL_BOOTSTRAP')
  const clientEnv = value('KAFKA_SASL_CLIENT_ENV')
  if (!bootstrap || !clientEnv) {
    throw new Error(
      `the local stack has no SASL_SSL listener (stack/stack.sh paths: ${result.stdout} ${result.stderr})`,
    )
  }
  const env: Record<string, string> = { SPOR_KAFKA_BROKERS: bootstrap }
  for (const line of readFileSync(clientEnv, 'utf8').split('\n')) {
    const match = /^(SPOR_[A-Z_]+)=(.*)$/.exec(line)
    if (match) env[match[1]!] = match[2]!
  }
  return env
}
