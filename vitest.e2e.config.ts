import { defineConfig } from 'vitest/config';

// The browser test (npm run test:e2e): starts the real service and drives Debian's Chromium through the
// playground. One fork, one file at a time, generous timeouts; every wait inside the test is bounded.
export default defineConfig({
  test: {
    include: ['test/e2e-browser/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 90_000,
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    fileParallelism: false,
  },
});
