import { ensureDebianBinary } from './debian-package.ts'

/**
 * Debian's chromium for headless-browser tests, installed on demand (test/helpers/debian-package.ts).
 */
export const CHROMIUM = '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export function ensureChromium(): Promise<string> {
  return ensureDebianBinary(CHROMIUM, 'chromium')
}
