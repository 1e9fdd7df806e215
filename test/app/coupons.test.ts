// Coupons and access codes (issue 16 part 2), end to end on SQLite and PostgreSQL: an owner's code applied in chat
// (/coupon, the c-CODE deep link), on the pay page and through POST /api/checkouts; the order keeps the list
// price, the discount and the coupon; the provider is asked for the discounted amount; the use is booked when the
// order is paid (one conditional increment), so racing buyers of the last use get one grant and one refusal; a
// 100 % code is an access code (no provider, a comp period, never revenue). Every bad input is one answer and
// changes nothing.
import { describe, expect } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { addGroup, addPlan } from '../../src/app/catalog-admin.ts';
import { createCheckout } from '../../src/app/checkout.ts';
import { handleProviderEvent } from '../../src/app/confirm-payment.ts';
import { bookRedemption, createBatch, createCoupon, disableCoupon } from '../../src/app/coupons.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { updateGroupSettings } from '../../src/app/group-settings.ts';
import { createClaimCode } from '../../src/app/owners.ts';
import { approveApplication, listApplications, rejectApplication } from '../../src/app/review.ts';
import { computeStats } from '../../src/app/stats.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import type { Reply } from '../../src/conversation/types.ts';
import { CouponRefusal } from '../../src/domain/coupon.ts';
import { DevProvider } from '../../src/payments/dev/dev-provider.ts';
import { DAY_MS, HOUR_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { auth, type TestService } from '../helpers/service.ts';

const admin: Actor = { kind: 'admin', via: 'api' };
const textOf = (replies: Reply[]) => replies.map((r) => ('text' in r ? r.text : r.type === 'image' ? r.caption : '')).join('\n');

async function shop(deps: AppDeps, chat = 'club', price = '10.00', currency = 'CNY') {
  const group = await addGroup(deps, { platform: 'playground', chatId: chat, title: `Club ${chat}`, actor: admin });
  const plan = await addPlan(deps, { groupIds: [group.id], name: `Monthly ${chat}`, price, currency, days: 30, actor: admin });
  return { group, plan };
}

function scene(t: TestService, deps: AppDeps) {
  const bot = createConversation(deps);
  const say = async (userId: string, text: string, locale = 'en') =>
    textOf(await bot.handle({ platform: 'playground', userId, displayName: userId, locale, text }));
  const account = async (userId: string) => (await deps.store.accounts.find('playground', userId))!;
  const orders = async (userId: string) => deps.store.orders.page({ accountId: (await account(userId)).id, limit: 50 });
  const refusal = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      if (e instanceof CouponRefusal) return e.reason;
      throw e;
    }
    return 'accepted';
  };
  return { bot, say, account, orders, refusal };
}

describe.each(DIALECTS)('coupons (%s)', (dialect) => {
  const it = serviceTest(dialect);

  it('in chat: /coupon shows the discounted price, the provider is asked for it, the use is booked when paid, audited; the pay page strikes the list price through', async ({
    t,
    deps,
  }) => {
    const s = scene(t, deps);
    const { plan } = await shop(deps);
    const c = await createCoupon(deps, { code: 'save20', percent: 20, planIds: [plan.id], maxUses: 5, actor: admin });
    expect(c.code).toBe('SAVE20');

    const reply = await s.say('alice', '/coupon save20');
    expect(reply).toContain(`Coupon SAVE20 applied to "Monthly club": 8.00 CNY instead of 10.00 CNY.`);
    expect(reply).toContain('List price 10.00 CNY, coupon SAVE20: you pay 8.00 CNY.');
    const [order] = await s.orders('alice');
    expect(order).toMatchObject({ amountMinor: 800, listPriceMinor: 1000, discountMinor: 200, couponId: c.id, provider: 'dev', status: 'pending' });
    // Not booked at checkout: only when paid.
    expect((await deps.store.coupons.get(c.id))!.uses).toBe(0);

    const page = await t.service.app.inject({ method: 'GET', url: `/pay/${order!.id}` });
    expect(page.body).toContain('<s class="muted" data-testid="list-price">10.00 CNY</s> 8.00 CNY');
    expect(page.body).toContain('data-testid="coupon">Coupon SAVE20 applied');

    expect(await payDevDirect(deps, order!.id)).toEqual({ outcome: 'granted', status: 'paid' });
    expect((await deps.store.coupons.get(c.id))!.uses).toBe(1);
    expect((await deps.store.payments.listForOrder(order!.id)).map((p) => p.amountMinor)).toEqual([800]);
    const audit = (await deps.store.audit.list({ subjectType: 'coupon', subjectId: String(c.id) })).map((a) => a.action);
    expect(audit).toEqual(['coupon.create', 'coupon.redeem']);
    // Another notification of the paid order books nothing more.
    expect((await payDevDirect(deps, order!.id)).outcome).toBe('already_paid');
    expect((await deps.store.coupons.get(c.id))!.uses).toBe(1);
    expect((await computeStats(deps, admin)).growth.couponsRedeemed).toBe(1);
  });

  it('an access code through the deep link c-CODE: no provider called, a comp period, no ledger row, not revenue, counted as a redemption; zh-CN text', async ({
    t,
    deps,
  }) => {
    const s = scene(t, deps);
    const { plan, group } = await shop(deps);
    await createCoupon(deps, { code: 'VIP-FREE', percent: 100, planIds: [plan.id], actor: admin });
    expect(await s.say('bob', '/start c-vip-free', 'zh-CN')).toContain('兑换码 VIP-FREE 有效：「Monthly club」无需付款，入群邀请马上发送。');
    const [order] = await s.orders('bob');
    expect(order).toMatchObject({ amountMinor: 0, provider: 'coupon', status: 'paid', listPriceMinor: 1000, discountMinor: 1000 });
    const m = (await deps.store.memberships.list({ accountId: (await s.account('bob')).id, groupId: group.id }))[0]!;
    expect(m.status).toBe('active');
    expect((await deps.store.periods.listForMembership(m.id)).map((p) => p.kind)).toEqual(['comp']);
    expect(await deps.store.payments.listForOrder(order!.id)).toEqual([]);
    const stats = await computeStats(deps, admin);
    expect(stats.revenue).toEqual([]);
    expect(stats.growth.couponsRedeemed).toBe(1);
    await t.service.worker.drain();
    expect(t.gateway.roster('club').has('bob')).toBe(true);
    // Nothing to refund: refused in one line.
    const refund = await t.service.app.inject({ method: 'POST', url: `/api/orders/${order!.id}/refund`, headers: auth, payload: {} });
    expect(refund.statusCode).toBe(409);
    expect(refund.json().message).toMatch(/was an access code: no money was paid/);
  });

  it('an access code in a review group: held for review, and the approval grants a comp period (never a paid one)', async ({ t, deps }) => {
    const s = scene(t, deps);
    const { plan, group } = await shop(deps);
    await updateGroupSettings(deps, { actor: admin, groupId: group.id, changes: { joinMode: 'review' } });
    await createCoupon(deps, { code: 'VIP-FREE', percent: 100, planIds: [plan.id], actor: admin });
    await s.say('bob', '/start c-vip-free');
    const [order] = await s.orders('bob');
    expect(order).toMatchObject({ amountMinor: 0, provider: 'coupon', status: 'paid' });
    const m = (await deps.store.memberships.list({ accountId: (await s.account('bob')).id, groupId: group.id }))[0]!;
    expect(m.status).toBe('awaiting_review');
    const [app] = await listApplications(deps, admin, { status: 'pending' });
    await approveApplication(deps, { actor: admin, applicationId: app!.id });
    expect((await deps.store.memberships.get(m.id))!.status).toBe('active');
    expect((await deps.store.periods.listForMembership(m.id)).map((p) => p.kind)).toEqual(['comp']);
    expect((await computeStats(deps, admin)).revenue).toEqual([]);
  });

  it('an access code in a review group can be rejected: by the owner, and by the timeout that says refund; no refund is attempted, the membership is revoked, the member told', async ({
    t,
    deps,
  }) => {
    const s = scene(t, deps);
    const { plan, group } = await shop(deps);
    await updateGroupSettings(deps, { actor: admin, groupId: group.id, changes: { joinMode: 'review' } });
    await createCoupon(deps, { code: 'VIP-FREE', percent: 100, planIds: [plan.id], actor: admin });
    const memberOf = async (userId: string) => (await deps.store.memberships.list({ accountId: (await s.account(userId)).id, groupId: group.id }))[0]!;
    await s.say('bob', '/start c-vip-free');
    const [bobApp] = await listApplications(deps, admin, { status: 'pending' });
    const rejected = await rejectApplication(deps, { actor: admin, applicationId: bobApp!.id, reason: 'not a club member' });
    expect(rejected.status).toBe('rejected');
    const [bobOrder] = await s.orders('bob');
    // Nothing was paid: the order stays an honoured zero-amount order, with no refund asked for and no ledger row.
    expect(bobOrder).toMatchObject({ status: 'paid', amountMinor: 0, outRefundNo: null });
    expect(await deps.store.payments.listForOrder(bobOrder!.id)).toEqual([]);
    expect((await memberOf('bob')).status).toBe('revoked');
    await t.service.worker.drain();
    expect(t.gateway.of('text').some((c) => c.userId === 'bob' && c.text.includes('nothing to refund'))).toBe(true);
    expect(t.gateway.roster('club').has('bob')).toBe(false);

    // The timeout (the default action is refund) closes it the same way instead of failing on every sweep.
    expect(await s.say('olga', (await createClaimCode(deps, admin, [group.id])).code)).toMatch(/You are now an owner/);
    await s.say('carol', '/start c-vip-free');
    const [carolApp] = await listApplications(deps, admin, { status: 'pending' });
    await t.clock.advance(73 * HOUR_MS);
    await t.service.scheduler.tick();
    expect((await deps.store.review.getApplication(carolApp!.id))!.status).toBe('timed_out');
    expect((await memberOf('carol')).status).toBe('revoked');
    expect((await s.orders('carol'))[0]).toMatchObject({ status: 'paid', outRefundNo: null });
    await t.service.worker.drain();
    const olga = t.gateway.calls.flatMap((c) => (c.userId === 'olga' && 'text' in c ? [c.text] : []));
    expect(olga.some((x) => x.includes('nothing to refund'))).toBe(true);
    expect(olga.some((x) => x.includes('it was refunded'))).toBe(false);
  });

  it('a paid order held for review (an amount mismatch) books its coupon use at once: a --max-uses 1 code is then used up', async ({ t, deps }) => {
    const s = scene(t, deps);
    const { plan } = await shop(deps);
    await createCoupon(deps, { code: 'ONCE', percent: 10, maxUses: 1, planIds: [plan.id], actor: admin });
    const { order } = await createCheckout(deps, { platform: 'playground', userId: 'bob', planId: plan.id, provider: 'dev', coupon: 'once' });
    const dev = deps.providers.get('dev');
    if (!(dev instanceof DevProvider)) throw new Error('the dev provider is not enabled');
    const { body, headers } = dev.pay(order, { amount_minor: order.amountMinor - 1 });
    expect(await handleProviderEvent(deps, dev, await dev.parseWebhook(body, headers), body.toString('utf8'))).toBe('review');
    expect((await deps.store.orders.get(order.id))!.status).toBe('review');
    expect(await deps.store.coupons.redemptionsBy(order.couponId!, order.accountId)).toBe(1);
    expect((await deps.store.coupons.findByCode('ONCE'))!.uses).toBe(1);
    expect(await s.refusal(createCheckout(deps, { platform: 'playground', userId: 'carol', planId: plan.id, provider: 'dev', coupon: 'once' }))).toBe(
      'used_up',
    );
  });

  it('bad codes, each refused in one line with nothing written: unknown, disabled, expired, not yet valid, used up, other plan, other currency, too large, malformed', async ({
    t,
    deps,
  }) => {
    const s = scene(t, deps);
    const { plan } = await shop(deps, 'a');
    const { plan: other } = await shop(deps, 'b', '5.00', 'USD');
    const now = deps.clock.now();
    await createCoupon(deps, { code: 'OFF', percent: 10, planIds: [plan.id], actor: admin });
    await disableCoupon(deps, { code: 'off', actor: admin });
    await createCoupon(deps, { code: 'OLD', percent: 10, validUntil: new Date(now + DAY_MS).toISOString(), actor: admin });
    await createCoupon(deps, { code: 'SOON', percent: 10, validFrom: new Date(now + 2 * DAY_MS).toISOString(), actor: admin });
    await createCoupon(deps, { code: 'ONLYB', percent: 10, planIds: [other.id], actor: admin });
    await createCoupon(deps, { code: 'USD2', amount: '2.00', currency: 'USD', actor: admin });
    await createCoupon(deps, { code: 'CNY20', amount: '20.00', currency: 'CNY', actor: admin });
    await t.clock.advance(DAY_MS + 1);

    const checkout = (code: string, planId = plan.id) =>
      createCheckout(deps, { platform: 'playground', userId: 'carol', planId, provider: 'dev', coupon: code });
    expect(await s.refusal(checkout('NOPE'))).toBe('unknown');
    expect(await s.refusal(checkout('off'))).toBe('disabled');
    expect(await s.refusal(checkout('OLD'))).toBe('expired');
    expect(await s.refusal(checkout('SOON'))).toBe('not_yet');
    expect(await s.refusal(checkout('ONLYB'))).toBe('other_plan');
    expect(await s.refusal(checkout('USD2'))).toBe('other_currency');
    expect(await s.refusal(checkout('CNY20'))).toBe('too_large');
    expect(await s.refusal(checkout('no spaces!'))).toBe('malformed');
    expect(await deps.store.orders.page({ limit: 10 })).toEqual([]);

    // The same refusals in chat, in the member's words.
    expect(await s.say('carol', '/coupon NOPE')).toBe('There is no coupon NOPE. Check the spelling and try again.');
    expect(await s.say('carol', '/coupon off')).toBe('Coupon OFF is no longer valid.');
    expect(await s.say('carol', '/coupon OLD')).toBe('Coupon OLD has expired.');
    expect(await s.say('carol', '/coupon SOON')).toBe('Coupon SOON is not valid yet.');
    expect(await s.say('carol', '/coupon CNY20')).toBe('Coupon CNY20 is worth more than this price, so it cannot be used on it.');
    expect(await s.say('carol', '/coupon')).toBe('Send /coupon <code> to apply a coupon code.');
    expect(await s.say('carol', '优惠码 NOPE', 'zh-CN')).toBe('没有优惠码 NOPE，请检查后重试。');

    // Used up (max uses reached).
    await createCoupon(deps, { code: 'ONCE', percent: 100, planIds: [plan.id], maxUses: 1, actor: admin });
    await createCheckout(deps, { platform: 'playground', userId: 'dave', planId: plan.id, provider: 'dev', coupon: 'ONCE' });
    expect(await s.refusal(checkout('ONCE'))).toBe('used_up');
    expect(await s.say('erin', '/coupon ONCE')).toBe('Sorry, coupon ONCE has been used up.');
    expect((await deps.store.orders.page({ limit: 10 })).length).toBe(1);
  });

  it('owner input refused at creation: --percent 0 and 101, an amount larger than the price, both or neither kind, a taken code, a bad time', async ({
    deps,
  }) => {
    const { plan } = await shop(deps);
    const add = (input: Partial<Parameters<typeof createCoupon>[1]>) => createCoupon(deps, { code: 'X1X', actor: admin, ...input });
    await expect(add({ percent: 0 })).rejects.toThrow(/^--percent must be a whole number from 1 to 100 \(got 0\)$/);
    await expect(add({ percent: 101 })).rejects.toThrow(/^--percent must be a whole number from 1 to 100 \(got 101\)$/);
    await expect(add({ amount: '10.01', currency: 'CNY', planIds: [plan.id] })).rejects.toThrow(
      `--amount 10.01 CNY is more than plan ${plan.id}'s price 10.00 CNY`,
    );
    await expect(add({ amount: '1', currency: 'USD', planIds: [plan.id] })).rejects.toThrow(`plan ${plan.id} is priced in CNY, the coupon's amount in USD`);
    await expect(add({})).rejects.toThrow('give either --percent <1-100> or --amount <decimal> --currency <code>');
    await expect(add({ percent: 5, amount: '1', currency: 'CNY' })).rejects.toThrow('give either --percent <1-100> or --amount <decimal> --currency <code>');
    await expect(add({ amount: '1' })).rejects.toThrow('--amount needs --currency');
    await expect(add({ percent: 5, validUntil: 'tomorrow' })).rejects.toThrow(/^--valid-until must be an ISO 8601 date/);
    await expect(add({ percent: 5, planIds: [999] })).rejects.toThrow('no plan with id 999');
    expect(await deps.store.coupons.list({ limit: 10 })).toEqual([]);
    await add({ percent: 5 });
    await expect(add({ percent: 5 })).rejects.toThrow('coupon code X1X exists already');
  });

  it('one coupon per order: the pay page refuses a second (409), applies a first to a plain order as a new order and retires the old one', async ({
    t,
    deps,
  }) => {
    const { plan } = await shop(deps);
    await createCoupon(deps, { code: 'HALF', percent: 50, actor: admin });
    await createCoupon(deps, { code: 'TENTH', percent: 10, actor: admin });
    const plain = await createCheckout(deps, { platform: 'playground', userId: 'fay', planId: plan.id, provider: 'dev' });
    const applied = await t.service.app.inject({
      method: 'POST',
      url: `/pay/${plain.order.id}/coupon`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      payload: 'code=half',
    });
    expect(applied.statusCode).toBe(200);
    const newId = applied.json().orderId as string;
    expect(applied.json()).toMatchObject({ status: 'pending', amount: 500 });
    expect((await deps.store.orders.get(plain.order.id))!.status).toBe('expired');

    const again = await t.service.app.inject({
      method: 'POST',
      url: `/pay/${newId}/coupon`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'code=TENTH',
    });
    expect(again.statusCode).toBe(409);
    expect(again.body).toContain('data-testid="coupon-error">This order has a coupon already: one coupon per order.');
    expect((await deps.store.orders.get(newId))!).toMatchObject({ status: 'pending', amountMinor: 500 });
    // The browser form: a bad code re-renders the page with why.
    const unknown = await t.service.app.inject({
      method: 'POST',
      url: `/pay/${plain.order.id}/coupon`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'code=NOPE',
    });
    expect(unknown.statusCode).toBe(409);
  });

  it('--per-person 1 is checked when the use is booked: a second paid order of the same person is honoured as an overshoot and the owners told; two racing access-code checkouts grant one', async ({
    t,
    deps,
  }) => {
    const s = scene(t, deps);
    const { plan, group } = await shop(deps);
    expect(await s.say('olga', (await createClaimCode(deps, admin, [group.id])).code)).toMatch(/You are now an owner/);
    const c = await createCoupon(deps, { code: 'ONEEACH', percent: 10, planIds: [plan.id], perPerson: 1, actor: admin });
    // Both orders are quoted before either is paid, so the quote-time check passes both.
    const first = await createCheckout(deps, { platform: 'playground', userId: 'bob', planId: plan.id, provider: 'dev', coupon: 'oneeach' });
    const second = await createCheckout(deps, { platform: 'playground', userId: 'bob', planId: plan.id, provider: 'dev', coupon: 'oneeach' });
    expect(second.order.id).not.toBe(first.order.id);
    expect((await payDevDirect(deps, first.order.id)).status).toBe('paid');
    expect((await payDevDirect(deps, second.order.id)).status).toBe('paid');
    const rows = await t.db.opened.db.selectFrom('coupon_redemptions').selectAll().where('coupon_id', '=', c.id).orderBy('id').execute();
    expect(rows.map((r) => [r.order_id, Boolean(r.overshoot)])).toEqual([
      [first.order.id, false],
      [second.order.id, true],
    ]);
    expect((await deps.store.audit.list({ subjectType: 'coupon', subjectId: String(c.id) })).map((a) => a.action)).toContain('coupon.overshoot');
    await t.service.worker.drain();
    expect(t.gateway.of('text').some((m) => m.userId === 'olga' && m.text.includes('past its per-person limit of 1'))).toBe(true);

    // Strict (the access-code path): the booking itself refuses a use past the per-person limit, whatever the quote said.
    const strictCoupon = await createCoupon(deps, { code: 'STRICT1', percent: 10, planIds: [plan.id], perPerson: 1, actor: admin });
    const o1 = await createCheckout(deps, { platform: 'playground', userId: 'dan', planId: plan.id, provider: 'dev', coupon: 'strict1' });
    const o2 = await createCheckout(deps, { platform: 'playground', userId: 'dan', planId: plan.id, provider: 'dev', coupon: 'strict1' });
    const book = (o: typeof o1.order) => deps.store.transaction((tx) => bookRedemption(tx, o, 'test', deps.clock.now(), { strict: true }));
    expect(await book(o1.order)).toBe('booked');
    expect(await s.refusal(book(o2.order))).toBe('per_person');
    expect(await deps.store.coupons.redemptionsBy(strictCoupon.id, o1.order.accountId)).toBe(1);

    // An access code: strict. Two checkouts of one person racing (on PostgreSQL in parallel) grant exactly one.
    await createCoupon(deps, { code: 'FREE1', percent: 100, planIds: [plan.id], perPerson: 1, actor: admin });
    const results = await Promise.all(
      [0, 1].map(() =>
        createCheckout(deps, { platform: 'playground', userId: 'carol', planId: plan.id, provider: 'dev', coupon: 'FREE1' }).then(
          (r) => r.order.status,
          (e: unknown) => (e instanceof CouponRefusal ? e.reason : String(e)),
        ),
      ),
    );
    expect(results.sort()).toEqual(['paid', 'per_person']);
    const carol = await s.account('carol');
    expect((await s.orders('carol')).filter((o) => o.status === 'paid')).toHaveLength(1);
    expect(await deps.store.coupons.redemptionsBy((await deps.store.coupons.findByCode('FREE1'))!.id, carol.id)).toBe(1);
  });

  it('50 concurrent redemptions of a --max-uses 10 access code: exactly 10 granted, 40 refused as used up', async ({ deps }) => {
    const { plan } = await shop(deps);
    const c = await createCoupon(deps, { code: 'TEN', percent: 100, planIds: [plan.id], maxUses: 10, actor: admin });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        createCheckout(deps, { platform: 'playground', userId: `u${i}`, planId: plan.id, provider: 'dev', coupon: 'TEN' }).then(
          (r) => r.order.status,
          (e: unknown) => (e instanceof CouponRefusal ? e.reason : String(e)),
        ),
      ),
    );
    expect(results.filter((r) => r === 'paid').length).toBe(10);
    expect(results.filter((r) => r === 'used_up').length).toBe(40);
    expect((await deps.store.coupons.get(c.id))!).toMatchObject({ uses: 10, overshoot: 0 });
    expect((await deps.store.orders.page({ status: 'paid', limit: 100 })).length).toBe(10);
    expect(await deps.store.coupons.redeemed()).toBe(10);
  });

  it('two racing for the last use of a --max-uses 1 code: one grant and one clear refusal (chat)', async ({ t, deps }) => {
    const s = scene(t, deps);
    const { plan, group } = await shop(deps);
    await createCoupon(deps, { code: 'LAST', percent: 100, planIds: [plan.id], maxUses: 1, actor: admin });
    const [a, b] = await Promise.all([s.say('gus', '/coupon LAST'), s.say('hal', '/coupon LAST')]);
    const answers = [a, b].sort();
    expect(answers.some((x) => x.includes('Code LAST accepted'))).toBe(true);
    expect(answers.some((x) => x === 'Sorry, coupon LAST has been used up.')).toBe(true);
    expect((await deps.store.memberships.list({ groupId: group.id, status: 'active' })).length).toBe(1);
  });

  it('paid orders racing past the limit: every payment is honoured (the money was taken), the overshoot counted, audited and told to the owner', async ({
    deps,
  }) => {
    const { plan } = await shop(deps);
    const c = await createCoupon(deps, { code: 'TWO', percent: 50, planIds: [plan.id], maxUses: 2, actor: admin });
    const orders = [];
    for (const u of ['i1', 'i2', 'i3'])
      orders.push((await createCheckout(deps, { platform: 'playground', userId: u, planId: plan.id, provider: 'dev', coupon: 'TWO' })).order);
    const outcomes = await Promise.all(orders.map((o) => payDevDirect(deps, o.id)));
    expect(outcomes.map((o) => o.outcome)).toEqual(['granted', 'granted', 'granted']);
    expect((await deps.store.coupons.get(c.id))!).toMatchObject({ uses: 2, overshoot: 1 });
    const actions = (await deps.store.audit.list({ subjectType: 'coupon', subjectId: String(c.id) })).map((a) => a.action).sort();
    expect(actions).toEqual(['coupon.create', 'coupon.overshoot', 'coupon.redeem', 'coupon.redeem']);
    expect((await deps.store.jobs.list({ kind: 'alert_owners' })).some((j) => JSON.stringify(j.payload).includes('owner.coupon_overshoot'))).toBe(true);
  });

  it('batch codes are single use; the admin API lists, creates and disables coupons and takes "coupon" on POST /api/checkouts', async ({ t, deps }) => {
    const { plan } = await shop(deps);
    const batch = await createBatch(deps, { prefix: 'vip', count: 5, percent: 100, planIds: [plan.id], actor: admin });
    expect(batch.map((c) => c.code)).toEqual(expect.arrayContaining([expect.stringMatching(/^VIP-[A-Z2-9]{10}$/)]));
    expect(new Set(batch.map((c) => c.code)).size).toBe(5);
    expect(batch.every((c) => c.maxUses === 1 && c.source === 'batch')).toBe(true);

    const created = await t.service.app.inject({
      method: 'POST',
      url: '/api/coupons',
      headers: auth,
      payload: { code: 'api10', percent: 10, planIds: [plan.id], maxUses: 3 },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ code: 'API10', percent: 10, maxUses: 3, uses: 0, active: true, source: 'owner' });
    const bad = await t.service.app.inject({ method: 'POST', url: '/api/coupons', headers: auth, payload: { code: 'BAD', percent: 101 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toBe('--percent must be a whole number from 1 to 100 (got 101)');
    const list = await t.service.app.inject({ method: 'GET', url: '/api/coupons', headers: auth });
    expect(list.json().items.length).toBe(6);

    const checkout = await t.service.app.inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId: 'ivy', planId: plan.id, coupon: 'API10' },
    });
    expect(checkout.statusCode).toBe(201);
    expect(checkout.json()).toMatchObject({ amountMinor: 900, listPriceMinor: 1000, discountMinor: 100, status: 'pending', provider: 'dev' });
    const refused = await t.service.app.inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId: 'ivy', planId: plan.id, coupon: 'NOPE' },
    });
    expect(refused.statusCode).toBe(404);
    expect(refused.json().message).toBe('there is no coupon NOPE');

    const disabled = await t.service.app.inject({ method: 'POST', url: '/api/coupons/api10/disable', headers: auth });
    expect(disabled.json()).toMatchObject({ code: 'API10', active: false });
    const twice = await t.service.app.inject({ method: 'POST', url: '/api/coupons/api10/disable', headers: auth });
    expect(twice.statusCode).toBe(409);
  });
});

describe.each(DIALECTS)('owner coupon commands in chat (%s)', (dialect) => {
  const it = serviceTest(dialect);

  it('/addcoupon, /coupons, /disablecoupon for the owner’s own plans; /addplan trial=<days>; a bad percent and another owner’s plan refused', async ({
    t,
    deps,
  }) => {
    const s = scene(t, deps);
    const { group, plan } = await shop(deps);
    const { plan: theirs } = await shop(deps, 'other');
    expect(await s.say('olga', (await createClaimCode(deps, admin, [group.id])).code)).toMatch(/You are now an owner/);

    expect(await s.say('olga', `/addcoupon spring 20% ${plan.id} 5`)).toBe(
      `Coupon SPRING added: 20% off plan ${plan.id}, at most 5 uses. Members send /coupon SPRING.`,
    );
    expect(await s.say('olga', `/addcoupon zero 0% ${plan.id}`)).toBe('That did not work: --percent must be a whole number from 1 to 100 (got 0)');
    expect(await s.say('olga', `/addcoupon theirs 10% ${theirs.id}`)).toMatch(/^That did not work: group \d+ is not one of your groups/);
    expect(await s.say('olga', '/addcoupon x')).toBe('Usage: /addcoupon <code> <percent>% <plan-id> [max-uses]');
    expect(await s.say('olga', '/coupons')).toBe('SPRING: 20% off, used 0 of 5 (active)');
    expect(await s.say('olga', '/disablecoupon spring')).toBe('Coupon SPRING disabled: nobody can apply it any more.');
    expect(await s.say('olga', '/coupons')).toBe('SPRING: 20% off, used 0 of 5 (disabled)');
    // A member typing an owner command gets the unknown-command answer.
    expect(await s.say('mallory', `/addcoupon free 100% ${plan.id}`)).toMatch(/^Sorry, I did not understand that\./);
    expect((await deps.store.coupons.list({ limit: 10 })).map((c) => c.code)).toEqual(['SPRING']);

    expect(await s.say('olga', `/addplan ${group.id} 3 CNY 7 Taster trial=3`)).toMatch(/^Plan #\d+ "Taster" added/);
    expect((await deps.store.plans.list({ groupId: group.id })).find((p) => p.name === 'Taster')!.trialDays).toBe(3);
  });
});
