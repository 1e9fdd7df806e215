// A vitest fixture for a whole test service: `const it = serviceTest(dialect, env)` inside a
// `describe.each(DIALECTS)`, then `it('…', async ({ t }) => …)`. Each test that asks for `t` gets its
// own service on a fresh database and fake clock, started lazily and closed by the fixture itself, so
// no test can see another's rows, clock or gateway output.
import { test } from 'vitest';
import type { AppDeps } from '../../src/app/deps.ts';
import type { Dialect } from '../../src/store/database.ts';
import { startTestService, type TestService } from './service.ts';

export interface ServiceFixtures {
  /** The started service; closed when the test ends. */
  t: TestService;
  /** `t.service.deps`, for tests that call the use cases directly. */
  deps: AppDeps;
}

export function serviceTest(dialect: Dialect, env: Record<string, string> = {}) {
  return test.extend<ServiceFixtures>({
    // eslint-disable-next-line no-empty-pattern -- vitest reads the fixture's dependencies from this pattern
    t: async ({}, use) => {
      const t = await startTestService(dialect, env);
      try {
        await use(t);
      } finally {
        await t.close();
      }
    },
    deps: async ({ t }, use) => use(t.service.deps),
  });
}
