import { defineConfig } from 'vitest/config'

/**
 * The unit tier alone, for mutation testing (`npm run mutation`): Stryker re-runs these tests for
 * every mutant, so only pure, fast tests belong here (no Kafka, no Elasticsearch).
 */
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/*.integration.test.ts', 'node_modules/**', '.spor/**', '.stryker-tmp/**'],
    // Tests that size their work by it run smaller (e.g. query/stats/hll.test.ts).
    env: { SPOR_MUTATION_RUN: '1' },
    // Instrumented code runs several times slower than the original.
    testTimeout: 30_000,
  },
})
