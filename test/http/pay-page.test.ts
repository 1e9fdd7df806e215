import type { InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/db.ts';
import { seedOrder } from '../helpers/fixtures.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

describe.each(DIALECTS)('checkout page (%s)', (dialect) => {
  let t: TestService;
  beforeEach(async () => {
    t = await startTestService(dialect);
  });
  afterEach(async () => {
    await t.close();
  });
  const inject = (opts: InjectOptions) => t.service.app.inject(opts);

  it("shows plan, amount, QR and live status, in the reader's language", async () => {
    const { orderId } = await seedOrder(t.service.app);
    const en = await inject({ method: 'GET', url: `/pay/${orderId}`, headers: { 'accept-language': 'en-US,en;q=0.9' } });
    expect(en.statusCode).toBe(200);
    expect(en.headers['content-type']).toContain('text/html');
    expect(en.body).toContain('Pay for Monthly');
    expect(en.body).toContain('name="viewport"');
    expect(en.body).toContain('data-status="pending"');
    const zh = await inject({ method: 'GET', url: `/pay/${orderId}`, headers: { 'accept-language': 'zh-CN' } });
    expect(zh.body).toContain('支付「Monthly」');
    const status = await inject({ method: 'GET', url: `/pay/${orderId}/status` });
    expect(status.json().status).toBe('pending');
  });

  it('writes the amount and the open-until time as each reader expects, the time with its zone', async () => {
    const { orderId } = await seedOrder(t.service.app);
    const en = await inject({ method: 'GET', url: `/pay/${orderId}`, headers: { 'accept-language': 'en' } });
    expect(en.body).toContain('data-testid="amount">9.90 CNY<');
    expect(en.body).toMatch(/This order is open until \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} \(UTC\+8\)\./);
    const zh = await inject({ method: 'GET', url: `/pay/${orderId}`, headers: { 'accept-language': 'zh-CN' } });
    expect(zh.body).toContain('data-testid="amount">¥9.90<');
    expect(zh.body).toMatch(/订单有效期至 \d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2} \(UTC\+8\)。/);
  });

  it('the QR encodes the pay page URL', async () => {
    const { orderId } = await seedOrder(t.service.app);
    const order = (await t.service.deps.store.orders.get(orderId))!;
    expect(order.checkoutQr).toBe(`http://gk.test/pay/${orderId}`);
  });

  it('escapes plan names', async () => {
    const g = (
      await inject({
        method: 'POST',
        url: '/api/groups',
        headers: { authorization: 'Bearer test-admin-token-0123456789' },
        payload: { platform: 'playground', chatId: 'x', title: 'X' },
      })
    ).json();
    const auth = { authorization: 'Bearer test-admin-token-0123456789' };
    const p = (
      await inject({
        method: 'POST',
        url: '/api/plans',
        headers: auth,
        payload: { groupIds: [g.id], name: '<script>alert(1)</script>', price: '1', currency: 'CNY', days: 1 },
      })
    ).json();
    const c = (
      await inject({ method: 'POST', url: '/api/checkouts', headers: auth, payload: { platform: 'playground', userId: 'u', planId: p.id, provider: 'dev' } })
    ).json();
    const page = await inject({ method: 'GET', url: `/pay/${c.orderId}` });
    expect(page.body).not.toContain('<script>alert(1)</script>');
    expect(page.body).toContain('&#60;script&#62;');
  });

  it('404s unknown and malformed order ids without a stack trace', async () => {
    for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', 'short', '%00']) {
      for (const suffix of ['', '/status', '/qr.png']) {
        const res = await inject({ method: 'GET', url: `/pay/${id}${suffix}` });
        expect(res.statusCode, `${id}${suffix}`).toBe(404);
        expect(res.body).not.toMatch(/at .*\.ts:\d+/);
      }
    }
    const res = await inject({ method: 'POST', url: '/pay/AAAAAAAAAAAAAAAAAAAAAA/dev-pay' });
    expect(res.statusCode).toBe(404);
  });

  it('paying twice grants one period', async () => {
    const { orderId } = await seedOrder(t.service.app);
    const first = await inject({ method: 'POST', url: `/pay/${orderId}/dev-pay`, headers: { accept: 'application/json' } });
    expect(first.json()).toEqual({ outcome: 'granted', status: 'paid' });
    const second = await inject({ method: 'POST', url: `/pay/${orderId}/dev-pay`, headers: { accept: 'application/json' } });
    expect(second.json()).toEqual({ outcome: 'already_paid', status: 'paid' });
    const periods = await t.db.opened.db.selectFrom('membership_periods').selectAll().execute();
    expect(periods).toHaveLength(1);
    const page = await inject({ method: 'GET', url: `/pay/${orderId}` });
    expect(page.body).not.toContain('dev-pay');
  });
});
