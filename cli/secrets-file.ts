import { existsSync, readFileSync } from 'node:fs'
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

/** Sets the file's variables that the environment does not already have; returns their names. */
export function loadSecretsFile(file: string, env: NodeJS.ProcessEnv = process.env): string[] {
  if (!existsSync(file)) return []
  const loaded: string[] = []
  for (const [name, value] of Object.entries(parseSecretsFile(readFileSync(file, 'utf8'), file))) {
    if (env[name] !== undefined) continue
    env[name] = value
    loaded.push(name)
  }
  return loaded
}
