import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e-browser/**', 'node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two cores: more workers only queue up on the same CPUs and the same PostgreSQL. Each fork runs many
    // test files and keeps the modules it imported (isolate: false): importing fastify, kysely, the
    // service and its adapters once per fork instead of once per file more than halves the run. It is safe
    // because no test relies on fresh module state: every test builds its own service, database, clock
    // and fakes (test/helpers/service-fixture.ts), and none changes process.env or patches a module.
    poolOptions: { forks: { maxForks: 2, minForks: 1, isolate: false } },
  },
});
