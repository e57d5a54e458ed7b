import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { REPO_ROOT } from './ingest.ts'
import { runProcess } from './run-process.ts'

/** Kafka's own jars, as `stack up` downloaded them (`stack/stack.sh paths`). */
export function kafkaLibDir(): string {
  const result = spawnSync('bash', [join(REPO_ROOT, 'stack', 'stack.sh'), 'paths'], { encoding: 'utf8' })
  const line = result.stdout.split('\n').find((l) => l.startsWith('KAFKA_LIB='))
  if (!line) throw new Error(`stack.sh paths names no KAFKA_LIB (run stack up first): ${result.stderr}`)
  return line.slice('KAFKA_LIB='.length)
}

export interface JavaRecord {
  codec: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'
  key: string
  value: string
}

/**
 * Produces records with the official Java client (test/helpers/java/ProduceWithCodec.java), one
 * producer per compression.type, as a user's service would. `clientProperties` is a file of extra
 * client settings (security.protocol, sasl.*, ssl.*). Resolves with "codec partition offset" lines.
 */
export async function produceWithJava(
  bootstrap: string,
  topic: string,
  records: JavaRecord[],
  clientProperties?: string,
): Promise<string[]> {
  const program = join(REPO_ROOT, 'test', 'helpers', 'java', 'ProduceWithCodec.java')
  const args = ['-Xmx256m', '-cp', `${kafkaLibDir()}/*`, program, bootstrap, topic]
  if (clientProperties) args.push(clientProperties)
  const child = spawn('java', args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => {
    out += d
  })
  child.stderr.on('data', (d) => {
    err += d
  })
  for (const r of records) {
    if (/[\t\n]/.test(r.key + r.value))
      throw new Error('records for the Java producer must not contain tabs or newlines')
    child.stdin.write(`${r.codec}\t${r.key}\t${r.value}\n`)
  }
  child.stdin.end()
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`Java producer exited ${code}: ${err.slice(-2000)}`)
  const acks = out.split('\n').filter(Boolean)
  if (acks.length !== records.length)
    throw new Error(`Java producer acknowledged ${acks.length} of ${records.length}`)
  return acks
}

/** Reads `expected` values from a topic with the official Java client (ConsumeAll.java). */
export async function consumeWithJava(bootstrap: string, topic: string, expected: number): Promise<string[]> {
  const program = join(REPO_ROOT, 'test', 'helpers', 'java', 'ConsumeAll.java')
  const { code, stdout, stderr } = await runProcess('java', [
    '-Xmx256m',
    '-cp',
    `${kafkaLibDir()}/*`,
    program,
    bootstrap,
    topic,
    String(expected),
  ])
  if (code !== 0) throw new Error(`Java consumer exited ${code}: ${stderr.slice(-2000)}`)
  return stdout.split('\n').filter(Boolean)
}
