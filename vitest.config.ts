import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS build for every package; Vite would give our own files the
    // ESM build, and two graphql modules in one process break `instanceof GraphQLError`.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'bench/**', '.data/**'],
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Each file gets its own databases and ports, so files run in parallel; tests start real
    // servers, so they get real-world timeouts.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    env: { APOLLO_TELEMETRY_DISABLED: 'true', LOG_LEVEL: 'silent' },
  },
});
