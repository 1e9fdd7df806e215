// Recurring Stars (issue 18 parts 2 and 4) against the strict Bot API emulator, on SQLite and PostgreSQL: a
// member subscribes with a subscription invoice link, renews twice (two charges, two extensions, exactly once
// each, replays booking nothing), gets one "renews on …" notice instead of the expiry reminders, cancels with
// /cancel (editUserStarSubscription), and lapses after the paid period (grace, then removal). Bad input: a
// renewal for a subscription canceled here, a successful_payment naming another member's order, /cancel with
// nothing to cancel, a plan switch while subscribed, --recurring for a length no rail renews.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addPlan } from '../../../src/app/catalog-admin.ts';
import { RENEWAL_SETTLE_MS } from '../../../src/app/subscriptions.ts';
import { DAY_MS, HOUR_MS } from '../../../src/domain/time.ts';
import type { User } from '../../fakes/telegram-emulator.ts';
import { DIALECTS } from '../../helpers/db.ts';
import { auth } from '../../helpers/service.ts';
import { buttonUrl, type Harness, startTelegram } from './harness.ts';

const ADMIN = { kind: 'admin', via: 'cli' } as const;

describe.each(DIALECTS)('recurring Telegram Stars (%s)', (dialect) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startTelegram(dialect);
  });
  afterEach(async () => {
    await h.close();
  });

  async function recurringGroup() {
    const owner = await h.owner('Olga');
    const { chatId, group } = await h.boundGroup(owner);
    const plan = await addPlan(h.t.service.deps, { groupIds: [group.id], name: 'VIP', price: '100', currency: 'XTR', days: 30, recurring: true, actor: ADMIN });
    return { owner, chatId, group, plan };
  }

  /** /start → VIP → Stars → the subscription invoice link (a button; no sendInvoice for a subscription). */
  async function subscribe(user: User, plan: RegExp = /^VIP/): Promise<string> {
    const { emu } = h;
    const before = emu.messagesTo(user.id).length;
    emu.sendText(user, '/start');
    const fresh = () => emu.messagesTo(user.id).slice(before);
    await h.until(() => fresh().some((m) => m.reply_markup?.inline_keyboard.flat().some((b) => b.callback_data?.startsWith('plan:'))), 'plans');
    emu.press(user, plan);
    await h.until(() => fresh().some((m) => m.reply_markup?.inline_keyboard.flat().some((b) => /Telegram Stars/.test(b.text))), 'rails');
    emu.press(user, /Telegram Stars/);
    await h.until(() => fresh().some((m) => buttonUrl(m)?.startsWith('https://t.me/$')), 'the invoice link');
    return buttonUrl(fresh().find((m) => buttonUrl(m)?.startsWith('https://t.me/$')))!;
  }

  async function pay(user: User, link: string): Promise<string> {
    const paying = h.emu.payInvoice(user, { link });
    let paid: Awaited<typeof paying> | null = null;
    void paying.then((r) => (paid = r));
    await h.until(() => paid !== null, 'paid');
    expect(paid!.outcome).toBe('paid');
    return (paid as unknown as { chargeId: string }).chargeId;
  }

  it('subscribes, renews twice exactly once each, cancels with /cancel and lapses after the period', async () => {
    const { emu } = h;
    const store = h.t.service.deps.store;
    const { chatId, group } = await recurringGroup();
    const alice = emu.addUser('Alice', { language_code: 'en' });
    const link = await subscribe(alice);
    const created = emu.calls.filter((c) => c.method === 'createInvoiceLink').at(-1)!;
    expect(created.params).toMatchObject({ currency: 'XTR', subscription_period: 2592000 });
    expect(emu.calls.some((c) => c.method === 'sendInvoice')).toBe(false);

    const chargeId = await pay(alice, link);
    expect(emu.joinViaLink(alice, await h.inviteLink(alice))).toBe('requested');
    await h.until(() => emu.isMember(chatId, alice.id), 'alice in');
    const account = (await store.accounts.find('telegram', String(alice.id)))!;
    let [sub] = await store.subscriptions.listForAccount(account.id);
    const tgSub = emu.subscriptions[0]!;
    expect(sub).toMatchObject({
      provider: 'stars',
      subscriptionId: chargeId,
      state: 'active',
      amountMinor: 100,
      currency: 'XTR',
      nextChargeAt: tgSub.expiresAt * 1000,
    });
    const membership = async () => (await store.memberships.list({ accountId: account.id, groupId: group.id }))[0]!;

    // 3 days before the charge: one "renews on …" notice, none of the usual expiry reminders.
    h.clock.set(tgSub.expiresAt * 1000 - 2 * DAY_MS);
    await h.tick();
    await h.until(() => h.texts(alice.id).some((x) => x.includes('renews on') && x.includes('/cancel to stop')), 'renewal notice');
    await h.tick();
    await h.run(2_000);
    expect(h.texts(alice.id).filter((x) => x.includes('renews on'))).toHaveLength(1);
    expect(h.texts(alice.id).some((x) => /expires|ends/i.test(x) && !x.includes('renews on'))).toBe(false);

    // Two renewals, each its own charge and its own order, each extending to Telegram's expiry.
    const renewalIds: string[] = [];
    for (let i = 1; i <= 2; i++) {
      h.clock.set(emu.subscriptions[0]!.expiresAt * 1000);
      const r = emu.renewSubscription(alice, chargeId);
      if (r.outcome !== 'charged') throw new Error('not charged');
      renewalIds.push(r.chargeId);
      await h.until(async () => (await membership()).expiresAt === emu.subscriptions[0]!.expiresAt * 1000, `renewal ${i} extends`);
      // The same renewal delivered twice: nothing new.
      emu.pushRaw('message', (r.update as unknown as { message: unknown }).message);
      await h.run(2_000);
    }
    const orders = (await store.orders.page({ accountId: account.id, limit: 10 })).filter((o) => o.status === 'paid');
    expect(orders).toHaveLength(3);
    expect(orders.map((o) => o.providerTxnId).sort()).toEqual([chargeId, ...renewalIds].sort());
    expect((await store.periods.listForMembership((await membership()).id)).filter((p) => p.revokedAt === null)).toHaveLength(3);
    sub = (await store.subscriptions.listForAccount(account.id))[0];
    expect(sub!.nextChargeAt).toBe(emu.subscriptions[0]!.expiresAt * 1000);
    expect(emu.isMember(chatId, alice.id)).toBe(true);

    // /cancel: Telegram is told in a job; access runs to the end of the paid period.
    emu.sendText(alice, '/cancel');
    await h.until(() => h.texts(alice.id).some((x) => x.startsWith('Auto-renewal of "VIP" is off')), 'cancel confirmed');
    await h.until(() => emu.subscriptions[0]!.canceledByBot, 'editUserStarSubscription');
    expect(emu.calls.find((c) => c.method === 'editUserStarSubscription')!.params).toMatchObject({
      user_id: alice.id,
      telegram_payment_charge_id: chargeId,
      is_canceled: true,
    });
    expect((await store.subscriptions.listForAccount(account.id))[0]).toMatchObject({ state: 'canceled', canceledBy: 'member' });
    const end = emu.subscriptions[0]!.expiresAt * 1000;
    expect(emu.renewSubscription(alice, chargeId)).toEqual({ outcome: 'canceled' });

    // No renewal by the expiry: the normal grace, then removal.
    h.clock.set(end + HOUR_MS);
    await h.tick();
    await h.until(async () => (await membership()).status === 'grace', 'grace');
    expect(emu.isMember(chatId, alice.id)).toBe(true);
    h.clock.set(end + group.graceMs + 2 * HOUR_MS);
    await h.tick();
    await h.until(() => !emu.isMember(chatId, alice.id), 'alice removed after grace');
    expect((await membership()).status).toBe('expired');

    const stats = (await h.t.service.app.inject({ method: 'GET', url: '/api/stats', headers: auth })).json() as { autoRenew: unknown };
    expect(stats.autoRenew).toEqual({ members: 0, share: 0, failedRenewals: 0 });
    expect(emu.violations).toEqual([]);
  });

  it('a lost renewal (active, but no successful_payment and no subscription update by the expiry) leads to the normal grace (its reminder once the renewal is late), then removal', async () => {
    const { emu } = h;
    const store = h.t.service.deps.store;
    const { chatId, group } = await recurringGroup();
    const bob = emu.addUser('Bob', { language_code: 'en' });
    await pay(bob, await subscribe(bob));
    expect(emu.joinViaLink(bob, await h.inviteLink(bob))).toBe('requested');
    await h.until(() => emu.isMember(chatId, bob.id), 'bob in');
    const account = (await store.accounts.find('telegram', String(bob.id)))!;
    const membership = async () => (await store.memberships.list({ accountId: account.id, groupId: group.id }))[0]!;
    const end = emu.subscriptions[0]!.expiresAt * 1000;
    expect((await membership()).expiresAt).toBe(end);
    // Telegram never delivers the renewal (nor any subscription update): the subscription still says active here.
    h.clock.set(end + HOUR_MS);
    await h.tick();
    await h.until(async () => (await membership()).status === 'grace', 'grace');
    expect((await store.subscriptions.listForAccount(account.id))[0]).toMatchObject({ state: 'active' });
    expect(emu.isMember(chatId, bob.id)).toBe(true);
    // The rail may still be charging: no "renew now" (it would invite a second, manual payment) until the
    // renewal is RENEWAL_SETTLE_MS late; then the usual reminder with the grace left.
    const ended = () => h.texts(bob.id).filter((x) => x.includes('has ended'));
    await h.run(60_000);
    expect(ended()).toEqual([]);
    h.clock.set(end + RENEWAL_SETTLE_MS + HOUR_MS);
    await h.tick();
    await h.until(() => ended().length === 1, 'the grace reminder once the renewal is late');
    h.clock.set(end + group.graceMs + 2 * HOUR_MS);
    await h.tick();
    await h.until(() => !emu.isMember(chatId, bob.id), 'bob removed after grace');
    expect((await membership()).status).toBe('expired');
  });

  it('honours a renewal charged after /cancel without turning renewal back on, and /resume turns it on', async () => {
    const { emu } = h;
    const store = h.t.service.deps.store;
    const { chatId, owner } = await recurringGroup();
    const alice = emu.addUser('Alice', { language_code: 'en' });

    // Nothing to cancel yet.
    emu.sendText(alice, '/cancel');
    await h.until(() => h.texts(alice.id).includes('You have no auto-renewing membership to cancel.'), 'nothing to cancel');

    const chargeId = await pay(alice, await subscribe(alice));
    expect(emu.joinViaLink(alice, await h.inviteLink(alice))).toBe('requested');
    await h.until(() => emu.isMember(chatId, alice.id), 'alice in');
    const account = (await store.accounts.find('telegram', String(alice.id)))!;
    const stats = async () =>
      (
        (await h.t.service.app.inject({ method: 'GET', url: '/api/stats', headers: auth })).json() as {
          autoRenew: { members: number; share: number; failedRenewals: number };
        }
      ).autoRenew;
    expect(await stats()).toEqual({ members: 1, share: 1, failedRenewals: 0 });

    emu.sendText(alice, '/cancel');
    await h.until(() => emu.subscriptions[0]!.canceledByBot, 'canceled at Telegram');
    const edits = () => emu.calls.filter((c) => c.method === 'editUserStarSubscription').length;
    const before = edits();
    // A renewal that overtook the cancellation: the money was taken, so the period is granted; renewal stays off.
    h.clock.set(emu.subscriptions[0]!.expiresAt * 1000);
    emu.subscriptions[0]!.canceledByBot = false;
    const r = emu.renewSubscription(alice, chargeId);
    expect(r.outcome).toBe('charged');
    const [m] = await store.memberships.list({ accountId: account.id });
    await h.until(async () => (await store.memberships.get(m!.id))!.expiresAt === emu.subscriptions[0]!.expiresAt * 1000, 'renewal honoured');
    expect((await store.subscriptions.listForAccount(account.id))[0]).toMatchObject({ state: 'canceled' });
    await h.until(() => edits() > before && emu.subscriptions[0]!.canceledByBot, 'cancellation sent again');

    // /resume before the end turns it back on at Telegram.
    emu.sendText(alice, '/resume');
    await h.until(() => h.texts(alice.id).some((x) => x.startsWith('Auto-renewal of "VIP" is on again')), 'resumed');
    await h.until(() => !emu.subscriptions[0]!.canceledByBot, 'is_canceled false');
    expect((await store.subscriptions.listForAccount(account.id))[0]).toMatchObject({ state: 'active', canceledBy: null });

    // Telegram reports a failed renewal payment: counted, the member told, access untouched; no longer renewing.
    emu.userSubscriptionChange(alice, chargeId, 'failed');
    await h.until(async () => (await store.subscriptions.listForAccount(account.id))[0]!.failedRenewals === 1, 'failure counted');
    await h.until(() => h.texts(alice.id).some((x) => x.startsWith('The renewal payment of your membership did not go through')), 'member told');
    expect((await stats()).failedRenewals).toBe(1);
    const metrics = await h.t.service.app.inject({ method: 'GET', url: '/metrics', headers: auth });
    expect(metrics.body).toContain('gatekeeper_auto_renew{kind="failed_renewals"} 1');
    emu.sendText(owner, '/stats');
    await h.until(() => h.texts(owner.id).includes('Auto-renewing: 0 (0% of active members); failed renewals: 1.'), 'owner /stats');
    expect(emu.isMember(chatId, alice.id)).toBe(true);

    // The owner refunds the renewal: refundStarPayment with that charge's id, and only its unused days go.
    if (r.outcome !== 'charged') throw new Error('not charged');
    const renewal = (await store.orders.page({ accountId: account.id, limit: 10 })).find((o) => o.providerTxnId === r.chargeId)!;
    const firstOrder = (await store.orders.page({ accountId: account.id, limit: 10 })).find((o) => o.providerTxnId === chargeId)!;
    const [firstPeriod] = await store.periods.listForOrder(firstOrder.id);
    emu.sendText(owner, `/refund ${renewal.id} renewal by mistake`);
    await h.until(async () => (await store.orders.get(renewal.id))!.status === 'refunded', 'renewal refunded');
    expect(emu.calls.filter((c) => c.method === 'refundStarPayment').map((c) => c.params)).toEqual([
      expect.objectContaining({ user_id: alice.id, telegram_payment_charge_id: r.chargeId }),
    ]);
    expect((await store.orders.get(firstOrder.id))!.status).toBe('paid');
    // The first charge's period ended before the renewal began: what is left is the renewal's used part only.
    const after = (await store.memberships.get(m!.id))!;
    expect(after.expiresAt).toBeLessThanOrEqual(Math.max(firstPeriod!.endsAt, h.clock.now()));
    expect(after.expiresAt).toBeGreaterThanOrEqual(firstPeriod!.endsAt);
  });

  it('refuses a payment by someone else, a plan switch while subscribed, and --recurring for a length no rail renews', async () => {
    const { emu } = h;
    const store = h.t.service.deps.store;
    const { group, owner } = await recurringGroup();
    const gold = await addPlan(h.t.service.deps, { groupIds: [group.id], name: 'Gold', price: '300', currency: 'XTR', days: 30, actor: ADMIN });
    const alice = emu.addUser('Alice', { language_code: 'en' });
    const bob = emu.addUser('Bob', { language_code: 'en' });

    // A successful_payment from Bob naming Alice's order: held for review, nobody granted.
    await subscribe(alice);
    const [order] = await store.orders.page({ limit: 1 });
    emu.pushRaw('message', {
      message_id: 999_001,
      date: Math.floor(h.clock.now() / 1000),
      chat: { id: bob.id, type: 'private', first_name: 'Bob' },
      from: bob,
      successful_payment: {
        currency: 'XTR',
        total_amount: 100,
        invoice_payload: order!.outTradeNo,
        telegram_payment_charge_id: 'stxtn_forged',
        provider_payment_charge_id: '',
        is_recurring: true,
        is_first_recurring: true,
        subscription_expiration_date: Math.floor(h.clock.now() / 1000) + 2592000,
      },
    });
    await h.until(async () => (await store.orders.get(order!.id))!.status === 'review', 'held for review');
    expect((await store.orders.get(order!.id))!.reviewReason).toMatch(/not the order's buyer/);
    const aliceAccount = (await store.accounts.find('telegram', String(alice.id)))!;
    expect(await store.memberships.list({ accountId: aliceAccount.id })).toEqual([]);
    expect(await store.subscriptions.listForAccount(aliceAccount.id)).toEqual([]);

    // Carol subscribes to VIP, then cannot switch to Gold without /cancel.
    const carol = emu.addUser('Carol', { language_code: 'en' });
    await pay(carol, await subscribe(carol));
    emu.sendText(carol, '/plans');
    await h.until(() => emu.messagesTo(carol.id).some((m) => m.reply_markup?.inline_keyboard.flat().some((b) => /^Gold/.test(b.text))), 'plans');
    emu.press(carol, /^Gold/);
    await h.until(
      () => emu.messagesTo(carol.id).some((m) => m.reply_markup?.inline_keyboard.flat().some((b) => b.callback_data === `pay:${gold.id}:stars`)),
      'rails',
    );
    const ordersBefore = (await store.orders.page({ limit: 50 })).length;
    emu.press(carol, /Telegram Stars/);
    await h.until(() => h.texts(carol.id).includes('Your "VIP" membership renews itself. Send /cancel first to switch plan.'), 'switch refused');
    expect(await store.orders.page({ limit: 50 })).toHaveLength(ordersBefore);

    // The owner's /addplan takes `recurring` too, and refuses it for a length no rail renews.
    emu.sendText(owner, `/addplan ${group.id} 200 XTR 30 Platinum recurring`);
    await h.until(async () => (await store.plans.list()).some((p) => p.name === 'Platinum' && p.recurring), '/addplan recurring');
    emu.sendText(owner, `/addplan ${group.id} 200 XTR 14 Fortnight recurring`);
    await h.until(() => h.texts(owner.id).some((x) => x.includes('a recurring plan must last 7, 30, 365 days')), '/addplan refused');
    expect((await store.plans.list()).some((p) => p.name.startsWith('Fortnight'))).toBe(false);

    // --recurring for a length no rail renews: a clear error, nothing added.
    const plans = (await store.plans.list()).length;
    const res = await h.t.service.app.inject({
      method: 'POST',
      url: '/api/plans',
      headers: auth,
      payload: { groupIds: [group.id], name: 'Quarter', price: '250', currency: 'XTR', days: 90, recurring: true },
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('a recurring plan must last 7, 30, 365 days');
    expect(await store.plans.list()).toHaveLength(plans);
  });
});
