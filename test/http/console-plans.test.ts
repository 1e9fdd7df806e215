// The console's Plans page (issue 15 part 5): change a plan's price for new orders (checked, then confirmed; an
// order made before keeps its price), a Stars price, a renewing plan, a plan opening several groups; bad input
// (9.999, 0, −5, Stars 0 / 100001, a currency no enabled provider takes, another owner's plan) is one clear line
// and saves nothing. On SQLite and PostgreSQL.
import { describe, expect } from 'vitest';
import type { Platform } from '../../src/app/model.ts';
import type { PaymentProvider } from '../../src/app/ports.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import { railTakesCurrency } from '../../src/payments/currencies.ts';
import { consoleScene, type ConsoleScene } from '../helpers/console-scene.ts';
import { DIALECTS } from '../helpers/db.ts';
import { seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { auth } from '../helpers/service.ts';

/** A rail taking what the real rail of that name takes; only what the use cases read. */
const rail = (name: string, chatPlatform?: Platform) =>
  ({ name, merchantId: null, chatPlatform, supportsCurrency: (c: string) => railTakesCurrency(name, c) }) as unknown as PaymentProvider;

/** The text of the cell showing a plan's price in the list. */
const priceCell = (body: string, planId: number) => new RegExp(`data-price="${planId}">([^<]*)<`).exec(body)?.[1]?.trim();

describe.each(DIALECTS)('console plans (%s)', (dialect) => {
  const it = serviceTest(dialect).extend<{ scene: ConsoleScene }>({ scene: async ({ t }, use) => use(await consoleScene(t)) });

  it('changes a price for new orders after confirming; an order made before keeps its price', async ({ t, scene: { one, ownerA, signIn, get, post } }) => {
    const deps = t.service.deps;
    const a = await signIn(ownerA);
    const pending = await seedOrderDirect(deps, { userId: 'cat', planId: one.planId });
    const list = await get(a, '/console/plans');
    expect(priceCell(list.body, one.planId)).toBe('9.90 CNY / 30 days');
    expect(list.body).toContain(`data-change-price="${one.planId}"`);
    const form = await get(a, `/console/plans/${one.planId}`);
    expect(form.statusCode).toBe(200);
    expect(form.body).toMatch(/name="price"\s+required\s+inputmode="decimal"\s+value="9.90"/);
    // A GET changes nothing; the POST asks first, naming the old and the new price.
    const ask = await post(a, `/console/plans/${one.planId}/price`, { _csrf: a.csrf, price: '12.50', stars: '250' });
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain('Change the price of “Monthly” from 9.90 CNY to 12.50 CNY · 250 Stars?');
    expect((await deps.store.plans.get(one.planId))!.priceMinor).toBe(990);
    const done = await post(a, `/console/plans/${one.planId}/price`, { _csrf: a.csrf, price: '12.50', stars: '250', confirm: 'yes' });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe('/console/plans?done=plan_price');
    expect(await deps.store.plans.get(one.planId)).toMatchObject({ priceMinor: 1250, starsPrice: 250 });
    const after = await get(a, '/console/plans?done=plan_price');
    expect(after.body).toContain('Price changed.');
    expect(priceCell(after.body, one.planId)).toBe('12.50 CNY · 250 Stars / 30 days');
    expect((await deps.store.orders.get(pending.orderId))!.amountMinor).toBe(990);
    expect((await seedOrderDirect(deps, { userId: 'dan', planId: one.planId })).order.amountMinor).toBe(1250);
    // Emptying the Stars price takes the plan's own away (derived from STARS_PER_UNIT again).
    await post(a, `/console/plans/${one.planId}/price`, { _csrf: a.csrf, price: '12.50', stars: '', confirm: 'yes' });
    expect((await deps.store.plans.get(one.planId))!.starsPrice).toBeNull();
  });

  it('the admin API changes a price with PATCH /api/plans/:id through the same use case; a bad value is 400 and changes nothing', async ({
    t,
    scene: { one },
  }) => {
    const patch = (payload: object) => t.service.app.inject({ method: 'PATCH', url: `/api/plans/${one.planId}`, headers: auth, payload });
    for (const [payload, line] of [
      [{ price: '9.999' }, 'price "9.999" has more than 2 decimal places for CNY'],
      [{ price: 0 }, 'price must be more than zero'],
      [{ starsPrice: 100001 }, 'a Stars price must be from 1 to 100000 stars'],
      [{}, 'nothing to change: give a price or a Stars price'],
    ] as const) {
      const res = await patch(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().message).toContain(line);
    }
    expect((await patch({ color: 'red' })).statusCode).toBe(400);
    expect((await t.service.deps.store.plans.get(one.planId))!.priceMinor).toBe(990);
    const ok = await patch({ price: '11', starsPrice: 90 });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ id: one.planId, priceMinor: 1100, price: '11.00', starsPrice: 90 });
    expect((await patch({ starsPrice: null })).json().starsPrice).toBeNull();
  });

  it('bad input: 9.999, 0, −5, Stars 0 or 100001, the same price, another owner’s plan: one clear line, before and after confirming, nothing saved', async ({
    t,
    scene: { one, two, ownerA, signIn, get, post },
  }) => {
    const deps = t.service.deps;
    const a = await signIn(ownerA);
    for (const [form, status, line] of [
      [{ price: '9.999' }, 400, 'price &#34;9.999&#34; has more than 2 decimal places for CNY'],
      [{ price: '0' }, 400, 'price must be more than zero'],
      [{ price: '-5' }, 400, 'price must not be negative'],
      [{ price: '9.90', stars: '0' }, 400, 'a Stars price must be from 1 to 100000 stars'],
      [{ price: '9.90', stars: '100001' }, 400, 'a Stars price must be from 1 to 100000 stars'],
      [{ price: '9.90' }, 400, 'That is already the plan’s price: nothing changed.'],
    ] as const)
      for (const confirm of [{}, { confirm: 'yes' }] as Array<Record<string, string>>) {
        const res = await post(a, `/console/plans/${one.planId}/price`, { _csrf: a.csrf, ...form, ...confirm });
        expect(res.statusCode, JSON.stringify(form)).toBe(status);
        expect(res.body, JSON.stringify(form)).toContain(line);
      }
    const theirs = await post(a, `/console/plans/${two.planId}/price`, { _csrf: a.csrf, price: '1.00', confirm: 'yes' });
    expect(theirs.statusCode).toBe(404);
    expect(theirs.body).toContain(`no plan with id ${two.planId}`);
    expect((await get(a, `/console/plans/${two.planId}`)).statusCode).toBe(404);
    expect(await deps.store.plans.get(one.planId)).toMatchObject({ priceMinor: 990, starsPrice: null });
    expect(await deps.store.plans.get(two.planId)).toMatchObject({ priceMinor: 500, starsPrice: null });
    expect((await deps.store.audit.list({ subjectType: 'plan' })).filter((e) => e.action === 'plan.price')).toEqual([]);
  });

  it('creates a plan opening several groups, with a Stars price and renewing; a renewing 45-day plan or Stars 0 is refused', async ({
    t,
    scene: { one, two, signIn, get, post },
  }) => {
    const deps = t.service.deps;
    const op = await signIn(null);
    const page = await get(op, '/console/plans');
    expect(page.body).toContain(`name="group" value="${one.groupId}"`);
    expect(page.body).toContain(`name="group" value="${two.groupId}"`);
    const base = { _csrf: op.csrf, group: [String(one.groupId), String(two.groupId)], name: 'Both rooms', price: '20', currency: 'CNY', days: '30' };
    const before = (await deps.store.plans.list()).length;
    for (const [extra, line] of [
      [{ recurring: 'yes', days: '45' }, 'a recurring plan must last 7, 30, 365 days'],
      [{ stars: '0' }, 'a Stars price must be from 1 to 100000 stars'],
      [{ stars: '100001' }, 'a Stars price must be from 1 to 100000 stars'],
      [{ group: [] as string[] }, 'a plan must open at least one group'],
      [{ trial: 'abc' }, 'trial days must be a whole number from 0 to'],
      [{ trial: '-1' }, 'trial days must be a whole number from 0 to'],
    ] as const) {
      const res = await post(op, '/console/plans', { ...base, ...extra });
      expect(res.statusCode, line).toBe(400);
      expect(res.body, line).toContain(line);
    }
    expect((await deps.store.plans.list()).length).toBe(before);
    const made = await post(op, '/console/plans', { ...base, stars: '300', recurring: 'yes' });
    expect(made.statusCode).toBe(303);
    const plan = (await deps.store.plans.list()).find((p) => p.name === 'Both rooms')!;
    expect(plan).toMatchObject({
      priceMinor: 2000,
      currency: 'CNY',
      starsPrice: 300,
      recurring: true,
      groupIds: [one.groupId, two.groupId].sort((x, y) => x - y),
    });
    expect(priceCell((await get(op, '/console/plans')).body, plan.id)).toBe('20.00 CNY · 300 Stars / 30 days');
    // A free trial first, as /addplan … trial=3.
    expect((await post(op, '/console/plans', { ...base, name: 'Try first', trial: '3' })).statusCode).toBe(303);
    expect((await deps.store.plans.list()).find((p) => p.name === 'Try first')).toMatchObject({ trialDays: 3 });
    expect((await get(op, '/console/plans')).body).toContain('3 days free first');
  });

  it('bad input: a currency no enabled payment provider takes is one clear line (console, admin API, /addplan), and nothing is saved', async ({
    t,
    scene: { one, ownerA, signIn, post },
  }) => {
    const deps = t.service.deps;
    deps.providers.clear();
    deps.providers.set('wechatpay', rail('wechatpay'));
    const a = await signIn(ownerA);
    const before = (await deps.store.plans.list()).length;
    const res = await post(a, '/console/plans', { _csrf: a.csrf, group: String(one.groupId), name: 'Dollars', price: '5', currency: 'USD', days: '30' });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('no enabled payment provider takes USD (enabled: wechatpay; they take CNY)');
    // The same rule, once in app/, for the admin API and the chat's /addplan.
    const api = await t.service.app.inject({
      method: 'POST',
      url: '/api/plans',
      headers: auth,
      payload: { groupIds: [one.groupId], name: 'Dollars', price: '5', currency: 'USD', days: 30 },
    });
    expect(api.statusCode).toBe(400);
    expect(api.json().message).toContain('no enabled payment provider takes USD');
    const chat = await createConversation(deps).handle({ platform: 'playground', userId: 'owner-a', text: `/addplan ${one.groupId} 5 USD 30 Dollars` });
    expect(JSON.stringify(chat)).toContain('no enabled payment provider takes USD');
    expect((await deps.store.plans.list()).length).toBe(before);
    // Nor can a price change keep a plan no rail sells: CNY is fine, so this one goes through.
    expect((await post(a, `/console/plans/${one.planId}/price`, { _csrf: a.csrf, price: '8.80', confirm: 'yes' })).statusCode).toBe(303);
  });
});
