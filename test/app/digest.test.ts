// The owner's daily digest (issue 16 part 5) in virtual time, on SQLite and PostgreSQL: members pay through the
// pay page, the scheduler ticks, and each owner gets one message at DIGEST_HOUR in TZ_DISPLAY about yesterday in
// their groups — once per owner per day whatever the ticks and instances, nothing on a quiet day, nothing while
// `/digest off`. The figures are the ones GET /api/stats computes (periodFigures).
import { describe, expect } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { addGroup, addPlan } from '../../src/app/catalog-admin.ts';
import { createCoupon } from '../../src/app/coupons.ts';
import { digestFigures, digestLines, sweepDigest } from '../../src/app/digest.ts';
import { createClaimCode } from '../../src/app/owners.ts';
import { startTrial } from '../../src/app/trials.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import type { Reply } from '../../src/conversation/types.ts';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { auth } from '../helpers/service.ts';

const admin: Actor = { kind: 'admin', via: 'api' };
const textOf = (replies: Reply[]) => replies.map((r) => ('text' in r ? r.text : r.type === 'image' ? r.caption : '')).join('\n');

describe.each(DIALECTS)('owner digest (%s)', (dialect) => {
  // The fake clock starts at 2026-01-01 00:00 UTC: 08:00 in Asia/Shanghai.
  const it = serviceTest(dialect, { TZ_DISPLAY: 'Asia/Shanghai', DIGEST_HOUR: '9' });

  it('one message per owner per day at DIGEST_HOUR about yesterday; none on a quiet day; /digest off and on', async ({ t, deps }) => {
    const bot = createConversation(deps);
    const say = async (userId: string, text: string, locale = 'en') =>
      textOf(await bot.handle({ platform: 'playground', userId, displayName: userId, locale, text }));
    const buy = async (userId: string, planId: number) => {
      const c = await t.service.app.inject({ method: 'POST', url: '/api/checkouts', headers: auth, payload: { platform: 'playground', userId, planId } });
      const orderId = c.json().orderId as string;
      await t.service.app.inject({ method: 'POST', url: `/pay/${orderId}/dev-pay`, headers: { accept: 'application/json' } });
      await t.service.worker.drain();
    };
    const tick = async () => {
      const r = await t.service.scheduler.tick();
      await t.service.worker.drain();
      return r.digest;
    };
    const digests = (userId: string) =>
      t.gateway
        .of('text')
        .filter((c) => c.userId === userId && /digest for|简报/.test(c.text))
        .map((c) => c.text);

    const group = await addGroup(deps, { platform: 'playground', chatId: 'club', title: 'Book club', actor: admin });
    const plan = await addPlan(deps, { groupIds: [group.id], name: 'Monthly', price: '9.90', currency: 'CNY', days: 30, actor: admin });
    const other = await addGroup(deps, { platform: 'playground', chatId: 'chess', title: 'Chess', actor: admin });
    const chess = await addPlan(deps, { groupIds: [other.id], name: 'Chess', price: '5.00', currency: 'USD', days: 30, actor: admin });
    await say('olga', (await createClaimCode(deps, admin, [group.id])).code);
    await say('opal', (await createClaimCode(deps, admin)).code, 'zh-CN');

    // 1 January (local): two members join the book club, one the chess club.
    await buy('alice', plan.id);
    await buy('bob', plan.id);
    await buy('carl', chess.id);
    expect(await tick()).toEqual({ notYet: '2026-01-01' });
    // 09:00 on 1 January: 31 December had nothing to say, so nothing is sent (but the day is decided).
    await t.clock.advance(HOUR_MS);
    expect(await tick()).toEqual({ sent: 0, quiet: 2 });
    expect(digests('olga')).toEqual([]);

    // 2 January, 08:59: not yet; 09:00: the digest for 1 January, one per owner, of their own groups only.
    await t.clock.advance(DAY_MS - HOUR_MS - MINUTE_MS + HOUR_MS - MINUTE_MS);
    expect(await tick()).toEqual({ notYet: '2026-01-02' });
    await t.clock.advance(2 * MINUTE_MS);
    expect(await tick()).toEqual({ sent: 2, quiet: 0 });
    expect(digests('olga')).toEqual(['Your digest for 2026-01-01:\n• Revenue: 19.80 CNY\n• New members: 2']);
    expect(digests('opal')).toEqual(['2026-01-01 简报：\n• 收入：¥19.80, 5.00 USD\n• 新会员：3']);

    // More ticks, and other instances sweeping at the same moment: still one each.
    await Promise.all([sweepDigest(deps), sweepDigest(deps), tick()]);
    await t.clock.advance(3 * HOUR_MS);
    await tick();
    expect(digests('olga')).toHaveLength(1);
    expect(digests('opal')).toHaveLength(1);

    // The numbers are /api/stats' numbers (the same functions): this month so far.
    const stats = (await t.service.app.inject({ method: 'GET', url: '/api/stats', headers: auth })).json();
    expect(stats.newMembers).toBe(3);

    // /digest: bad input changes nothing; off is kept (persisted) until on.
    expect(await say('olga', '/digest maybe')).toBe('Usage: /digest on|off');
    expect((await deps.store.accounts.find('playground', 'olga'))!.digestOff).toBe(false);
    expect(await say('olga', '/digest off')).toBe('Your daily digest is off. Send /digest on to get it again.');
    expect((await deps.store.accounts.find('playground', 'olga'))!.digestOff).toBe(true);
    expect(await say('alice', '/digest off')).toMatch(/^Sorry, I did not understand that\./);
    // 2 January: bob renews, dave joins.
    await buy('bob', plan.id);
    await buy('dave', plan.id);
    await t.clock.advance(DAY_MS - 3 * HOUR_MS);
    await tick();
    expect(digests('olga')).toHaveLength(1);
    expect(digests('opal')).toEqual(['2026-01-01 简报：\n• 收入：¥19.80, 5.00 USD\n• 新会员：3', '2026-01-02 简报：\n• 收入：¥19.80\n• 新会员：1\n• 续费：1']);
    expect(await say('olga', '/digest on')).toBe('Your daily digest is on: every day at 9:00 you get yesterday in your groups (nothing on a quiet day).');
    // 3 January was quiet: nobody hears anything on the 4th.
    await t.clock.advance(DAY_MS);
    expect(await tick()).toEqual({ sent: 0, quiet: 2 });
    expect(digests('olga')).toHaveLength(1);
    expect(digests('opal')).toHaveLength(2);
  });

  it('an operator (or the admin) also sees the dead letters waiting; a line is left out when it is zero', async ({ t, deps }) => {
    const now = t.clock.now();
    const figures = await digestFigures(deps, admin, now - DAY_MS, now);
    expect(figures).toMatchObject({ newMembers: 0, renewals: 0, churn: 0, reviewQueue: 0, deadLetters: 0 });
    expect(digestLines(figures!)).toEqual([]);
    await t.db.opened.db
      .insertInto('jobs')
      .values({
        kind: 'notify',
        payload: '{}',
        lane: 'notice',
        priority: 2,
        status: 'dead',
        run_at: now,
        max_attempts: 1,
        lease_until: null,
        locked_by: null,
        last_error: 'gone',
        dedupe_key: null,
        created_at: now,
        updated_at: now,
      })
      .execute();
    const after = await digestFigures(deps, admin, now - DAY_MS, now);
    expect(digestLines(after!)).toEqual([{ key: 'digest.dead_letters', params: { count: 1 } }]);
    // An owner scoped to groups does not see jobs (they are not tied to one owner's groups).
    const group = await addGroup(deps, { platform: 'playground', chatId: 'club', title: 'Book club', actor: admin });
    const bot = createConversation(deps);
    await bot.handle({ platform: 'playground', userId: 'olga', text: (await createClaimCode(deps, admin, [group.id])).code });
    const olga = (await deps.store.accounts.find('playground', 'olga'))!;
    expect((await digestFigures(deps, { kind: 'account', accountId: olga.id }, now - DAY_MS, now))!.deadLetters).toBeNull();
  });

  it('trials started, coupons redeemed and held orders are lines of the digest, from the same functions as /api/stats', async ({ t, deps }) => {
    const group = await addGroup(deps, { platform: 'playground', chatId: 'club', title: 'Book club', actor: admin });
    const plan = await addPlan(deps, { groupIds: [group.id], name: 'Monthly', price: '9.90', currency: 'CNY', days: 30, trialDays: 3, actor: admin });
    await createCoupon(deps, { code: 'FREE-ONE', percent: 100, planIds: [plan.id], actor: admin });
    const from = t.clock.now();
    const bot = createConversation(deps);
    await bot.handle({ platform: 'playground', userId: 'tina', displayName: 'Tina', locale: 'en', text: '/start' });
    await startTrial(deps, (await deps.store.accounts.find('playground', 'tina'))!, plan.id);
    const c = await t.service.app.inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId: 'cody', planId: plan.id, coupon: 'FREE-ONE' },
    });
    expect(c.json()).toMatchObject({ status: 'paid', provider: 'coupon' });
    await t.clock.advance(MINUTE_MS);
    const figures = (await digestFigures(deps, admin, from, t.clock.now()))!;
    const stats = (await t.service.app.inject({ method: 'GET', url: '/api/stats', headers: auth })).json();
    expect(figures).toMatchObject({ trialsStarted: stats.growth.trialsStarted, couponsRedeemed: stats.growth.couponsRedeemed, reviewQueue: stats.reviewQueue });
    expect(digestLines(figures)).toEqual(
      expect.arrayContaining([
        { key: 'digest.trials_started', params: { count: 1 } },
        { key: 'digest.coupons_redeemed', params: { count: 1 } },
      ]),
    );
  });
});
