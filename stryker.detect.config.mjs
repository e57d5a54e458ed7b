import { readFileSync } from 'node:fs'

/** `npm run mutation:detect`: the shared settings, detect/rules.ts against the detect unit tests only. */
const base = JSON.parse(readFileSync(new URL('./stryker.config.json', import.meta.url), 'utf8'))
delete base._comment
delete base.$schema

export default {
  ...base,
  mutate: ['detect/rules.ts'],
  vitest: { configFile: 'vitest.mutation.detect.config.ts', related: false },
}
