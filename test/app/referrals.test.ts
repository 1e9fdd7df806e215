// Referral rewards, one level (issue 16 part 3), end to end on SQLite and PostgreSQL: members ask the
// conversation engine for their code (`/invite-friends`, 邀请好友), friends type it (邀请码 <code>) or follow
// the deep link (`/start ref-<code>`), pay through the pay page's dev button, and the scheduler's sweep books
// the referrer's days once the group's refund window has passed; refunds before and after booking; every
// refusal; the member's `/referrals`, the owner's top referrers, GET /api/referrals, /api/stats and /metrics.
import { describe, expect } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { addGroup, addPlan } from '../../src/app/catalog-admin.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { updateGroupSettings } from '../../src/app/group-settings.ts';
import { banMember, createClaimCode } from '../../src/app/owners.ts';
import { sweepReferralRewards } from '../../src/app/referrals.ts';
import { startTrial } from '../../src/app/trials.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import type { Reply } from '../../src/conversation/types.ts';
import { DAY_MS, HOUR_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { auth, type TestService } from '../helpers/service.ts';

const admin: Actor = { kind: 'admin', via: 'api' };
const textOf = (replies: Reply[]) => replies.map((r) => ('text' in r ? r.text : r.type === 'image' ? r.caption : '')).join('\n');

async function groupOnSale(deps: AppDeps, chat: string, title: string, windowHours = 0) {
  const group = await addGroup(deps, { platform: 'playground', chatId: chat, title, actor: admin });
  const plan = await addPlan(deps, { groupIds: [group.id], name: `${title} monthly`, price: '9.90', currency: 'CNY', days: 30, actor: admin });
  if (windowHours > 0) await updateGroupSettings(deps, { actor: admin, groupId: group.id, changes: { refundWindowHours: windowHours } });
  return { group, plan };
}

function scene(t: TestService, deps: AppDeps) {
  const bot = createConversation(deps);
  const say = async (userId: string, text: string, locale = 'en') =>
    textOf(await bot.handle({ platform: 'playground', userId, displayName: userId, locale, text }));
  const buy = async (userId: string, planId: number) => {
    const c = await t.service.app.inject({ method: 'POST', url: '/api/checkouts', headers: auth, payload: { platform: 'playground', userId, planId } });
    expect(c.statusCode).toBe(201);
    const orderId = c.json().orderId as string;
    const paid = await t.service.app.inject({ method: 'POST', url: `/pay/${orderId}/dev-pay`, headers: { accept: 'application/json' } });
    expect(paid.json().status).toBe('paid');
    await t.service.worker.drain();
    return orderId;
  };
  const refund = async (orderId: string) => {
    const r = await t.service.app.inject({ method: 'POST', url: `/api/orders/${orderId}/refund`, headers: auth, payload: { reason: 'test' } });
    expect(r.statusCode).toBeLessThan(300);
    await t.service.worker.drain();
  };
  /** The code a member is told by `/invite-friends` (the playground has no deep links: a code to type). */
  const codeOf = async (userId: string) => /邀请码 ([A-Z0-9]{8})/.exec(await say(userId, '/invite-friends'))![1]!;
  const account = async (userId: string) => (await deps.store.accounts.find('playground', userId))!;
  const membership = async (userId: string, groupId: number) => (await deps.store.memberships.list({ accountId: (await account(userId)).id, groupId }))[0];
  const told = (userId: string) =>
    t.gateway
      .of('text')
      .filter((c) => c.userId === userId)
      .map((c) => c.text);
  const rewards = async () => t.db.opened.db.selectFrom('referral_rewards').selectAll().orderBy('id').execute();
  const tick = async () => {
    const r = await t.service.scheduler.tick();
    await t.service.worker.drain();
    return r.referrals;
  };
  return { bot, say, buy, refund, codeOf, account, membership, told, rewards, tick };
}

describe.each(DIALECTS)('referral rewards (%s)', (dialect) => {
  const it = serviceTest(dialect, { REFERRAL_REWARD_DAYS: '7' });

  it('a friend who types the code and pays earns the member 7 days at once (window 0), once; figures everywhere', async ({ t, deps }) => {
    const s = scene(t, deps);
    const { group, plan } = await groupOnSale(deps, 'club', 'Book club');
    expect(await s.say('olga', (await createClaimCode(deps, admin, [group.id])).code)).toMatch(/You are now an owner/);
    await s.buy('alice', plan.id);
    const before = (await s.membership('alice', group.id))!.expiresAt;

    const invite = await s.say('alice', '/invite-friends');
    expect(invite).toMatch(/^Invite friends: .* Ask them to send me, before they pay: 邀请码 [A-Z2-9]{8}$/);
    const code = await s.codeOf('alice');
    expect(invite).toContain(code); // the same code every time
    // Typed on a phone: lower case, a space inside, full-width characters all read the same.
    expect(await s.say('bob', `邀请码 ${code.slice(0, 4).toLowerCase()} ${code.slice(4)}`)).toBe('Welcome! alice invited you.');
    expect((await s.account('bob')).referredBy).toBe((await s.account('alice')).id);
    // A second referral of the same person: the first one stays.
    expect(await s.say('bob', `邀请码 ${await s.codeOf('zoe')}`)).toBe('You were already invited by someone; the first invitation is the one that counts.');
    expect((await s.account('bob')).referredBy).toBe((await s.account('alice')).id);

    const order = await s.buy('bob', plan.id);
    expect(await s.tick()).toMatchObject({ booked: 1 });
    const after = (await s.membership('alice', group.id))!;
    expect(after.status).toBe('active');
    expect(after.expiresAt).toBe(before + 7 * DAY_MS);
    expect(s.told('alice')).toContainEqual(
      expect.stringMatching(/^Thank you for inviting bob! 7 days were added to your membership of "Book club", which now runs until /),
    );
    const rows = await s.rewards();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'booked', days: 7, order_id: order });

    // More ticks and concurrent sweeps (other instances) book nothing more.
    await Promise.all([sweepReferralRewards(deps), sweepReferralRewards(deps), s.tick()]);
    expect(await s.rewards()).toHaveLength(1);
    expect((await s.membership('alice', group.id))!.expiresAt).toBe(before + 7 * DAY_MS);
    expect(s.told('alice').filter((m) => m.startsWith('Thank you for inviting'))).toHaveLength(1);

    // The member's figures, in both languages; the owner's top referrers; the admin API and /metrics.
    expect(await s.say('alice', '/referrals')).toBe('You invited 1 person; 1 reward earned you 7 days. Send /invite-friends for your link.');
    expect(await s.say('alice', '我的邀请', 'zh-CN')).toBe('您共邀请了 1 人，获得 1 次奖励，共 7 天。发送 邀请好友 获取您的邀请码。');
    expect(await s.say('olga', '/referrals')).toBe(
      'You invited 0 people; 0 rewards earned you 0 days. Send /invite-friends for your link.\nTop referrers in your groups:\n1. alice: 1 person, 7 days',
    );
    const top = await t.service.app.inject({ method: 'GET', url: '/api/referrals', headers: auth });
    expect(top.json()).toEqual({
      items: [{ accountId: (await s.account('alice')).id, platform: 'playground', userId: 'alice', name: 'alice', referred: 1, days: 7 }],
    });
    expect((await t.service.app.inject({ method: 'GET', url: '/api/referrals?limit=0', headers: auth })).statusCode).toBe(400);
    const stats = (await t.service.app.inject({ method: 'GET', url: '/api/stats', headers: auth })).json();
    expect(stats.referrals).toEqual({ booked: 1, days: 7, canceled: 0, skipped: 0, clawedBack: 0 });
    expect(stats.newMembers).toBe(2);
    const metrics = (await t.service.app.inject({ method: 'GET', url: '/metrics', headers: auth })).body;
    expect(metrics).toContain('gatekeeper_referral_rewards{kind="booked"} 1');
    expect(metrics).toContain('gatekeeper_referral_rewards{kind="days"} 7');
    const audit = await deps.store.audit.list({ subjectType: 'membership', subjectId: String(after.id) });
    expect(audit.map((a) => a.action)).toContain('referral.reward');
  });

  it('rewards waiting on an order held for review do not hold up the ones behind them (the sweep pages on)', async ({ t, deps }) => {
    const s = scene(t, deps);
    const { plan } = await groupOnSale(deps, 'club', 'Book club');
    await s.buy('alice', plan.id);
    const code = await s.codeOf('alice');
    await s.say('bob', `邀请码 ${code}`);
    await s.say('carl', `邀请码 ${code}`);
    const held = await s.buy('bob', plan.id);
    await t.db.opened.db.updateTable('orders').set({ status: 'review' }).where('id', '=', held).execute();
    await s.buy('carl', plan.id);
    // A page of one: bob's reward waits (his order is held), carl's is booked all the same.
    expect(await sweepReferralRewards(deps, 1)).toMatchObject({ waiting: 1, booked: 1 });
    expect((await s.rewards()).map((r) => r.referred_account_id)).toEqual([(await s.account('carl')).id]);
  });

  it('a referred friend who starts a free trial and then pays earns the referrer the reward (the trial began after the referral)', async ({ t, deps }) => {
    const s = scene(t, deps);
    const group = await addGroup(deps, { platform: 'playground', chatId: 'club', title: 'Book club', actor: admin });
    const plan = await addPlan(deps, { groupIds: [group.id], name: 'Monthly', price: '9.90', currency: 'CNY', days: 30, trialDays: 3, actor: admin });
    await s.buy('alice', plan.id);
    const before = (await s.membership('alice', group.id))!.expiresAt;
    expect(await s.say('bob', `邀请码 ${await s.codeOf('alice')}`)).toBe('Welcome! alice invited you.');
    await t.clock.advance(HOUR_MS);
    await startTrial(deps, await s.account('bob'), plan.id);
    await t.clock.advance(HOUR_MS);
    const order = await s.buy('bob', plan.id);
    // The paid period follows the trial; once it has begun (window 0), the reward is booked.
    await t.clock.advance(3 * DAY_MS);
    await s.tick();
    const rows = await s.rewards();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'booked', days: 7, order_id: order, reason: null });
    expect((await s.membership('alice', group.id))!.expiresAt).toBe(before + 7 * DAY_MS);

    // A trial from before the referral still makes an existing member: nothing for the referrer.
    await startTrial(deps, (await s.say('carol', '/start'), await s.account('carol')), plan.id);
    await t.clock.advance(HOUR_MS);
    expect(await s.say('carol', `邀请码 ${await s.codeOf('alice')}`)).toBe('Welcome! alice invited you.');
    await t.clock.advance(HOUR_MS);
    await s.buy('carol', plan.id);
    await t.clock.advance(3 * DAY_MS);
    await s.tick();
    expect((await s.rewards()).map((r) => [r.status, r.reason])).toEqual([
      ['booked', null],
      ['skipped', 'existing_member'],
    ]);
  });

  it("waits for the group's refund window; a refund before booking cancels the reward, one after claws back its unused days", async ({ t, deps }) => {
    const s = scene(t, deps);
    const { group, plan } = await groupOnSale(deps, 'club', 'Book club', 48);
    await updateGroupSettings(deps, { actor: admin, groupId: group.id, changes: { referralRewardDays: 10 } });
    await s.buy('alice', plan.id);
    const base = (await s.membership('alice', group.id))!.expiresAt;
    const code = await s.codeOf('alice');

    // Bob pays; the window (48 h from the start of his period) has not passed: nothing yet.
    await s.say('bob', `/start ref-${code}`);
    await s.buy('bob', plan.id);
    await t.clock.advance(47 * HOUR_MS);
    expect(await s.tick()).toMatchObject({ booked: 0 });
    // Carol pays too and is refunded inside the window: her referral is canceled, for good.
    await s.say('carol', `邀请码 ${code}`);
    const carolOrder = await s.buy('carol', plan.id);
    await s.refund(carolOrder);
    await t.clock.advance(1 * HOUR_MS);
    expect(await s.tick()).toMatchObject({ booked: 1 });
    expect((await s.membership('alice', group.id))!.expiresAt).toBe(base + 10 * DAY_MS);
    await t.clock.advance(2 * DAY_MS);
    expect(await s.tick()).toMatchObject({ booked: 0, canceled: 1 });
    expect((await s.rewards()).map((r) => [r.status, r.reason])).toEqual([
      ['booked', null],
      ['canceled', 'refunded_before_booking'],
    ]);
    expect((await s.membership('alice', group.id))!.expiresAt).toBe(base + 10 * DAY_MS);

    // Bob's order is refunded after the reward was booked: the reward's days are all still unused (they come
    // after alice's paid time), so all of them go back; alice keeps what she paid for.
    const bobOrder = (await s.rewards())[0]!.order_id!;
    await s.refund(bobOrder);
    const m = (await s.membership('alice', group.id))!;
    expect(m.status).toBe('active');
    expect(m.expiresAt).toBe(base);
    expect((await s.rewards())[0]).toMatchObject({ status: 'clawed_back', clawed_back_ms: 10 * DAY_MS });
    expect(s.told('alice')).toContain('The payment of bob, whom you invited, was refunded, so your reward in "Book club" was taken back (10 unused days).');
    expect(await s.say('alice', '/referrals')).toBe('You invited 2 people; 0 rewards earned you 0 days. Send /invite-friends for your link.');
    const stats = (await t.service.app.inject({ method: 'GET', url: '/api/stats', headers: auth })).json();
    expect(stats.referrals).toEqual({ booked: 0, days: 0, canceled: 1, skipped: 0, clawedBack: 1 });
  });

  it('a reward partly used gives back only its unused part; one used up stays', async ({ t, deps }) => {
    const s = scene(t, deps);
    const { group, plan } = await groupOnSale(deps, 'club', 'Book club');
    await s.buy('alice', plan.id);
    const base = (await s.membership('alice', group.id))!.expiresAt;
    const code = await s.codeOf('alice');
    await s.say('bob', `邀请码 ${code}`);
    const bobOrder = await s.buy('bob', plan.id);
    await s.tick();
    await s.say('carol', `邀请码 ${code}`);
    const carolOrder = await s.buy('carol', plan.id);
    await s.tick();
    // Alice's time: her own 30 days, then bob's reward (7 days), then carol's (7 days).
    expect((await s.membership('alice', group.id))!.expiresAt).toBe(base + 14 * DAY_MS);
    // 10 days past her own time: bob's reward is used up, 3 of carol's 7 days are used.
    await t.clock.advance(base + 10 * DAY_MS - t.clock.now());
    await s.tick();
    expect((await s.membership('alice', group.id))!.status).toBe('active');

    await s.refund(bobOrder);
    expect((await s.rewards())[0]).toMatchObject({ status: 'booked', reason: 'order refunded after the reward was used' });
    expect((await s.membership('alice', group.id))!.expiresAt).toBe(base + 14 * DAY_MS);

    await s.refund(carolOrder);
    expect((await s.rewards())[1]).toMatchObject({ status: 'clawed_back', clawed_back_ms: 4 * DAY_MS });
    const m = (await s.membership('alice', group.id))!;
    expect(m.expiresAt).toBe(base + 10 * DAY_MS);
    // Nothing left: the reward was her last time, so she is out (as after a refund).
    expect(m.status).toBe('revoked');
    expect(t.gateway.roster('club').has('alice')).toBe(false);
  });

  it('refusals change nothing: unknown, malformed, banned, own code, a cycle, a payer; the existing member and a non-member referrer earn nothing', async ({
    t,
    deps,
  }) => {
    const s = scene(t, deps);
    const { group, plan } = await groupOnSale(deps, 'club', 'Book club');
    await s.buy('alice', plan.id);
    const aliceCode = await s.codeOf('alice');

    expect(await s.say('bob', '邀请码 ZZZZ2222')).toBe('That invite code cannot be used.');
    expect(await s.say('bob', '邀请码 hello')).toBe('That is not an invite code. A code has 8 letters and digits, e.g. 邀请码 ABCD2345.');
    expect(await s.say('bob', '邀请码 hello', 'zh-CN')).toBe('这不是邀请码。邀请码由 8 位字母和数字组成，例如：邀请码 ABCD2345。');
    expect(await s.say('bob', '/start ref-ZZZZ2222')).toMatch(/^That invite code cannot be used\.\nHi bob!/);
    expect(await s.say('alice', `邀请码 ${aliceCode}`)).toBe('That is your own invite code: share it with your friends.');
    expect((await s.account('bob')).referredBy).toBeNull();
    expect((await s.account('alice')).referredBy).toBeNull();

    // A payer already: codes are for newcomers.
    expect(await s.say('alice', `邀请码 ${await s.codeOf('zoe')}`)).toBe('Invite codes are for people who have not paid yet, so this one was not recorded.');

    // A cycle: dave invited erin, so erin's code cannot count for dave (nor a longer loop).
    await s.say('erin', `邀请码 ${await s.codeOf('dave')}`);
    await s.say('fay', `邀请码 ${await s.codeOf('erin')}`);
    expect(await s.say('dave', `邀请码 ${await s.codeOf('erin')}`)).toBe('You invited this person yourself, so their code cannot count for you.');
    expect(await s.say('dave', `邀请码 ${await s.codeOf('fay')}`)).toBe('You invited this person yourself, so their code cannot count for you.');
    expect((await s.account('dave')).referredBy).toBeNull();

    // A banned person's code is refused like an unknown one.
    const gina = await s.codeOf('gina');
    await s.buy('gina', plan.id);
    await banMember(deps, { actor: admin, membershipId: (await s.membership('gina', group.id))!.id });
    expect(await s.say('hank', `邀请码 ${gina}`)).toBe('That invite code cannot be used.');
    expect((await s.account('hank')).referredBy).toBeNull();
    expect(await s.rewards()).toEqual([]);

    // An existing member of the group (a comp period before any payment) earns their referrer nothing.
    await s.say('ivy', 'hi');
    const ivyId = (await s.account('ivy')).id;
    const comp = await deps.store.memberships.insert(
      { accountId: ivyId, groupId: group.id, status: 'active', expiresAt: t.clock.now() + DAY_MS },
      t.clock.now(),
    );
    await deps.store.periods.insert(
      { membershipId: comp.id, groupId: group.id, orderId: null, kind: 'comp', startsAt: t.clock.now(), endsAt: t.clock.now() + DAY_MS, days: 1 },
      t.clock.now(),
    );
    await t.clock.advance(HOUR_MS);
    expect(await s.say('ivy', `邀请码 ${aliceCode}`)).toBe('Welcome! alice invited you.');
    await s.buy('ivy', plan.id);
    // A referrer who is not a member of the group (erin, who never paid) earns nothing for fay.
    await s.buy('fay', plan.id);
    const before = (await s.membership('alice', group.id))!.expiresAt;
    // Ivy's paid period starts when her comp ends (a renewal): the window runs from there.
    expect(await s.tick()).toMatchObject({ booked: 0, skipped: 1 });
    await t.clock.advance(DAY_MS);
    expect(await s.tick()).toMatchObject({ booked: 0, skipped: 1 });
    expect((await s.rewards()).map((r) => r.reason).sort()).toEqual(['existing_member', 'referrer_not_member']);
    expect((await s.membership('alice', group.id))!.expiresAt).toBe(before);
    expect(await s.membership('erin', group.id)).toBeUndefined();
  });
});
