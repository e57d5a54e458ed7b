import { type SpawnOptions, spawn } from 'node:child_process'
import { join } from 'node:path'

export interface ProcessResult {
  code: number | null
  stdout: string
  stderr: string
}

const SPOR_BIN = join(import.meta.dirname, '..', '..', 'bin', 'spor.js')

/**
 * Runs a program to its end and collects its output (asynchronously: a blocked worker would
 * stall vitest). Resolves on `close`, when both streams are drained, never rejects on a non-zero
 * exit: the caller asserts the code.
 */
export function runProcess(
  command: string,
  args: string[],
  options: SpawnOptions = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr!.on('data', (chunk) => {
      stderr += chunk
    })
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** The real `spor` binary with exactly this environment (plus PATH and HOME). */
export function runSpor(args: string[], env: Record<string, string> = {}): Promise<ProcessResult> {
  return runProcess(process.execPath, [SPOR_BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  })
}
