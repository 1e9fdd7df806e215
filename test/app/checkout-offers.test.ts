// Which rails sell a plan, and at what price: the list price on rails that take the plan's currency, the
// Stars price on the Stars rail, and Stars only to Telegram members (Telegram's rule, and where Stars are paid).
import { describe, expect, it } from 'vitest';
import { createCheckout, offersFor } from '../../src/app/checkout.ts';
import type { Plan, Platform } from '../../src/app/model.ts';
import type { PaymentProvider } from '../../src/app/ports.ts';
import { parseStarsRates } from '../../src/domain/pricing.ts';
import { DIALECTS } from '../helpers/db.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { testPlan } from '../helpers/fixtures.ts';

/** A rail that takes the given currencies; only what offersFor reads. */
const rail = (name: string, currencies: string[], chatPlatform?: Platform) =>
  ({ name, merchantId: null, chatPlatform, supportsCurrency: (c: string) => currencies.includes(c) }) as unknown as PaymentProvider;

const deps = {
  settings: { starsRates: parseStarsRates('CNY=7.5') } as never,
  providers: new Map([
    ['wechatpay', rail('wechatpay', ['CNY'])],
    ['stripe', rail('stripe', ['USD', 'CNY'])],
    ['stars', rail('stars', ['XTR'], 'telegram')],
  ]),
};
const plan = testPlan;
const offers = (p: Plan, platform: Platform) => offersFor(deps, p, platform).map((o) => [o.provider.name, o.amountMinor, o.currency]);

describe('offersFor', () => {
  it('offers Stars next to the currency rails on Telegram, at the derived or the owner’s Stars price', () => {
    expect(offers(plan(), 'telegram')).toEqual([
      ['wechatpay', 990, 'CNY'],
      ['stripe', 990, 'CNY'],
      ['stars', 75, 'XTR'],
    ]);
    expect(offers(plan({ starsPrice: 99 }), 'telegram')).toContainEqual(['stars', 99, 'XTR']);
  });
  it('never offers Stars to WeChat or playground members', () => {
    for (const platform of ['wechat', 'playground'] as const)
      expect(offers(plan({ starsPrice: 99 }), platform).map(([n]) => n)).toEqual(['wechatpay', 'stripe']);
  });
  it('leaves out Stars when the plan has no Stars price and its currency no rate', () => {
    expect(offers(plan({ currency: 'USD' }), 'telegram')).toEqual([['stripe', 990, 'USD']]);
  });
});

describe.each(DIALECTS)('checkout on the Stars rail (%s)', (dialect) => {
  const test = serviceTest(dialect, { STARS_PER_UNIT: 'CNY=7.5' });
  test('a playground member cannot pay with a rail bound to Telegram, and nothing is written', async ({ deps }) => {
    deps.providers.set('stars', rail('stars', ['XTR'], 'telegram'));
    const group = await deps.store.groups.insert(
      { platform: 'playground', platformChatId: 'room', title: 'Room', ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] },
      deps.clock.now(),
    );
    const p = await deps.store.plans.insert({ name: 'Monthly', priceMinor: 990, currency: 'CNY', durationDays: 30, groupIds: [group.id], starsPrice: 80 }, 0);
    await expect(createCheckout(deps, { platform: 'playground', userId: 'u1', planId: p.id, provider: 'stars' })).rejects.toThrow(
      'stars is paid inside telegram only',
    );
    expect(await deps.store.orders.page({ limit: 5 })).toEqual([]);
  });
});
