// Refunds on request within a group's refund window (issue 17 part 6), end to end on SQLite and
// PostgreSQL: the owner sets the window (chat, CLI/API through updateGroupSettings), the member pays through
// the pay page's dev button, asks with `/refund <reason>` (退款) through the conversation engine, the job
// worker refunds with the provider and withdraws only that order's unused days, the owner is told, and
// /api/stats and /metrics count it. Every refusal is one answer and changes nothing.
import { describe, expect } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { addGroup, addPlan } from '../../src/app/catalog-admin.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { updateGroupSettings } from '../../src/app/group-settings.ts';
import { createClaimCode } from '../../src/app/owners.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import type { Reply } from '../../src/conversation/types.ts';
import { DAY_MS, HOUR_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { auth, type TestService } from '../helpers/service.ts';

const admin: Actor = { kind: 'admin', via: 'api' };
const textOf = (replies: Reply[]) => replies.map((r) => ('text' in r ? r.text : r.type === 'image' ? r.caption : '')).join('\n');

/** A playground group (`chat`) with a 30-day plan and, unless 0, a refund window; an owner who claimed it in chat. */
async function groupOnSale(deps: AppDeps, chat: string, title: string, windowHours: number) {
  const group = await addGroup(deps, { platform: 'playground', chatId: chat, title, actor: admin });
  const plan = await addPlan(deps, { groupIds: [group.id], name: `${title} monthly`, price: '9.90', currency: 'CNY', days: 30, actor: admin });
  if (windowHours > 0) await updateGroupSettings(deps, { actor: admin, groupId: group.id, changes: { refundWindowHours: windowHours } });
  return { group, plan };
}

function scene(t: TestService, deps: AppDeps) {
  const bot = createConversation(deps);
  const say = async (userId: string, text: string, locale = 'en') =>
    textOf(await bot.handle({ platform: 'playground', userId, displayName: userId, locale, text }));
  const press = async (userId: string, choice: string) => textOf(await bot.handle({ platform: 'playground', userId, choice }));
  /** Checkout through the admin API and payment through the pay page's dev button; the invite job runs. */
  const buy = async (userId: string, planId: number) => {
    const c = await t.service.app.inject({ method: 'POST', url: '/api/checkouts', headers: auth, payload: { platform: 'playground', userId, planId } });
    expect(c.statusCode).toBe(201);
    const orderId = c.json().orderId as string;
    const paid = await t.service.app.inject({ method: 'POST', url: `/pay/${orderId}/dev-pay`, headers: { accept: 'application/json' } });
    expect(paid.json().status).toBe('paid');
    await t.service.worker.drain();
    return orderId;
  };
  const order = async (id: string) => (await t.service.app.inject({ method: 'GET', url: `/api/orders/${id}`, headers: auth })).json();
  const membership = async (userId: string, groupId: number) => {
    const account = (await deps.store.accounts.find('playground', userId))!;
    return (await deps.store.memberships.list({ accountId: account.id, groupId }))[0]!;
  };
  const told = (userId: string) =>
    t.gateway
      .of('text')
      .filter((c) => c.userId === userId)
      .map((c) => c.text);
  const requests = async () => t.db.opened.db.selectFrom('refund_requests').selectAll().execute();
  return { bot, say, press, buy, order, membership, told, requests };
}

describe.each(DIALECTS)('refund window (%s)', (dialect) => {
  const it = serviceTest(dialect, { GRACE_HOURS: '24', REMINDER_OFFSETS_HOURS: '72,24' });

  it('inside the window: refunded at once without the owner, the member removed (no other paid days), the owner told, stats count it', async ({ t, deps }) => {
    const s = scene(t, deps);
    const { group, plan } = await groupOnSale(deps, 'club', 'Book club', 0);
    expect(await s.say('olga', (await createClaimCode(deps, admin, [group.id])).code)).toMatch(/You are now an owner/);
    expect(await s.say('olga', `/refundwindow ${group.id} 72`)).toBe(
      'Refund window for "Book club": 72 hours. Members may send /refund <reason> within that time of the start of their paid period.',
    );

    // The plan menu and the pay page state the policy.
    expect(await s.say('alice', '/plans')).toContain('Refund on request within 72 hours of the start of your membership: send /refund <reason>.');
    const orderId = await s.buy('alice', plan.id);
    const page = await t.service.app.inject({ method: 'GET', url: `/pay/${orderId}`, headers: { 'accept-language': 'zh-CN' } });
    expect(page.body).toContain('data-testid="refund-policy">支持 72 小时内申请退款');
    expect(t.gateway.roster('club').has('alice')).toBe(true);

    await t.clock.advance(71 * HOUR_MS);
    expect(await s.say('alice', '/refund the book list is not for me')).toBe(
      'Your refund of 9.90 CNY for "Book club" is under way. The days that order paid for and you have not used end with it; you will get a message when the money is on its way back.',
    );
    expect((await s.order(orderId)).status).toBe('refund_pending');
    await t.service.worker.drain();

    expect(await s.order(orderId)).toMatchObject({ status: 'refunded', refundedMinor: 990 });
    expect((await s.membership('alice', group.id)).status).toBe('revoked');
    expect(t.gateway.roster('club').has('alice')).toBe(false);
    expect(s.told('alice')).toEqual(
      expect.arrayContaining([
        'Your payment of 9.90 CNY has been refunded.',
        'Your access to "Book club" has been withdrawn. Send /help if you think this is a mistake.',
      ]),
    );
    expect(
      s
        .told('olga')
        .some((m) =>
          /^alice asked for a refund of order .* \(9\.90 CNY\) for "Book club" within its 72-hour refund window\. Reason: the book list is not for me\./.test(
            m,
          ),
        ),
    ).toBe(true);
    const audit = (await deps.store.audit.list({ subjectType: 'order', subjectId: orderId })).find((a) => a.action === 'order.refund_request')!;
    const alice = (await deps.store.accounts.find('playground', 'alice'))!;
    expect(audit.actor).toBe(`account:${alice.id}`);
    expect(audit.reason).toBe(`refund on request within the 72-hour window of group ${group.id}: the book list is not for me`);
    expect(await s.requests()).toHaveLength(1);

    const stats = (await t.service.app.inject({ method: 'GET', url: '/api/stats', headers: auth })).json();
    expect(stats.refundsOnRequest).toEqual([{ currency: 'CNY', count: 1, amountMinor: 990, amount: '9.90' }]);
    const metrics = (await t.service.app.inject({ method: 'GET', url: '/metrics', headers: auth })).body;
    expect(metrics).toContain('gatekeeper_refunds_on_request{currency="CNY",kind="count"} 1');
    expect(metrics).toContain('gatekeeper_refunds_on_request{currency="CNY",kind="amount_minor"} 990');

    // A second one in the same group: once per person per group, even for a new order.
    const again = await s.buy('alice', plan.id);
    expect(await s.say('alice', '/refund changed my mind again')).toBe(
      'You have already had a refund on request for "Book club"; it is possible once per group.',
    );
    expect((await s.order(again)).status).toBe('paid');
    expect(await s.requests()).toHaveLength(1);
  });

  it('a renewal refunded in its window takes back only its own days: the member keeps what the earlier order paid for', async ({ t, deps }) => {
    const s = scene(t, deps);
    const { group, plan } = await groupOnSale(deps, 'club', 'Book club', 72);
    const first = await s.buy('bob', plan.id);
    const firstEnds = (await s.membership('bob', group.id)).expiresAt;
    await t.clock.advance(10 * DAY_MS); // the first order's window is long closed
    const renewal = await s.buy('bob', plan.id);
    expect((await s.membership('bob', group.id)).expiresAt).toBe(firstEnds + 30 * DAY_MS);

    expect(await s.say('bob', '/refund renewed by mistake')).toMatch(/^Your refund of 9\.90 CNY for "Book club" is under way/);
    await t.service.worker.drain();
    expect((await s.order(renewal)).status).toBe('refunded');
    expect((await s.order(first)).status).toBe('paid');
    const m = await s.membership('bob', group.id);
    expect(m.status).toBe('active');
    expect(m.expiresAt).toBe(firstEnds);
    expect(t.gateway.roster('club').has('bob')).toBe(true);
    expect(t.gateway.of('remove')).toEqual([]);
  });

  it('refusals, each one answer that changes nothing: after the window, no paid order, no money paid, another group, no reason, a reason too long', async ({
    t,
    deps,
  }) => {
    const s = scene(t, deps);
    const club = await groupOnSale(deps, 'club', 'Book club', 72);
    const chess = await groupOnSale(deps, 'chess', 'Chess club', 72);
    const quiet = await groupOnSale(deps, 'quiet', 'Quiet room', 0);

    // No paid order at all (and an order still waiting for payment is not one).
    expect(await s.say('nobody', '/refund I want my money')).toBe('You have no paid order to refund.');
    await t.service.app.inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId: 'nobody', planId: club.plan.id },
    });
    expect(await s.say('nobody', '/refund I want my money')).toBe('You have no paid order to refund.');

    const orderId = await s.buy('carol', club.plan.id);
    // A reason is needed, and a sane one.
    expect(await s.say('carol', '/refund')).toBe('Please give your reason in the same message: /refund <reason> (up to 500 characters).');
    expect(await s.say('carol', `/refund ${'x'.repeat(501)}`)).toBe('Please keep the reason to 500 characters or fewer.');
    // A group she has no order in (a button for it, as a forged or stale choice would send).
    expect(await s.press('carol', `refund:${chess.group.id}`)).toBe('You have no paid order for "Chess club" to refund.');
    // A group without a window.
    const quietOrder = await s.buy('dave', quiet.plan.id);
    expect(await s.say('dave', '/refund too quiet')).toBe('Refunds on request are not offered for "Quiet room". Please ask the group owner.');
    expect((await s.order(quietOrder)).status).toBe('paid');

    // After the window (72 h from the start of her paid period).
    await t.clock.advance(72 * HOUR_MS);
    const closed = await s.say('carol', '/refund too late?');
    expect(closed).toMatch(/^The refund window for "Book club" \(72 hours from the start of your paid period\) closed at /);
    expect((await s.order(orderId)).status).toBe('paid');

    // An order whose money is not refundable (amount 0, as a 100 % coupon or a trial will be).
    const free = await s.buy('erin', club.plan.id);
    await t.db.opened.db.updateTable('orders').set({ amount_minor: 0 }).where('id', '=', free).execute();
    expect(await s.say('erin', '/refund free anyway')).toBe('Your latest order for "Book club" was not paid with money, so there is nothing to refund.');
    expect((await s.order(free)).status).toBe('paid');

    // An order under review (held by the owner) is not refunded on request.
    const held = await s.buy('hank', club.plan.id);
    await t.db.opened.db.updateTable('orders').set({ status: 'review' }).where('id', '=', held).execute();
    expect(await s.say('hank', '/refund please')).toBe(
      'Your latest order for "Book club" is being checked by the owner, so it cannot be refunded on request now.',
    );
    expect((await s.order(held)).status).toBe('review');

    expect(await s.requests()).toEqual([]);
    expect(t.gateway.of('remove')).toEqual([]);
    expect((await deps.store.audit.list({ subjectType: 'order', subjectId: orderId })).filter((a) => a.action === 'order.refund_request')).toEqual([]);
  });

  it('several refundable groups: the bot asks which (a number works too), keeps the reason, refunds that one only; in Chinese with 退款', async ({
    t,
    deps,
  }) => {
    const s = scene(t, deps);
    const club = await groupOnSale(deps, 'club', 'Book club', 72);
    const chess = await groupOnSale(deps, 'chess', 'Chess club', 48);
    const clubOrder = await s.buy('fei', club.plan.id);
    const chessOrder = await s.buy('fei', chess.plan.id);

    expect(await s.say('fei', '/plans')).toContain(
      'Book club monthly: refund on request within 72 hours of the start of your membership (send /refund <reason>).',
    );
    const ask = await s.bot.handle({ platform: 'playground', userId: 'fei', locale: 'zh-CN', text: '退款 课程不适合我' });
    expect(ask).toEqual([
      {
        type: 'choices',
        text: '要为哪个群申请退款？（点击或回复序号）',
        choices: [
          { value: `refund:${club.group.id}`, label: 'Book club' },
          { value: `refund:${chess.group.id}`, label: 'Chess club' },
        ],
      },
    ]);
    expect(await s.say('fei', '2', 'zh-CN')).toBe('您在「Chess club」的 ¥9.90 退款正在办理。该订单所购、尚未使用的天数随之结束；款项退回时会再通知您。');
    await t.service.worker.drain();
    expect((await s.order(chessOrder)).status).toBe('refunded');
    expect((await s.order(clubOrder)).status).toBe('paid');
    expect(t.gateway.roster('chess').has('fei')).toBe(false);
    expect(t.gateway.roster('club').has('fei')).toBe(true);
    const audit = (await deps.store.audit.list({ subjectType: 'order', subjectId: chessOrder })).find((a) => a.action === 'order.refund_request')!;
    expect(audit.reason).toMatch(/: 课程不适合我$/);

    // The other group is still open to one request of its own; the refunded group is not.
    expect(await s.press('fei', `refund:${chess.group.id}`)).toBe('您在「Chess club」的最新订单已退款或正在退款中。');
    expect(await s.say('fei', '退款 也不想要读书会了', 'zh-CN')).toBe(
      '您在「Book club」的 ¥9.90 退款正在办理。该订单所购、尚未使用的天数随之结束；款项退回时会再通知您。',
    );
  });

  it('owners: /refund <order-id> is still the owner refund; /refundwindow checks its input and the owner’s groups', async ({ t, deps }) => {
    const s = scene(t, deps);
    const club = await groupOnSale(deps, 'club', 'Book club', 0);
    const other = await groupOnSale(deps, 'other', 'Other', 0);
    await s.say('olga', (await createClaimCode(deps, admin, [club.group.id])).code);
    const orderId = await s.buy('gus', club.plan.id);
    expect(await s.say('olga', `/refund ${orderId} duplicate`)).toMatch(/^Refund of order .* requested/);
    // An owner with nothing of her own to refund, and no such order: both answers.
    expect(await s.say('olga', '/refund nonexistent-order')).toBe('You have no paid order to refund.\nUsage: /refund <order-id> [reason]');
    expect(await s.say('olga', `/refundwindow ${club.group.id} lots`)).toBe('Usage: /refundwindow <group-id> <hours>');
    expect(await s.say('olga', `/refundwindow ${club.group.id} 1000`)).toBe(
      'That did not work: refund window must be a whole number of hours from 0 to 720 (got "1000")',
    );
    expect(await s.say('olga', `/refundwindow ${other.group.id} 72`)).toMatch(/^That did not work: group \d+ is not one of your groups/);
    expect(await s.say('olga', `/refundwindow ${club.group.id} 0`)).toBe('Refunds on request are off for "Book club".');
    // A member cannot set it: the unknown-command answer.
    expect(await s.say('gus', `/refundwindow ${club.group.id} 72`)).toBe(await s.say('gus', '/frobnicate'));
    expect((await deps.store.groups.get(other.group.id))!.refundWindowHours).toBe(0);
  });
});
