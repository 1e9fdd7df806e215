import { afterEach, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/domain/time.ts';
import { Scheduler } from '../../src/jobs/scheduler.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

let t: TestService | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('Scheduler.tickFromNow', () => {
  it('does not share a tick that read the clock before it moved: it waits for that one, then sweeps at the new time', async () => {
    t = await startTestService('sqlite');
    const clock = t.clock;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: number[] = [];
    const scheduler = new Scheduler(t.service.deps, [
      {
        name: 'probe',
        run: async () => {
          seen.push(clock.now());
          if (seen.length === 1) await gate;
        },
      },
    ]);
    const start = clock.now();
    const cron = scheduler.tick();
    while (seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    clock.advance(DAY_MS); // time travel moves the clock while the cron's tick is still running
    const shared = scheduler.tick();
    const fresh = scheduler.tickFromNow();
    release();
    await Promise.all([cron, shared, fresh]);
    // tick() joined the running tick (no sweep of its own); tickFromNow() ran one at the moved time.
    expect(seen).toEqual([start, start + DAY_MS]);
  });
});
