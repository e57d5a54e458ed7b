import { defineConfig } from 'vitest/config'

/**
 * The unit tier alone, for mutation testing (`npm run mutation`): Stryker re-runs these tests for
 * every mutant, so only pure, fast tests belong here (no Kafka, no Elasticsearch).
 */
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/*.integration.test.ts', 'node_modules/**', '.spor/**', '.stryker-tmp/**'],
  },
})
