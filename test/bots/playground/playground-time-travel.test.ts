// Time travel walks through time: a jump stops at every due time on the way and runs the sweeps and the
// due jobs there, so one "+30 days" shows what 30 real days would. The offset lives in the database, so
// a restarted service and the CLI count from the same "now"; `{"reset":true}` goes back to real time.
import { afterEach, describe, expect, it } from 'vitest';
import { OffsetClock } from '../../../src/app/clocks.ts';
import { MAX_TRAVEL_STOPS, nextDueTime, travel } from '../../../src/app/time-travel.ts';
import { DAY_MS, HOUR_MS } from '../../../src/domain/time.ts';
import { FakeClock } from '../../fakes/fake-clock.ts';
import { startTestService, type TestService } from '../../helpers/service.ts';
import { addGroupAndPlan, as, createPerson, type Playground, startPlayground } from './harness.ts';

let pg: Playground | undefined;
let ts: TestService | undefined;
afterEach(async () => {
  await pg?.close();
  await ts?.close();
  pg = undefined;
  ts = undefined;
});

const botTexts = (p: Playground, userId: string) =>
  p.gateway
    .inbox(userId)
    .filter((e) => e.from === 'bot' && e.reply.type === 'text')
    .map((e) => (e.reply as { text: string }).text);

/** Alice pays for the 30-day plan through the pay page and is let in. */
async function paidAlice(p: Playground): Promise<string> {
  await addGroupAndPlan(p.service, 'room-1');
  const alice = await createPerson(p.service, 'Alice');
  const img = (await p.service.app.inject({ method: 'POST', url: '/playground/api/send', headers: as(alice), payload: { userId: alice, text: '/buy' } })).json()
    .replies[0];
  await p.service.app.inject({ method: 'POST', url: `${new URL(img.url).pathname}/dev-pay`, headers: { accept: 'application/json' } });
  await p.service.worker.drain();
  expect(p.gateway.members('room-1')).toEqual([alice]);
  return alice;
}

const jump = (p: Playground, payload: unknown) => p.service.app.inject({ method: 'POST', url: '/playground/api/time-travel', payload: payload as object });

describe('POST /playground/api/time-travel walks through every due time', () => {
  it('+30 days in one jump: the 3-day and the 1-day reminder, then grace, in order; one more day: removal', async () => {
    pg = await startPlayground({ timeTravel: true });
    const alice = await paidAlice(pg);
    const clocks: number[] = [];
    pg.gateway.subscribe((e) => {
      if (e.type === 'clock') clocks.push(e.offsetMs);
    });

    const r = await jump(pg, { hours: 30 * 24 });
    expect(r.statusCode).toBe(200);
    expect(r.json().offsetMs).toBe(30 * DAY_MS);
    // It stopped on the way: 3 days before the end, 1 day before, and at the end itself (= the jump's end here).
    expect(clocks).toEqual([27 * DAY_MS, 29 * DAY_MS, 30 * DAY_MS]);
    const texts = botTexts(pg, alice);
    const before = texts.filter((t) => /ends on/.test(t));
    expect(before).toHaveLength(2);
    expect(before[0]).toMatch(/: 3 days left/);
    expect(before[1]).toMatch(/: 1 day left/);
    expect(texts.at(-1)).toMatch(/has ended\. You can stay until/);
    expect(texts.indexOf(before[1]!)).toBeLessThan(texts.length - 1);
    expect(pg.gateway.members('room-1')).toEqual([alice]); // grace: still in

    await jump(pg, { hours: 24 });
    expect(botTexts(pg, alice).at(-1)).toMatch(/removed from the group/);
    expect(pg.gateway.members('room-1')).toEqual([]);
  });

  it('a jump far past everything sees each step once, in the order real time would', async () => {
    pg = await startPlayground({ timeTravel: true });
    const alice = await paidAlice(pg);
    const r = await jump(pg, { hours: 90 * 24 });
    expect(r.json().offsetMs).toBe(90 * DAY_MS);
    const steps = botTexts(pg, alice)
      .map((t) =>
        /: 3 days left/.test(t)
          ? '3d'
          : /: 1 day left/.test(t)
            ? '1d'
            : /You can stay until/.test(t)
              ? 'grace'
              : /removed from the group/.test(t)
                ? 'removed'
                : null,
      )
      .filter((s) => s !== null);
    expect(steps).toEqual(['3d', '1d', 'grace', 'removed']);
    expect(pg.gateway.members('room-1')).toEqual([]);
  });

  it('stores the offset where the CLI reads it, and {"reset":true} goes back to real time', async () => {
    pg = await startPlayground({ timeTravel: true });
    const { store } = pg.service.deps;
    const clocks: number[] = [];
    pg.gateway.subscribe((e) => {
      if (e.type === 'clock') clocks.push(e.offsetMs);
    });
    await jump(pg, { hours: 5 });
    expect(await store.clock.offset()).toBe(5 * HOUR_MS);

    for (const [payload, message] of [
      [{ reset: false }, 'reset must be true'],
      [{ reset: 'yes' }, 'reset must be true'],
      [{ reset: true, hours: 3 }, 'send either hours or reset, not both'],
    ] as const) {
      const bad = await jump(pg, payload);
      expect(bad.statusCode).toBe(400);
      expect(bad.json().message).toBe(message);
    }
    expect(await store.clock.offset()).toBe(5 * HOUR_MS);

    const r = await jump(pg, { reset: true });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ now: pg.fake.now(), offsetMs: 0 });
    expect(pg.clock.now()).toBe(pg.fake.now());
    expect(await store.clock.offset()).toBe(0);
    expect(clocks.at(-1)).toBe(0);
    const state = (await pg.service.app.inject({ method: 'GET', url: '/playground/api/state' })).json();
    expect(state).toMatchObject({ now: pg.fake.now(), offsetMs: 0 });
  });

  it('the page has a reset button next to the jumps', async () => {
    pg = await startPlayground({ timeTravel: true });
    const html = (await pg.service.app.inject({ method: 'GET', url: '/playground' })).body;
    expect(html).toContain('data-testid="time-travel-reset"');
  });
});

describe('the stored offset across restarts', () => {
  it('a service that may travel takes the stored offset up; one that may not clears it', async () => {
    ts = await startTestService('sqlite');
    await ts.service.deps.store.clock.setOffset(3 * DAY_MS, ts.clock.now());
    await ts.service.stop();
    // The same database under a plain clock (nothing may travel): real time, and the CLI follows.
    const plain = await startTestService('sqlite', {}, { db: ts.db, clock: ts.clock });
    expect(await plain.service.deps.store.clock.offset()).toBe(0);
    expect(plain.logger.lines.some((l) => l.level === 'warn' && /clock offset .* cleared/.test(l.msg ?? ''))).toBe(true);
    await plain.close();
  });

  it('a playground restarted on a database with an offset runs at that offset', async () => {
    const first = await startPlayground({ timeTravel: true });
    await jump(first, { hours: 50 });
    await first.service.stop();
    pg = await startPlayground({ timeTravel: true, db: first.db });
    expect(pg.clock.now() - pg.fake.now()).toBe(50 * HOUR_MS);
  });
});

describe('nextDueTime and travel (src/app/time-travel.ts)', () => {
  it('stops at most MAX_TRAVEL_STOPS times, then leaps to the end', async () => {
    const clock = new OffsetClock(new FakeClock());
    const start = clock.now();
    let queued = start;
    // A store whose queue always has a job due one minute later (a job retried for ever).
    const store = {
      groups: { list: async () => [] },
      memberships: { list: async () => [] },
      orders: { page: async () => [] },
      jobs: { list: async () => [{ runAt: (queued += 60_000) }] },
      clock: { offset: async () => clock.offset, setOffset: async () => {} },
    } as unknown as Parameters<typeof travel>[0]['store'];
    expect(await nextDueTime(store, start)).toBe(start + 60_000);
    let ticks = 0;
    const r = await travel({ store, clock, tick: async () => ticks++, settle: async () => {} }, 365 * DAY_MS);
    expect(r.stops).toBe(MAX_TRAVEL_STOPS + 1);
    expect(r.offsetMs).toBe(365 * DAY_MS);
    expect(ticks).toBe(MAX_TRAVEL_STOPS + 1);
  });
});
