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

  describe('each state says only what is true in it', () => {
    const page = (orderId: string, lang = 'en') => inject({ method: 'GET', url: `/pay/${orderId}`, headers: { 'accept-language': lang } });

    it('pending: the QR, "open until" and the test pay button; no mention of a link when there is none', async () => {
      const { orderId } = await seedOrder(t.service.app);
      const r = await page(orderId);
      expect(r.statusCode).toBe(200);
      for (const id of ['qr', 'open-until', 'dev-pay']) expect(r.body).toContain(`data-testid="${id}"`);
      expect(r.body).toContain('Scan the code with your payment app.');
      expect(r.body).not.toMatch(/link below/);
      expect(r.body).not.toContain('data-testid="pay-link"');
      expect(r.body).not.toContain('data-testid="next"');
      // While pending it watches for a change.
      expect(r.body).toContain(`/pay/${orderId}/status`);
    });

    it('pending with a provider link: the link is there, and so are the words that point at it', async () => {
      const { orderId } = await seedOrder(t.service.app);
      await t.service.deps.store.orders.setCheckout(
        orderId,
        { qrContent: 'weixin://wxpay/bizpayurl?pr=abc', payUrl: 'https://pay.example/abc' },
        t.clock.now(),
      );
      const r = await page(orderId);
      expect(r.body).toContain('data-testid="pay-link"');
      expect(r.body).toContain('href="https://pay.example/abc"');
      expect(r.body).toContain('or open the link below');
    });

    it('expired: "This order has expired" and nothing that invites a payment; a late provider payment is still honoured', async () => {
      const { orderId } = await seedOrder(t.service.app);
      t.clock.advance(2 * 3_600_000);
      await t.service.scheduler.tick();
      expect((await t.service.deps.store.orders.get(orderId))!.status).toBe('expired');
      const r = await page(orderId);
      expect(r.statusCode).toBe(200);
      expect(r.body).toContain('data-status="expired"');
      expect(r.body).toContain('This order has expired.');
      for (const id of ['dev-pay', 'qr', 'open-until', 'pay-link']) expect(r.body, id).not.toContain(`data-testid="${id}"`);
      expect(r.body).not.toMatch(/Pay now|Scan the code|open until/);
      expect(r.body).not.toContain(`/pay/${orderId}/status`);
      // The provider's notification for it still counts (here: the dev provider's, as a late one would come).
      const late = await inject({ method: 'POST', url: `/pay/${orderId}/dev-pay`, headers: { accept: 'application/json' } });
      expect(late.json()).toMatchObject({ status: 'paid' });
    });

    it('paid: no QR and no "open until"; it says what happens next', async () => {
      const { orderId } = await seedOrder(t.service.app);
      await inject({ method: 'POST', url: `/pay/${orderId}/dev-pay`, headers: { accept: 'application/json' } });
      const r = await page(orderId);
      expect(r.body).toContain('data-status="paid"');
      for (const id of ['dev-pay', 'qr', 'open-until']) expect(r.body, id).not.toContain(`data-testid="${id}"`);
      expect(r.body).toContain('data-testid="next"');
      expect(r.body).toContain('You will get your invite in the chat.');
      const zh = await page(orderId, 'zh-CN,zh;q=0.9');
      expect(zh.body).toContain('入群邀请会发到聊天里');
    });

    it("no Accept-Language: the page speaks the order's locale", async () => {
      const { orderId } = await seedOrder(t.service.app, { userId: 'mei' });
      await t.service.deps.store.accounts.upsert({ platform: 'playground', platformUserId: 'mei', locale: 'zh-CN' }, t.clock.now());
      const r = await inject({ method: 'GET', url: `/pay/${orderId}` });
      expect(r.body).toContain('<html lang="zh-CN">');
      // A language we have named later in the header still wins over the order's.
      const fr = await inject({ method: 'GET', url: `/pay/${orderId}`, headers: { 'accept-language': 'fr-FR,en;q=0.5' } });
      expect(fr.body).toContain('<html lang="en">');
    });

    it("unknown order: a styled 404 page in the reader's language", async () => {
      const en = await page('AAAAAAAAAAAAAAAAAAAAAA', 'en-GB');
      expect(en.statusCode).toBe(404);
      expect(en.headers['content-type']).toContain('text/html');
      expect(en.body).toContain('<html lang="en">');
      expect(en.body).toContain('name="viewport"');
      expect(en.body).toContain('<style>');
      expect(en.body).toContain('No such order.');
      const zh = await page('short', 'zh-TW,zh;q=0.8');
      expect(zh.statusCode).toBe(404);
      expect(zh.body).toContain('<html lang="zh-CN">');
      expect(zh.body).toContain('订单不存在');
    });

    it('a favicon: /favicon.ico answers with an icon, and the pages link one', async () => {
      const icon = await inject({ method: 'GET', url: '/favicon.ico' });
      expect(icon.statusCode).toBe(200);
      expect(icon.headers['content-type']).toContain('image/svg+xml');
      expect(icon.body).toMatch(/^<svg /);
      const { orderId } = await seedOrder(t.service.app);
      expect((await page(orderId)).body).toContain('<link rel="icon" href="data:image/svg+xml,');
      expect((await page('AAAAAAAAAAAAAAAAAAAAAA')).body).toContain('<link rel="icon" href="data:image/svg+xml,');
    });
  });
});
