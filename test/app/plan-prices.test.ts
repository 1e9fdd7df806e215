// A plan's price (issue 15 part 5): a plan is refused when no enabled payment rail can take its currency (for
// every adapter: the CLI, /addplan, the admin API and the console call the same use case), and a price change
// applies to new orders only — an order made before keeps, and is paid at, the price it was made at.
import { describe, expect } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import { addGroup, addPlan, setPlanPrice } from '../../src/app/catalog-admin.ts';
import { createCheckout } from '../../src/app/checkout.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import type { Platform } from '../../src/app/model.ts';
import { createClaimCode, redeemClaimCode } from '../../src/app/owners.ts';
import type { PaymentProvider } from '../../src/app/ports.ts';
import { railTakesCurrency } from '../../src/payments/currencies.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

const admin: Actor = { kind: 'admin', via: 'cli' };

/** A rail that takes what the real rail of that name takes; only what offersFor reads. */
const rail = (name: string, chatPlatform?: Platform) =>
  ({ name, merchantId: null, chatPlatform, supportsCurrency: (c: string) => railTakesCurrency(name, c) }) as unknown as PaymentProvider;

/** The service's rails replaced by these (the dev rail takes anything, so these tests take it away). */
function onlyRails(deps: AppDeps, ...rails: PaymentProvider[]) {
  deps.providers.clear();
  for (const r of rails) deps.providers.set(r.name, r);
}

const group = (deps: AppDeps, platform: Platform, chatId: string) => addGroup(deps, { platform, chatId, title: `Group ${chatId}`, actor: admin });

describe.each(DIALECTS)('plan prices (%s)', (dialect) => {
  const it = serviceTest(dialect);

  it('bad input: a currency no enabled provider takes is refused with the currencies they take, and nothing is saved', async ({ deps }) => {
    const g = await group(deps, 'playground', 'room-1');
    onlyRails(deps, rail('wechatpay'), rail('alipay'));
    const plan = { groupIds: [g.id], name: 'Monthly', price: '9.90', days: 30, actor: admin };
    await expect(addPlan(deps, { ...plan, currency: 'USD' })).rejects.toThrow(
      'no enabled payment provider takes USD (enabled: wechatpay, alipay; they take CNY)',
    );
    expect(await deps.store.plans.list()).toEqual([]);
    expect((await addPlan(deps, { ...plan, currency: 'CNY' })).priceMinor).toBe(990);
    // Stripe takes many currencies, but not ISK (see stripe-currency.ts) nor Stars outside Telegram.
    onlyRails(deps, rail('stripe'));
    await expect(addPlan(deps, { ...plan, name: 'Krona', currency: 'ISK', price: '1000' })).rejects.toThrow(
      /^no enabled payment provider takes ISK \(enabled: stripe; they take CNY, USD, EUR, GBP, HKD, TWD and 28 more\)$/,
    );
    // The Stars rail is a Telegram member's only: it sells a playground plan nothing.
    onlyRails(deps, rail('stars', 'telegram'));
    await expect(addPlan(deps, { ...plan, name: 'Stars', currency: 'XTR', price: '100' })).rejects.toThrow(
      'no enabled payment provider takes XTR (enabled: none)',
    );
    expect((await deps.store.plans.list()).length).toBe(1);
  });

  it('a Telegram plan in any currency sells on the Stars rail at its Stars price', async ({ deps }) => {
    const g = await group(deps, 'telegram', '-100200');
    onlyRails(deps, rail('wechatpay'), rail('stars', 'telegram'));
    const p = await addPlan(deps, { groupIds: [g.id], name: 'Monthly', price: '5', currency: 'USD', days: 30, stars: 250, actor: admin });
    expect(p).toMatchObject({ currency: 'USD', starsPrice: 250 });
  });

  it('a new price applies to new orders only: a pending order keeps its price and is paid at it, not held', async ({ deps }) => {
    const s = await seedOrderDirect(deps, { userId: 'ann', price: '9.90' });
    const p = await setPlanPrice(deps, { planId: s.planId, actor: admin, price: '12.50' });
    expect(p.priceMinor).toBe(1250);
    expect((await deps.store.plans.get(s.planId))!.priceMinor).toBe(1250);
    expect((await deps.store.orders.get(s.orderId))!.amountMinor).toBe(990);
    expect(await payDevDirect(deps, s.orderId)).toMatchObject({ status: 'paid' });
    const { order } = await createCheckout(deps, { platform: 'playground', userId: 'ben', planId: s.planId, provider: 'dev' });
    expect(order.amountMinor).toBe(1250);
    const audit = (await deps.store.audit.list({ subjectType: 'plan', subjectId: String(s.planId) })).find((e) => e.action === 'plan.price')!;
    expect(audit.reason).toBe('price 9.90 CNY → 12.50 CNY for new orders');
  });

  it('bad input: 9.999, 0, −1, Stars 0 or 100001, another owner’s plan, nothing to change: one clear line, nothing saved', async ({ deps }) => {
    const s = await seedOrderDirect(deps, { chatId: 'room-1' });
    const other = await seedOrderDirect(deps, { chatId: 'room-2' });
    const owner = await redeemClaimCode(deps, { platform: 'telegram', userId: '42', code: (await createClaimCode(deps, admin, [s.groupId])).code });
    const actor: Actor = { kind: 'account', accountId: owner.id };
    for (const [input, line] of [
      [{ price: '9.999' }, 'price "9.999" has more than 2 decimal places for CNY'],
      [{ price: '0' }, 'price must be more than zero'],
      [{ price: '-1' }, 'price must not be negative: "-1"'],
      [{ stars: '0' }, 'a Stars price must be from 1 to 100000 stars'],
      [{ stars: 100001 }, 'a Stars price must be from 1 to 100000 stars'],
      [{}, 'nothing to change: give a price or a Stars price'],
    ] as const)
      await expect(setPlanPrice(deps, { planId: s.planId, actor, ...input }), JSON.stringify(input)).rejects.toThrow(line);
    await expect(setPlanPrice(deps, { planId: other.planId, actor, price: '1' })).rejects.toThrow(`group ${other.groupId} is not one of your groups`);
    await expect(setPlanPrice(deps, { planId: 9999, actor, price: '1' })).rejects.toThrow('no plan with id 9999');
    for (const id of [s.planId, other.planId]) expect(await deps.store.plans.get(id)).toMatchObject({ priceMinor: 990, starsPrice: null });
    expect((await setPlanPrice(deps, { planId: s.planId, actor, stars: 80 })).starsPrice).toBe(80);
  });
});
