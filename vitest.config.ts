import { defineConfig } from 'vitest/config'

/**
 * Two tiers: `unit` (pure code, next to it as *.test.ts) and `integration`
 * (test/**\/*.integration.test.ts, real Kafka and Elasticsearch started by `spor stack up`).
 * Integration files run a few at a time: the machine has two cores shared with both servers.
 */
export default defineConfig({
  test: {
    pool: 'forks',
    poolOptions: { forks: { maxForks: 3, minForks: 1 } },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          // .stryker-tmp: mutation-testing sandboxes (copies of the repo) while `npm run mutation` runs.
          exclude: ['**/*.integration.test.ts', 'node_modules/**', '.spor/**', '.stryker-tmp/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.integration.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          maxConcurrency: 1,
        },
      },
    ],
  },
})
