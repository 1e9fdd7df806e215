// "Expiring in the next 7 days" on the console (issue 15 part 2): the overview's list shows the soonest expiries
// first, and the list and the members filter count as the card does (GET /api/stats' expiringSoon): active
// members whose paid time ends from now on, not those already past it whom the sweep has not reached yet.
import { describe, expect } from 'vitest';
import { computeStats } from '../../src/app/stats.ts';
import { DAY_MS, HOUR_MS } from '../../src/domain/time.ts';
import { consoleScene, type ConsoleScene } from '../helpers/console-scene.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

describe.each(DIALECTS)('console: expiring soon (%s)', (dialect) => {
  const it = serviceTest(dialect).extend<{ scene: ConsoleScene }>({ scene: async ({ t }, use) => use(await consoleScene(t)) });

  it('lists the soonest first and leaves out the already-past, as the card counts', async ({ t, scene: { one, ownerA, signIn, get } }) => {
    const deps = t.service.deps;
    for (const userId of ['cat', 'dan']) {
      const s = await seedOrderDirect(deps, { userId, chatId: 'room-1', price: '9.90', currency: 'CNY' });
      await payDevDirect(deps, s.orderId);
    }
    await t.service.worker.drain();
    const now = deps.clock.now();
    const rows = await deps.store.memberships.list({ groupId: one.groupId });
    const idOf = async (userId: string) => {
      const acc = (await deps.store.accounts.find('playground', userId))!;
      return rows.find((m) => m.accountId === acc.id)!;
    };
    const ann = await idOf('ann');
    const cat = await idOf('cat');
    const dan = await idOf('dan');
    // ann ends in 6 days, cat in 2 (soonest, though listed after ann by id), dan an hour ago (active, not swept yet).
    await deps.store.memberships.update(ann.id, { status: 'active', expiresAt: now + 6 * DAY_MS, graceUntil: null }, now);
    await deps.store.memberships.update(cat.id, { status: 'active', expiresAt: now + 2 * DAY_MS, graceUntil: null }, now);
    await deps.store.memberships.update(dan.id, { status: 'active', expiresAt: now - HOUR_MS, graceUntil: null }, now);

    const a = await signIn(ownerA);
    const stats = await computeStats(deps, { kind: 'account', accountId: ownerA });
    expect(stats.expiringSoon).toBe(2);
    const overview = (await get(a, '/console')).body;
    const list = overview.slice(overview.indexOf('id="members-table"'));
    const order = [...list.matchAll(/<td><a href="\/console\/members\/(\d+)">\1<\/a><\/td>/g)].map((m) => Number(m[1]));
    expect(order).toEqual([cat.id, ann.id]);
    const filtered = (await get(a, '/console/members?expiring=7')).body;
    const shown = [...filtered.matchAll(/<td><a href="\/console\/members\/(\d+)">\1<\/a><\/td>/g)].map((m) => Number(m[1]));
    expect(shown.sort((x, y) => x - y)).toEqual([ann.id, cat.id].sort((x, y) => x - y));
  });
});
