// Telegram Stars as the `stars` provider: invoice instead of a QR code, pre_checkout_query answered only for
// a payable order, successful_payment granted exactly once through the shared confirm path, a lost update
// found by reconcile, and a refund with refundStarPayment.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MINUTE_MS } from '../../../src/domain/time.ts';
import { DIALECTS } from '../../helpers/db.ts';
import { buttonUrl, type Harness, startTelegram } from './harness.ts';
import { auth } from '../../helpers/service.ts';
import type { User } from '../../fakes/telegram-emulator.ts';

describe.each(DIALECTS)('Telegram Stars (%s)', (dialect) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startTelegram(dialect);
  });
  afterEach(async () => {
    await h.close();
  });

  /** /start → the plan → the Stars rail → the invoice; returns the invoice link shown as a button. */
  async function checkout(user: User, plan: RegExp = /^VIP/, rail: string | RegExp = 'Telegram Stars'): Promise<string> {
    const { emu } = h;
    const before = emu.messagesTo(user.id).length;
    emu.sendText(user, '/start');
    await h.until(
      () =>
        emu
          .messagesTo(user.id)
          .slice(before)
          .some((m) => m.reply_markup?.inline_keyboard.flat().some((b) => b.callback_data?.startsWith('plan:'))),
      'plans',
    );
    emu.press(user, plan);
    await h.until(
      () =>
        emu
          .messagesTo(user.id)
          .slice(before)
          .some((m) => m.reply_markup?.inline_keyboard.flat().some((b) => (typeof rail === 'string' ? b.text === rail : rail.test(b.text)))),
      'provider choice',
    );
    emu.press(user, rail);
    await h.until(
      () =>
        emu
          .messagesTo(user.id)
          .slice(before)
          .some((m) => buttonUrl(m)?.startsWith('https://t.me/$')),
      'the invoice link',
    );
    return buttonUrl(
      emu
        .messagesTo(user.id)
        .slice(before)
        .find((m) => buttonUrl(m)?.startsWith('https://t.me/$')),
    )!;
  }

  it('sells with an invoice, grants once, refunds', async () => {
    const { emu } = h;
    const store = h.t.service.deps.store;
    const owner = await h.owner('Olga');
    const { chatId, group } = await h.boundGroup(owner);
    await h.plan(group.id, '250', 'XTR', 30, 'VIP');
    const alice = emu.addUser('Alice', { language_code: 'en' });
    const link = await checkout(alice);

    const invoice = emu.messagesTo(alice.id).find((m) => m.invoice)!;
    expect(invoice.invoice).toMatchObject({ title: 'VIP', currency: 'XTR', total_amount: 250 });
    expect(emu.messagesTo(alice.id).some((m) => m.photo)).toBe(false);
    const sendInvoice = emu.calls.find((c) => c.method === 'sendInvoice')!;
    expect(sendInvoice.params.provider_token).toBe('');
    const [order] = await store.orders.page({ limit: 5 });
    expect(order).toMatchObject({ provider: 'stars', currency: 'XTR', amountMinor: 250, status: 'pending', checkoutUrl: link });
    expect(invoice.invoice!.payload).toBe(order!.outTradeNo);

    // Someone else cannot pay Alice's invoice.
    const bob = emu.addUser('Bob');
    const wrong = emu.payInvoice(bob, { link });
    await h.until(async () => (await Promise.race([wrong, Promise.resolve(null)])) !== null, 'bob answered');
    expect(await wrong).toEqual({ outcome: 'declined', error: 'This invoice belongs to someone else. Send /plans to get your own.' });

    const paying = emu.payInvoice(alice, { link });
    let paid: Awaited<typeof paying> | null = null;
    void paying.then((r) => (paid = r));
    await h.until(() => paid !== null, 'alice pays');
    expect(paid!.outcome).toBe('paid');
    const chargeId = (paid as unknown as { chargeId: string }).chargeId;
    const answer = emu.calls.filter((c) => c.method === 'answerPreCheckoutQuery').at(-1)!;
    expect(answer.params.ok).toBe(true);

    const joinLink = await h.inviteLink(alice);
    expect(emu.joinViaLink(alice, joinLink)).toBe('requested');
    await h.until(() => emu.isMember(chatId, alice.id), 'alice in');
    await h.until(async () => (await store.orders.get(order!.id))!.status === 'paid', 'order paid');
    expect((await store.orders.get(order!.id))!.providerTxnId).toBe(chargeId);

    // The same successful_payment again (Telegram resends, or a second instance sees it): nothing more.
    const original = emu.updates.find((u) => (u.message as { successful_payment?: unknown } | undefined)?.successful_payment)!;
    emu.pushRaw('message', original.message);
    await h.run(3_000);
    expect(await store.payments.listForOrder(order!.id)).toHaveLength(1);
    const account = (await store.accounts.find('telegram', String(alice.id)))!;
    const [m] = await store.memberships.list({ accountId: account.id });
    expect(await store.periods.listForMembership(m!.id)).toHaveLength(1);

    // The owner refunds: the Stars go back, access ends.
    emu.sendText(owner, `/refund ${order!.id} changed my mind`);
    await h.until(async () => (await store.orders.get(order!.id))!.status === 'refunded', 'order refunded');
    expect(emu.calls.find((c) => c.method === 'refundStarPayment')!.params).toMatchObject({ user_id: alice.id, telegram_payment_charge_id: chargeId });
    expect(emu.transactions.filter((t) => t.id === chargeId).map((t) => (t.source ? 'charge' : 'refund'))).toEqual(['charge', 'refund']);
    await h.until(() => !emu.isMember(chatId, alice.id), 'alice removed after the refund');
    await h.until(() => h.texts(alice.id).some((x) => x.includes('250 XTR has been refunded')), 'alice told');
    expect(emu.violations).toEqual([]);
  });

  it('sells every Telegram plan for Stars too: the owner Stars price or one derived from STARS_PER_UNIT, reported in XTR', async () => {
    const { emu } = h;
    const store = h.t.service.deps.store;
    const owner = await h.owner('Olga');
    const { chatId, group } = await h.boundGroup(owner);
    // The owner gives a Stars price in chat; a second plan has none and takes the rate (9.90 CNY × 7.5 = 74.25 → 75).
    emu.sendText(owner, `/addplan ${group.id} 19.90 CNY 30 Monthly stars=120`);
    await h.until(() => h.texts(owner.id).some((x) => x.includes('Monthly')) && h.texts(owner.id).some((x) => /plan #?\d+/i.test(x)), 'plan added');
    const monthly = (await store.plans.list({ groupId: group.id })).find((p) => p.name === 'Monthly')!;
    expect(monthly).toMatchObject({ priceMinor: 1990, currency: 'CNY', starsPrice: 120 });
    await h.plan(group.id, '9.90', 'CNY', 7, 'Weekly');

    const alice = emu.addUser('Alice', { language_code: 'en' });
    const before = emu.messagesTo(alice.id).length;
    const weekly = checkout(alice, /^Weekly/, 'Telegram Stars (75 ⭐)');
    const link = await weekly;
    // The other rail stays for members who prefer it.
    const rails = emu
      .messagesTo(alice.id)
      .slice(before)
      .flatMap((m) => m.reply_markup?.inline_keyboard.flat().map((b) => b.text) ?? []);
    expect(rails).toEqual(expect.arrayContaining(['Test payment', 'Telegram Stars (75 ⭐)']));
    const [order] = await store.orders.page({ limit: 1 });
    expect(order).toMatchObject({ provider: 'stars', currency: 'XTR', amountMinor: 75 });
    expect(emu.messagesTo(alice.id).find((m) => m.invoice)!.invoice).toMatchObject({ currency: 'XTR', total_amount: 75 });
    const paying = emu.payInvoice(alice, { link });
    let paid: Awaited<typeof paying> | null = null;
    void paying.then((r) => (paid = r));
    await h.until(() => paid !== null, 'alice pays');
    expect(paid!.outcome).toBe('paid');
    const joinLink = await h.inviteLink(alice);
    expect(emu.joinViaLink(alice, joinLink)).toBe('requested');
    await h.until(() => emu.isMember(chatId, alice.id), 'alice in');

    // The owner's own Stars price is what Monthly costs in Stars.
    const bob = emu.addUser('Bob', { language_code: 'en' });
    await checkout(bob, /^Monthly/, 'Telegram Stars (120 ⭐)');
    expect((await store.orders.page({ limit: 1 }))[0]).toMatchObject({ provider: 'stars', currency: 'XTR', amountMinor: 120, planId: monthly.id });

    // Stars revenue is reported in XTR, apart from the CNY list prices.
    const stats = await h.t.service.app.inject({ method: 'GET', url: '/api/stats', headers: auth });
    expect((stats.json() as { revenue: Array<{ currency: string; chargesMinor: number }> }).revenue).toEqual([
      expect.objectContaining({ currency: 'XTR', chargesMinor: 75 }),
    ]);

    // A bad Stars price from the owner changes nothing.
    const plans = (await store.plans.list()).length;
    emu.sendText(owner, `/addplan ${group.id} 5 CNY 7 Trial stars=0`);
    await h.until(() => h.texts(owner.id).some((x) => x.includes('a Stars price must be from 1 to')), 'owner told the price is bad');
    expect(await store.plans.list()).toHaveLength(plans);
    expect(emu.violations).toEqual([]);
  });

  it("answers /paysupport with the default text, or the owner's PAYSUPPORT_TEXT", async () => {
    const { emu } = h;
    const alice = emu.addUser('Alice', { language_code: 'en' });
    emu.sendText(alice, '/paysupport');
    await h.until(() => h.texts(alice.id).some((x) => x.startsWith('Payment support:')), 'default answer');
    const li = emu.addUser('Li', { language_code: 'zh-hans' });
    emu.sendText(li, '/paysupport');
    await h.until(() => h.texts(li.id).some((x) => x.startsWith('支付帮助：')), 'zh-CN answer');
    await h.close();
    h = await startTelegram(dialect, { env: { PAYSUPPORT_TEXT: 'Write to pay@example.com with your order number.' } });
    const bob = h.emu.addUser('Bob', { language_code: 'en' });
    h.emu.sendText(bob, '/paysupport');
    await h.until(() => h.texts(bob.id).includes('Write to pay@example.com with your order number.'), 'own answer');
  });

  it('refuses to take Stars for an expired order, and finds a payment whose update was lost', async () => {
    const { emu } = h;
    const store = h.t.service.deps.store;
    const owner = await h.owner('Olga');
    const { chatId, group } = await h.boundGroup(owner);
    await h.plan(group.id, '100', 'XTR', 30, 'VIP');
    const alice = emu.addUser('Alice');
    const link = await checkout(alice);
    // The order is open 15 minutes; after that Telegram is told no and takes nothing.
    h.clock.set(h.clock.now() + 16 * MINUTE_MS);
    const late = emu.payInvoice(alice, { link });
    let result: Awaited<typeof late> | null = null;
    void late.then((r) => (result = r));
    await h.until(() => result !== null, 'answered');
    expect(result).toEqual({ outcome: 'declined', error: 'This order can no longer be paid. Send /plans to start again.' });
    expect(emu.transactions).toEqual([]);

    // A new order; the Stars are taken but the successful_payment update never arrives.
    const link2 = await checkout(alice);
    expect(link2).not.toBe(link);
    const lost = emu.payInvoice(alice, { link: link2 }, { loseUpdate: true });
    let r2: Awaited<typeof lost> | null = null;
    void lost.then((r) => (r2 = r));
    await h.until(() => r2 !== null, 'paid');
    expect(r2!.outcome).toBe('paid');
    const orders = await store.orders.page({ limit: 5 });
    const second = orders.find((o) => o.checkoutUrl === link2)!;
    expect(second.status).toBe('pending');
    // Reconcile asks Telegram (getStarTransactions) and grants it.
    h.clock.set(h.clock.now() + 10 * MINUTE_MS);
    await h.tick();
    await h.until(async () => (await store.orders.get(second.id))!.status === 'paid', 'reconciled');
    expect(emu.calls.some((c) => c.method === 'getStarTransactions')).toBe(true);
    const joinLink = await h.inviteLink(alice);
    expect(emu.joinViaLink(alice, joinLink)).toBe('requested');
    await h.until(() => emu.isMember(chatId, alice.id), 'alice in');

    // Stars never arrive over HTTP: /webhooks/stars refuses without touching anything.
    const res = await h.t.service.app.inject({ method: 'POST', url: '/webhooks/stars', headers: { 'content-type': 'application/json' }, payload: '{}' });
    expect(res.statusCode).toBe(400);
  });
});
