// Issue 21 with Alipay through the whole service, against the strict Alipay emulator: a phone browser pays by
// alipay.trade.wap.pay (a signed RSA2 redirect the emulator's cashier verifies), an Alipay order opened inside
// WeChat gets the "open in your browser" hint with the QR, a desktop the QR; each sale ends with an active member.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SECOND_MS } from '../../src/domain/time.ts';
import { AlipayEmulator, alipayTestKeys } from '../fakes/alipay-emulator.ts';
import type { FakeClock } from '../fakes/fake-clock.ts';
import { DIALECTS } from '../helpers/db.ts';
import { auth, startTestService, type TestService } from '../helpers/service.ts';
import { UA } from '../helpers/user-agents.ts';

const keys = alipayTestKeys();
afterAll(() => keys.cleanup());

describe.each(DIALECTS)('paying on a phone with Alipay (%s)', (dialect) => {
  let t: TestService;
  let emu: AlipayEmulator;
  let serviceUrl = '';
  let clock: FakeClock | undefined;

  async function start(extra: Record<string, string> = {}) {
    emu = await AlipayEmulator.start({
      appId: keys.appId,
      appPublicKeyPem: keys.app.publicKeyPem,
      alipayPrivateKeyPem: keys.alipay.privateKeyPem,
      clock: { now: () => clock!.now() },
      maxSkewMs: 999,
      rewriteNotifyUrl: (url) => url.replace(/^http:\/\/gk\.test/, serviceUrl),
    });
    t = await startTestService(dialect, {
      PAYMENT_PROVIDERS: 'alipay',
      ALIPAY_APP_ID: keys.appId,
      ALIPAY_PRIVATE_KEY: keys.app.privateKeyPath,
      ALIPAY_PUBLIC_KEY: keys.alipay.publicKeyPath,
      ALIPAY_GATEWAY: emu.gatewayUrl,
      ALIPAY_WAP: '1',
      ...extra,
    });
    clock = t.clock;
    serviceUrl = await t.service.app.listen({ port: 0, host: '127.0.0.1' });
  }
  afterEach(async () => {
    await t.close();
    await emu.close();
  });

  const api = {
    post: (url: string, payload: object = {}) => t.service.app.inject({ method: 'POST', url, headers: auth, payload }),
    get: (url: string) => t.service.app.inject({ method: 'GET', url, headers: auth }),
  };
  const page = (url: string, ua: string) => t.service.app.inject({ method: 'GET', url, headers: { 'user-agent': ua, 'accept-language': 'en' } });
  const order = async (id: string) => (await t.service.deps.store.orders.get(id))!;
  const members = async () => (await api.get('/api/members')).json().items as Array<{ platformUserId: string; status: string }>;

  let planId = 0;
  beforeEach(() => {
    planId = 0;
  });
  async function checkout(userId = 'alice') {
    if (!planId) {
      const g = (await api.post('/api/groups', { platform: 'playground', chatId: 'room-1', title: 'Readers club' })).json().id;
      planId = (await api.post('/api/plans', { groupIds: [g], name: '月度会员', price: '9.90', currency: 'CNY', days: 30 })).json().id;
    }
    const res = await api.post('/api/checkouts', { platform: 'playground', userId, planId, provider: 'alipay' });
    expect(res.statusCode, res.body).toBe(201);
    return order(res.json().orderId);
  }

  it('a phone browser pays by Alipay WAP: a signed redirect to the gateway, the cashier verifies it, the notification grants; active', async () => {
    await start();
    const o = await checkout();
    const phone = await page(`/pay/${o.id}`, UA.iphoneSafari);
    expect(phone.body).toContain(`href="/pay/${o.id}/alipay-wap" data-testid="pay-here" data-rail="alipay_wap"`);
    expect(phone.body).toContain('data-testid="show-qr"');

    const go = await page(`/pay/${o.id}/alipay-wap`, UA.iphoneSafari);
    expect(go.statusCode, go.body).toBe(302);
    const location = new URL(go.headers.location as string);
    expect(`${location.origin}${location.pathname}`).toBe(emu.gatewayUrl);
    const q = location.searchParams;
    expect(q.get('method')).toBe('alipay.trade.wap.pay');
    expect(q.get('sign_type')).toBe('RSA2');
    expect(q.get('return_url')).toBe(`http://gk.test/pay/${o.id}`);
    expect(q.get('notify_url')).toBe('http://gk.test/webhooks/alipay');
    const biz = JSON.parse(q.get('biz_content')!) as Record<string, string>;
    expect(biz).toMatchObject({ product_code: 'QUICK_WAP_WAY', quit_url: `http://gk.test/pay/${o.id}`, total_amount: '9.90' });
    expect(biz.out_trade_no).not.toBe(o.outTradeNo);

    // The browser opens Alipay's cashier (over real HTTP): it verifies our RSA2 signature.
    const cashier = await fetch(location.toString());
    expect(cashier.status).toBe(200);
    expect(await cashier.text()).toContain(`data-out-trade-no="${biz.out_trade_no}"`);
    expect(emu.trade(biz.out_trade_no!).returnUrl).toBe(`http://gk.test/pay/${o.id}`);

    // Tampered on the way (the amount): the cashier refuses it.
    const tampered = new URL(location);
    tampered.searchParams.set('biz_content', JSON.stringify({ ...biz, total_amount: '0.01' }));
    const refused = await fetch(tampered.toString());
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('isv.invalid-signature');

    await t.clock.advance(30 * SECOND_MS);
    emu.pay(biz.out_trade_no!);
    const d = await emu.deliver(biz.out_trade_no!);
    expect(d.body).toBe('success');
    expect(await order(o.id)).toMatchObject({ status: 'paid' });
    expect(await members()).toEqual([expect.objectContaining({ platformUserId: 'alice', status: 'active' })]);
    await t.service.worker.drain();
    // The QR trade is closed at Alipay (never scanned: "not exist", and its QR stops working).
    expect(emu.callsOf('alipay.trade.close').map((c) => JSON.parse(c.params.biz_content!).out_trade_no)).toEqual([o.outTradeNo]);
    expect(emu.trade(o.outTradeNo).locked).toBe(true);
  });

  it('an Alipay order opened inside WeChat: the "open in your browser" hint with the QR below; a desktop gets the QR; QR pays, active', async () => {
    await start();
    const o = await checkout();
    const wechat = await page(`/pay/${o.id}`, UA.wechat);
    expect(wechat.statusCode).toBe(200);
    expect(wechat.body).toContain('data-testid="open-in-browser"');
    expect(wechat.body).toContain('Open in browser');
    expect(wechat.body).toContain('data-testid="qr"');
    const desktop = await page(`/pay/${o.id}`, UA.desktop);
    expect(desktop.body).toContain('data-testid="qr"');
    expect(desktop.body).not.toContain('data-testid="pay-here"');
    expect(desktop.body).not.toContain('open-in-browser');
    expect(emu.callsOf('alipay.trade.wap.pay')).toEqual([]);

    await t.clock.advance(20 * SECOND_MS);
    emu.pay(o.outTradeNo);
    expect((await emu.deliver(o.outTradeNo)).body).toBe('success');
    expect(await members()).toEqual([expect.objectContaining({ status: 'active' })]);
  });

  it('without ALIPAY_WAP a phone browser gets the QR, and the WAP route refuses in one line', async () => {
    await start({ ALIPAY_WAP: '0' });
    const o = await checkout();
    const phone = await page(`/pay/${o.id}`, UA.android);
    expect(phone.body).toContain('data-testid="qr"');
    expect(phone.body).not.toContain('data-testid="pay-here"');
    const go = await page(`/pay/${o.id}/alipay-wap`, UA.android);
    expect(go.statusCode).toBe(400);
    expect(go.json()).toEqual({ error: 'invalid_input', message: 'this order cannot be paid by alipay_wap' });
  });

  it('QR and WAP both paid: one period, the WAP payment refunded through alipay.trade.refund, the owner told', async () => {
    await start();
    const o = await checkout();
    const go = await page(`/pay/${o.id}/alipay-wap`, UA.android);
    const wapNo = (JSON.parse(new URL(go.headers.location as string).searchParams.get('biz_content')!) as { out_trade_no: string }).out_trade_no;
    expect((await fetch(go.headers.location as string)).status).toBe(200); // the browser opens the cashier
    await t.clock.advance(10 * SECOND_MS);
    emu.pay(o.outTradeNo);
    emu.pay(wapNo);
    expect((await emu.deliver(o.outTradeNo)).body).toBe('success');
    expect((await emu.deliver(wapNo)).body).toBe('success');
    await t.service.worker.drain();
    const periods = await t.db.opened.db.selectFrom('membership_periods').selectAll().execute();
    expect(periods).toHaveLength(1);
    const refunds = emu.callsOf('alipay.trade.refund').map((c) => JSON.parse(c.params.biz_content!) as { out_trade_no: string; refund_amount: string });
    expect(refunds).toEqual([expect.objectContaining({ out_trade_no: wapNo, refund_amount: '9.90' })]);
    const wap = (await t.service.deps.store.attempts.listForOrder(o.id)).find((a) => a.tradeNo === wapNo)!;
    expect(wap.refundedAt).not.toBeNull();
    expect(await members()).toEqual([expect.objectContaining({ status: 'active' })]);
  });

  it('a second payment the provider will not refund: left for the owner (alert and audit), nothing else changes', async () => {
    await start();
    const o = await checkout();
    const go = await page(`/pay/${o.id}/alipay-wap`, UA.android);
    const wapNo = (JSON.parse(new URL(go.headers.location as string).searchParams.get('biz_content')!) as { out_trade_no: string }).out_trade_no;
    expect((await fetch(go.headers.location as string)).status).toBe(200);
    await t.clock.advance(10 * SECOND_MS);
    emu.pay(wapNo);
    emu.pay(o.outTradeNo);
    expect((await emu.deliver(wapNo)).body).toBe('success');
    expect((await emu.deliver(o.outTradeNo)).body).toBe('success');
    emu.scriptNext('alipay.trade.refund', { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.SELLER_BALANCE_NOT_ENOUGH', sub_msg: '卖家余额不足' });
    await t.service.worker.drain();
    const qr = (await t.service.deps.store.attempts.listForOrder(o.id)).find((a) => a.tradeNo === o.outTradeNo)!;
    expect(qr).toMatchObject({ refundedAt: null, amountMinor: 990 });
    expect(qr.outRefundNo).not.toBeNull();
    const audit = await t.service.deps.store.audit.list({ subjectType: 'order', subjectId: o.id });
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['order.second_payment', 'order.second_payment_refund_refused']));
    const alerts = (await t.service.deps.store.jobs.list({ kind: 'alert_owners' })).map((j) => (j.payload as { message: { key: string } }).message.key);
    expect(alerts).toEqual(expect.arrayContaining(['owner.second_payment', 'owner.refund_refused']));
    expect(await order(o.id)).toMatchObject({ status: 'paid' });
    expect(await t.db.opened.db.selectFrom('membership_periods').selectAll().execute()).toHaveLength(1);
    expect(await members()).toEqual([expect.objectContaining({ status: 'active' })]);
  });
});
