// Win-back offers (issue 16 part 4), end to end on SQLite and PostgreSQL: off by default; set per group through
// PATCH /api/groups/:id (the SETTINGS table); N days after a member lapses the scheduler's tick sends one message
// with a personal single-use coupon valid a week; never twice per lapse (the tick runs again, a second instance
// sweeps too), never to someone banned or refunded; the personal code is refused to anyone else and gives its
// owner the discount.
import { describe, expect } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { addGroup, addPlan } from '../../src/app/catalog-admin.ts';
import { sweepWinbacks } from '../../src/app/coupons.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { banMember } from '../../src/app/owners.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import type { Reply } from '../../src/conversation/types.ts';
import { DAY_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { auth, type TestService } from '../helpers/service.ts';

const admin: Actor = { kind: 'admin', via: 'api' };
const textOf = (replies: Reply[]) => replies.map((r) => ('text' in r ? r.text : r.type === 'image' ? r.caption : '')).join('\n');

function scene(t: TestService, deps: AppDeps) {
  const bot = createConversation(deps);
  const say = async (userId: string, text: string, locale = 'en') =>
    textOf(await bot.handle({ platform: 'playground', userId, displayName: userId, locale, text }));
  const buy = async (userId: string, planId: number) => {
    const c = await t.service.app.inject({ method: 'POST', url: '/api/checkouts', headers: auth, payload: { platform: 'playground', userId, planId } });
    const orderId = c.json().orderId as string;
    await t.service.app.inject({ method: 'POST', url: `/pay/${orderId}/dev-pay`, headers: { accept: 'application/json' } });
    return orderId;
  };
  const told = (userId: string) =>
    t.gateway
      .of('text')
      .filter((c) => c.userId === userId)
      .map((c) => c.text);
  const offers = (userId: string) => told(userId).filter((x) => x.startsWith('We miss you'));
  return { say, buy, told, offers };
}

describe.each(DIALECTS)('win-back (%s)', (dialect) => {
  const it = serviceTest(dialect, { GRACE_HOURS: '24' });

  it('off by default; once set, one personal coupon N days after the lapse, never twice, not to the banned or refunded; refused to anyone else', async ({
    t,
    deps,
  }) => {
    const s = scene(t, deps);
    const group = await addGroup(deps, { platform: 'playground', chatId: 'club', title: 'Book club', actor: admin });
    const plan = await addPlan(deps, { groupIds: [group.id], name: 'Monthly', price: '10.00', currency: 'CNY', days: 30, actor: admin });
    for (const u of ['ann', 'ben', 'cat', 'dan']) await s.buy(u, plan.id);
    await t.service.worker.drain();
    // Ben is banned, Cat refunded.
    const ben = (await deps.store.memberships.list({ groupId: group.id })).find((m) => m.platformUserId === 'ben')!;
    await banMember(deps, { actor: admin, membershipId: ben.id });
    const catOrder = (await deps.store.orders.page({ accountId: (await deps.store.accounts.find('playground', 'cat'))!.id, limit: 1 }))[0]!;
    expect((await t.service.app.inject({ method: 'POST', url: `/api/orders/${catOrder.id}/refund`, headers: auth, payload: {} })).statusCode).toBe(202);
    await t.service.worker.drain();

    // Off by default: nothing, however long after the lapse.
    await t.clock.advance(33 * DAY_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect(s.offers('ann')).toEqual([]);

    const bad = await t.service.app.inject({ method: 'PATCH', url: `/api/groups/${group.id}`, headers: auth, payload: { winbackPercent: 101 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toBe('win-back percent must be a whole number from 0 to 100 (got "101")');
    const set = await t.service.app.inject({ method: 'PATCH', url: `/api/groups/${group.id}`, headers: auth, payload: { winbackDays: 3, winbackPercent: 30 } });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toMatchObject({ winbackDays: 3, winbackPercent: 30 });

    await t.service.scheduler.tick();
    await t.service.worker.drain();
    const [offer, ...more] = s.offers('ann');
    expect(more).toEqual([]);
    const code = /code (WB-[A-Z2-9]{10})/.exec(offer ?? '')?.[1];
    expect(offer).toMatch(
      /^We miss you in "Book club"! Here is 30% off your next membership with your personal code WB-[A-Z2-9]{10}, valid until .+: send \/coupon WB-/,
    );
    expect(s.offers('dan').length).toBe(1);
    expect(s.offers('ben')).toEqual([]);
    expect(s.offers('cat')).toEqual([]);

    // Never twice per lapse: another tick, another instance's sweep.
    await t.service.scheduler.tick();
    expect(await sweepWinbacks(deps)).toEqual({ offered: 0 });
    await t.service.worker.drain();
    expect(s.offers('ann').length).toBe(1);
    const coupons = (await deps.store.coupons.list({ source: 'winback', limit: 10 })).map((c) => c.accountId);
    expect(coupons.length).toBe(2);
    const audits = await deps.store.audit.page({ action: 'coupon.create', limit: 10 });
    expect(audits.every((a) => a.actor === 'system:winback')).toBe(true);

    // Personal: refused to someone else, the discount for its owner.
    expect(await s.say('dan', `/coupon ${code}`)).toBe(`Coupon ${code} is personal and belongs to someone else.`);
    expect(await s.say('ann', `/coupon ${code!.toLowerCase()}`)).toContain(`Coupon ${code} applied to "Monthly": 7.00 CNY instead of 10.00 CNY.`);

    // Timing: nothing before N days after the lapse, the offer on the day.
    await s.buy('eve', plan.id);
    await t.clock.advance(30 * DAY_MS + 2 * DAY_MS + 1);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect(s.offers('eve')).toEqual([]);
    await t.clock.advance(DAY_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect(s.offers('eve').length).toBe(1);
  });
});
