import { describe, expect } from 'vitest';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import type { TestService } from '../helpers/service.ts';
import { serviceTest } from '../helpers/service-fixture.ts';

describe.each(DIALECTS)('reminders, order time-outs and reconcile (%s)', (dialect) => {
  const it = serviceTest(dialect, { GRACE_HOURS: '24', REMINDER_OFFSETS_HOURS: '72,24,0' });

  const tickAndDrain = async (t: TestService) => {
    await t.service.scheduler.tick();
    await t.service.worker.drain();
  };
  const texts = (t: TestService) => t.gateway.of('text').map((c) => c.text);

  it('reminds 3 days and 1 day before expiry and at expiry with the grace left, each once, saying how to renew', async ({ t, deps }) => {
    const pay = (orderId: string) => payDevDirect(deps, orderId);
    const { orderId } = await seedOrderDirect(deps, { days: 10 });
    await pay(orderId);
    await tickAndDrain(t);
    const baseline = texts(t).length;
    await t.clock.advance(6 * DAY_MS);
    await tickAndDrain(t);
    expect(texts(t).length).toBe(baseline);

    await t.clock.advance(DAY_MS + MINUTE_MS); // 3 days left
    await tickAndDrain(t);
    await tickAndDrain(t);
    expect(texts(t).slice(baseline)).toEqual([
      expect.stringMatching(/ends on \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} \(UTC\+8\): 3 days left\. Send \/renew/),
    ]);

    await t.clock.advance(2 * DAY_MS); // 1 day left
    await tickAndDrain(t);
    expect(texts(t).slice(baseline)).toHaveLength(2);
    expect(texts(t).at(-1)).toMatch(/: 1 day left\./);

    await t.clock.advance(DAY_MS); // expired: grace
    await tickAndDrain(t);
    await tickAndDrain(t);
    expect(texts(t).slice(baseline)).toHaveLength(3);
    expect(texts(t).at(-1)).toMatch(/has ended\. You can stay until .*\/renew/);
    expect(
      t.gateway
        .of('text')
        .slice(baseline)
        .every((c) => c.lane === 'reminder'),
    ).toBe(true);
  });

  it('a renewal restarts reminders for the new period, and a queued reminder for the old expiry is dropped', async ({ t, deps }) => {
    const pay = (orderId: string) => payDevDirect(deps, orderId);
    const first = await seedOrderDirect(deps, { userId: 'r', days: 10 });
    await pay(first.orderId);
    await tickAndDrain(t);
    const baseline = texts(t).length;
    await t.clock.advance(7 * DAY_MS + MINUTE_MS);
    await t.service.scheduler.tick(); // 3-day reminder queued, not yet sent
    const renewal = await seedOrderDirect(deps, { userId: 'r', planId: first.planId });
    await pay(renewal.orderId);
    await t.service.worker.drain();
    const sent = texts(t).slice(baseline);
    expect(sent.filter((s) => /left/.test(s))).toHaveLength(0);
    expect(sent.filter((s) => /Payment received/.test(s))).toHaveLength(1);
    // The new expiry is 13 days away: its own 3-day reminder comes 10 days later.
    await t.clock.advance(10 * DAY_MS + MINUTE_MS);
    await tickAndDrain(t);
    expect(
      texts(t)
        .slice(baseline)
        .filter((s) => /3 days left/.test(s)),
    ).toHaveLength(1);
  });

  it('expires pending orders after 15 minutes and closes them at the provider; a late payment is still honoured', async ({ t, deps }) => {
    const pay = (orderId: string) => payDevDirect(deps, orderId);
    const { orderId } = await seedOrderDirect(deps);
    const dev = t.service.devProvider!;
    await t.clock.advance(14 * MINUTE_MS);
    await tickAndDrain(t);
    expect((await t.service.deps.store.orders.get(orderId))!.status).toBe('pending');
    await t.clock.advance(2 * MINUTE_MS);
    await tickAndDrain(t);
    const order = (await t.service.deps.store.orders.get(orderId))!;
    expect(order.status).toBe('expired');
    expect(await dev.query(order)).toEqual({ state: 'closed' });
    expect((await t.service.deps.store.jobs.list({ kind: 'close_order' }))[0]!.status).toBe('done');
    expect((await pay(orderId)).status).toBe('paid');
  });

  it('reconcile finds a payment whose notification was lost, and the late notification changes nothing', async ({ t, deps }) => {
    const { orderId } = await seedOrderDirect(deps, { userId: 'lost' });
    const dev = t.service.devProvider!;
    const order = (await t.service.deps.store.orders.get(orderId))!;
    const lost = dev.pay(order); // money taken; notification never delivered
    await t.clock.advance(3 * MINUTE_MS);
    await tickAndDrain(t);
    expect((await t.service.deps.store.orders.get(orderId))!.status).toBe('paid');
    const members = await t.service.deps.store.memberships.list({ accountId: order.accountId });
    expect(members.map((m) => m.status)).toEqual(['active']);
    expect(t.gateway.of('invite')).toHaveLength(1);
    // The notification finally arrives (signed now, as a provider retry would be).
    const body = lost.body.toString();
    const late = await t.service.app.inject({
      method: 'POST',
      url: '/webhooks/dev',
      headers: { 'content-type': 'application/json', 'x-gatekeeper-dev-signature': dev.sign(body) },
      payload: body,
    });
    expect(late.statusCode).toBe(200);
    const periods = await t.db.opened.db.selectFrom('membership_periods').selectAll().where('order_id', '=', orderId).execute();
    expect(periods).toHaveLength(1);
    const charges = await t.db.opened.db.selectFrom('payments').selectAll().where('order_id', '=', orderId).execute();
    expect(charges).toHaveLength(1);
  });

  it('reconcile sends a result that disagrees with our records to review', async ({ t, deps }) => {
    const { orderId } = await seedOrderDirect(deps, { userId: 'odd' });
    const order = (await t.service.deps.store.orders.get(orderId))!;
    t.service.devProvider!.pay(order, { amount_minor: 1 });
    await t.clock.advance(3 * MINUTE_MS);
    await tickAndDrain(t);
    const after = (await t.service.deps.store.orders.get(orderId))!;
    expect(after.status).toBe('review');
    expect(after.reviewReason).toMatch(/amount mismatch/);
    expect(t.gateway.of('invite')).toHaveLength(0);
  });

  it('asks about each order at most once per interval however often the clock ticks', async ({ t, deps }) => {
    await seedOrderDirect(deps, { userId: 'q' });
    await t.clock.advance(3 * MINUTE_MS);
    for (let i = 0; i < 5; i++) await t.service.scheduler.tick();
    expect((await t.service.deps.store.jobs.list({ kind: 'reconcile_order' })).length).toBe(1);
    await t.clock.advance(HOUR_MS * 3);
    await tickAndDrain(t);
    // Expired over an hour ago: no longer asked about.
    const before = (await t.service.deps.store.jobs.list({ kind: 'reconcile_order' })).length;
    await t.clock.advance(HOUR_MS);
    await tickAndDrain(t);
    expect((await t.service.deps.store.jobs.list({ kind: 'reconcile_order' })).length).toBe(before);
  });
});
