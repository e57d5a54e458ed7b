import { defineConfig } from 'vitest/config'
import unit from './vitest.mutation.config.ts'

/**
 * Mutation testing of the detection rules alone (`npm run mutation:detect`): only these pure
 * detect tests exercise detect/rules.ts, so Stryker's initial run does not load the whole unit
 * tier. (mergeConfig would append to `include`, hence the spread.)
 */
export default defineConfig({
  test: {
    ...unit.test,
    include: ['detect/rules*.test.ts', 'detect/scenarios.test.ts', 'detect/state*.test.ts'],
  },
})
