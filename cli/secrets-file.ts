import { lstatSync, readFileSync } from 'node:fs'
import { SporError } from '../core/errors.ts'

/**
 * `.spor/secrets.env`: where `spor demo` keeps the secrets it generated (the pseudonym key), so
 * the commands it suggests work when pasted. Lines are `SPOR_NAME=value`; blank lines and `#`
 * comments are allowed. The environment wins: a variable already set is never overridden, so
 * production (secrets injected by the platform) is unaffected by a stray file.
 */
export function parseSecretsFile(text: string, file: string): Record<string, string> {
  const values: Record<string, string> = {}
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const match = /^(SPOR_[A-Z0-9_]+)=(.*)$/.exec(line)
    // The value is a secret: the message names the line, never its content.
    if (!match) throw new SporError('SPOR_ERR_CONFIG', `${file}:${index + 1} is not a SPOR_NAME=value line`)
    let value = match[2]!
    if (value.length >= 2 && value[0] === value.at(-1) && (value[0] === '"' || value[0] === "'"))
      value = value.slice(1, -1)
    values[match[1]!] = value
  })
  return values
}

/**
 * The only names the file may set: secrets. Where spor connects (URLs, brokers, trusted proxies)
 * is configuration and must come from the environment, so a planted file cannot redirect spor.
 */
export const SECRET_NAMES: ReadonlySet<string> = new Set([
  'SPOR_PSEUDONYM_KEY',
  'SPOR_PSEUDONYM_KEY_PREVIOUS',
  'SPOR_ES_PASSWORD',
  'SPOR_ES_API_KEY',
  'SPOR_KAFKA_SASL_PASSWORD',
  'SPOR_KAFKA_SSL_KEY_PASSWORD',
  'SPOR_DETECT_WEBHOOK_SECRET',
  'SPOR_OPS_TOKEN',
])

/**
 * Sets the file's variables that the environment does not already have; returns their names.
 * Like the stack's state folder, the file is trusted only when it is a regular file of this user
 * that nobody else can write (a symlink or a group/world-writable file is refused).
 */
export function loadSecretsFile(file: string, env: NodeJS.ProcessEnv = process.env): string[] {
  let stat: ReturnType<typeof lstatSync>
  try {
    stat = lstatSync(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  const uid = process.getuid?.()
  if (!stat.isFile() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o022) !== 0)
    throw new SporError(
      'SPOR_ERR_CONFIG',
      `${file} is refused: it must be a regular file owned by you and writable by nobody else (chmod 600)`,
    )
  const loaded: string[] = []
  for (const [name, value] of Object.entries(parseSecretsFile(readFileSync(file, 'utf8'), file))) {
    if (!SECRET_NAMES.has(name))
      throw new SporError(
        'SPOR_ERR_CONFIG',
        `${file} may only hold secrets (${[...SECRET_NAMES].join(', ')}); set ${name} in the environment`,
      )
    if (env[name] !== undefined) continue
    env[name] = value
    loaded.push(name)
  }
  return loaded
}
