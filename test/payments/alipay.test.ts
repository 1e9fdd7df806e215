// AlipayProvider against the strict loopback emulator: precreate, query, close, refund, and typed
// failures. The official alipay-sdk talks to the same emulator as an independent client, so the
// emulator's checks are themselves checked by code we did not write.
import { testPlan } from '../helpers/fixtures.ts';
import { createServer } from 'node:net';
import { AlipaySdk } from 'alipay-sdk';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Order } from '../../src/app/model.ts';
import type { AlipayConfig } from '../../src/config.ts';
import { ProviderRejectedError, ProviderUnreachableError } from '../../src/domain/errors.ts';
import { newOutTradeNo } from '../../src/domain/ids.ts';
import { MINUTE_MS } from '../../src/domain/time.ts';
import { AlipayBusinessError } from '../../src/payments/alipay/alipay-gateway.ts';
import { AlipayProvider } from '../../src/payments/alipay/alipay-provider.ts';
import { AlipayEmulator, alipayTestKeys, beijing, rsaKeyPair } from '../fakes/alipay-emulator.ts';
import { FakeClock } from '../fakes/fake-clock.ts';

const keys = alipayTestKeys();
afterAll(() => keys.cleanup());

const plan = testPlan({ name: '月度会员 Monthly' });

describe('AlipayProvider against the emulator', () => {
  let clock: FakeClock;
  let emu: AlipayEmulator;
  let provider: AlipayProvider;
  let config: AlipayConfig;

  beforeEach(async () => {
    clock = new FakeClock();
    emu = await AlipayEmulator.start({
      appId: keys.appId,
      appPublicKeyPem: keys.app.publicKeyPem,
      alipayPrivateKeyPem: keys.alipay.privateKeyPem,
      clock,
      maxSkewMs: 999,
    }); // timestamps have whole seconds
    config = {
      appId: keys.appId,
      privateKeyPem: keys.app.privateKeyPem,
      alipayPublicKeyPem: keys.alipay.publicKeyPem,
      gateway: emu.gatewayUrl,
      sellerId: null,
    };
    provider = new AlipayProvider(config, clock, { timeoutMs: 1000 });
  });
  afterEach(async () => {
    await emu.close();
  });

  const makeOrder = (over: Partial<Order> = {}): Order => ({
    id: 'order-1',
    outTradeNo: newOutTradeNo(),
    accountId: 1,
    planId: 1,
    amountMinor: 990,
    currency: 'CNY',
    provider: 'alipay',
    status: 'pending',
    createdAt: clock.now(),
    updatedAt: clock.now(),
    expiresAt: clock.now() + 15 * MINUTE_MS,
    paidAt: null,
    providerTxnId: null,
    reviewReason: null,
    checkoutQr: null,
    checkoutUrl: null,
    outRefundNo: null,
    refundReason: null,
    refundedAt: null,
    ...over,
  });
  const checkout = (order: Order) =>
    provider.createCheckout({ order, plan, notifyUrl: 'http://gk.test/webhooks/alipay', payPageUrl: `http://gk.test/pay/${order.id}` });
  const rejected = async (p: Promise<unknown>) => {
    const e = await p.then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ProviderRejectedError);
    return e as AlipayBusinessError;
  };
  const unreachable = async (p: Promise<unknown>) => {
    const e = await p.then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ProviderUnreachableError);
    return e as ProviderUnreachableError;
  };

  it('precreates with a signed request in Beijing time and returns the QR', async () => {
    const order = makeOrder();
    const co = await checkout(order);
    expect(co.qrContent).toMatch(/^https:\/\/qr\.alipay\.com\/bax0[0-9a-f]{20}$/);
    expect(co.payUrl).toBe('http://gk.test/pay/order-1');
    const [req] = emu.callsOf('alipay.trade.precreate');
    expect(req!.answer).toBe('10000');
    expect(req!.params).toMatchObject({
      app_id: keys.appId,
      charset: 'utf-8',
      sign_type: 'RSA2',
      version: '1.0',
      format: 'JSON',
      timestamp: '2026-01-01 08:00:00',
      notify_url: 'http://gk.test/webhooks/alipay',
    });
    expect(JSON.parse(req!.params.biz_content!)).toEqual({
      out_trade_no: order.outTradeNo,
      total_amount: '9.90',
      subject: '月度会员 Monthly',
      product_code: 'FACE_TO_FACE_PAYMENT',
      timeout_express: '15m',
    });
    expect(emu.trade(order.outTradeNo)).toMatchObject({ totalFen: 990, status: null, expiresAt: clock.now() + 15 * MINUTE_MS });
    // Asking again for the same order gives the same QR.
    expect((await checkout(order)).qrContent).toBe(co.qrContent);
  });

  it('converts amounts exactly and sends seller_id when configured', async () => {
    const sellerProvider = new AlipayProvider({ ...config, sellerId: emu.sellerId }, clock);
    for (const [fen, yuan] of [
      [1, '0.01'],
      [7, '0.07'],
      [100_000, '1000.00'],
      [123_456_789, '1234567.89'],
    ] as const) {
      const order = makeOrder({ amountMinor: fen });
      await sellerProvider.createCheckout({ order, plan, notifyUrl: 'http://gk.test/webhooks/alipay', payPageUrl: 'http://gk.test/pay/x' });
      const biz = JSON.parse(emu.callsOf('alipay.trade.precreate').at(-1)!.params.biz_content!);
      expect(biz.total_amount).toBe(yuan);
      expect(biz.seller_id).toBe(emu.sellerId);
      expect(emu.trade(order.outTradeNo).totalFen).toBe(fen);
    }
  });

  it('is refused (signed 40002 isv.invalid-signature) when signing with a key Alipay does not know', async () => {
    const wrongKey = new AlipayProvider({ ...config, privateKeyPem: rsaKeyPair().privateKeyPem }, clock);
    const e = await rejected(
      wrongKey.createCheckout({ order: makeOrder(), plan, notifyUrl: 'http://gk.test/webhooks/alipay', payPageUrl: 'http://gk.test/pay/x' }),
    );
    expect(e).toBeInstanceOf(AlipayBusinessError);
    expect([e.code, e.subCode]).toEqual(['40002', 'isv.invalid-signature']);
    expect(emu.callsOf('alipay.trade.precreate').at(-1)!.answer).toBe('40002 isv.invalid-signature');
  });

  it('is refused for a timestamp off the gateway clock (the emulator checks our Beijing time to the second)', async () => {
    const skewed = new AlipayProvider(config, { now: () => clock.now() + 1000, sleep: (ms) => clock.sleep(ms) });
    const e = await rejected(
      skewed.createCheckout({ order: makeOrder(), plan, notifyUrl: 'http://gk.test/webhooks/alipay', payPageUrl: 'http://gk.test/pay/x' }),
    );
    expect(e.subCode).toBe('isv.invalid-timestamp');
  });

  it('queries: not scanned → pending while the QR lives, unknown after; waiting → pending; paid → a full paid event; closed', async () => {
    const order = makeOrder();
    await checkout(order);
    expect(await provider.query(order)).toEqual({ state: 'pending' });
    emu.scan(order.outTradeNo);
    expect(await provider.query(order)).toEqual({ state: 'pending' });
    await clock.advance(30_000);
    const paidAt = clock.now();
    const trade = emu.pay(order.outTradeNo);
    await clock.advance(60_000);
    expect(await provider.query(order)).toEqual({
      state: 'paid',
      event: {
        type: 'paid',
        eventId: `query:${trade.tradeNo}`,
        outTradeNo: order.outTradeNo,
        providerTxnId: trade.tradeNo,
        amountMinor: 990,
        currency: 'CNY',
        merchantId: keys.appId,
        paidAt,
      },
    });
    emu.finish(order.outTradeNo);
    expect(await provider.query(order)).toMatchObject({ state: 'paid', event: { providerTxnId: trade.tradeNo, paidAt } });

    const never = makeOrder();
    await checkout(never);
    await clock.advance(16 * MINUTE_MS);
    expect(await provider.query(never)).toEqual({ state: 'pending' }); // within the minute timeout_express may add
    await clock.advance(1);
    expect(await provider.query(never)).toEqual({ state: 'unknown' });

    const abandoned = makeOrder();
    await checkout(abandoned);
    emu.scan(abandoned.outTradeNo);
    await clock.advance(16 * MINUTE_MS);
    expect(await provider.query(abandoned)).toEqual({ state: 'closed' });
  });

  it('closes: a waiting trade closes, a never-scanned QR stops working, a paid trade refuses', async () => {
    const waiting = makeOrder();
    await checkout(waiting);
    emu.scan(waiting.outTradeNo);
    await provider.close(waiting);
    expect(emu.trade(waiting.outTradeNo).status).toBe('TRADE_CLOSED');
    await provider.close(waiting); // closing twice is fine

    const unscanned = makeOrder();
    await checkout(unscanned);
    await provider.close(unscanned);
    expect(emu.callsOf('alipay.trade.close').at(-1)!.answer).toBe('40004 ACQ.TRADE_NOT_EXIST');
    expect(() => emu.scan(unscanned.outTradeNo)).toThrow(/closed/);

    const paid = makeOrder();
    await checkout(paid);
    emu.pay(paid.outTradeNo);
    const e = await rejected(provider.close(paid));
    expect(e.subCode).toBe('ACQ.TRADE_STATUS_ERROR');
    expect(emu.trade(paid.outTradeNo).status).toBe('TRADE_SUCCESS');
  });

  it('refunds once per out_request_no, however often it is asked', async () => {
    const order = makeOrder();
    await checkout(order);
    const trade = emu.pay(order.outTradeNo);
    const outRefundNo = newOutTradeNo();
    const req = { order, outRefundNo, amountMinor: 990, reason: '会员要求退款' };
    expect(await provider.refund(req)).toEqual({ state: 'refunded', providerRefundId: `refund:${outRefundNo}` });
    expect(JSON.parse(emu.callsOf('alipay.trade.refund')[0]!.params.biz_content!)).toEqual({
      out_trade_no: order.outTradeNo,
      refund_amount: '9.90',
      out_request_no: outRefundNo,
      refund_reason: '会员要求退款',
    });
    expect(trade.status).toBe('TRADE_CLOSED');
    // Again with the same number (a retried job): fund_change N, confirmed by the refund query, still one refund.
    expect(await provider.refund(req)).toEqual({ state: 'refunded', providerRefundId: `refund:${outRefundNo}` });
    expect(emu.callsOf('alipay.trade.fastpay.refund.query')).toHaveLength(1);
    expect([...trade.refunds.values()].map((r) => r.fen)).toEqual([990]);
    expect(await provider.query({ ...order, status: 'refund_pending', outRefundNo })).toEqual({ state: 'refunded' });
    // A new number on a fully refunded trade is refused.
    expect((await rejected(provider.refund({ ...req, outRefundNo: newOutTradeNo() }))).subCode).toBe('ACQ.TRADE_HAS_CLOSE');
    // An unpaid trade cannot be refunded.
    const unpaid = makeOrder();
    await checkout(unpaid);
    emu.scan(unpaid.outTradeNo);
    expect((await rejected(provider.refund({ ...req, order: unpaid }))).subCode).toBe('ACQ.TRADE_STATUS_ERROR');
  });

  it('reports a refund that has not settled as processing, and query finds it once it has', async () => {
    const order = makeOrder();
    await checkout(order);
    emu.pay(order.outTradeNo);
    emu.deferRefunds = true;
    const outRefundNo = newOutTradeNo();
    expect(await provider.refund({ order, outRefundNo, amountMinor: 990, reason: 'r' })).toEqual({ state: 'processing' });
    const refunding = { ...order, status: 'refund_pending' as const, outRefundNo };
    expect(await provider.query(refunding)).toEqual({ state: 'closed' });
    emu.settleRefunds();
    expect(await provider.query(refunding)).toEqual({ state: 'refunded' });
  });

  it("reads the emulator's notifications as the official SDK does (checkNotifySign / checkNotifySignV2)", async () => {
    const sdk = new AlipaySdk({ appId: keys.appId, privateKey: keys.app.privateKeyPem, keyType: 'PKCS8', alipayPublicKey: keys.alipay.publicKeyPem });
    const order = makeOrder();
    await checkout(order);
    await clock.advance(5_000);
    const trade = emu.pay(order.outTradeNo);
    const paid = emu.notification(order.outTradeNo);
    // What a web framework hands the SDK: the decoded form fields.
    const fields = Object.fromEntries(new URLSearchParams(paid.body));
    expect(sdk.checkNotifySign(fields)).toBe(true);
    expect(sdk.checkNotifySignV2(fields)).toBe(true);
    expect(await provider.parseWebhook(Buffer.from(paid.body), {})).toEqual({
      type: 'paid',
      eventId: paid.params.notify_id,
      outTradeNo: order.outTradeNo,
      providerTxnId: trade.tradeNo,
      amountMinor: 990,
      currency: 'CNY',
      merchantId: keys.appId,
      paidAt: trade.gmtPayment,
    });

    const outRefundNo = newOutTradeNo();
    await provider.refund({ order, outRefundNo, amountMinor: 990, reason: 'r' });
    const refunded = emu.notification(order.outTradeNo, { refund: outRefundNo });
    expect(sdk.checkNotifySignV2(Object.fromEntries(new URLSearchParams(refunded.body)))).toBe(true);
    expect(await provider.parseWebhook(Buffer.from(refunded.body), {})).toMatchObject({
      type: 'refunded',
      outTradeNo: order.outTradeNo,
      providerRefundId: `refund:${outRefundNo}`,
      amountMinor: 990,
      refundedAt: clock.now(),
    });

    // One field changed: the SDK and we both refuse it.
    const tampered = { ...fields, total_amount: '0.01' };
    expect(sdk.checkNotifySignV2(tampered)).toBe(false);
    await expect(provider.parseWebhook(Buffer.from(new URLSearchParams(tampered).toString()), {})).rejects.toMatchObject({ rejection: 'bad_signature' });
  });

  describe('typed failures', () => {
    it('a business refusal is ProviderRejectedError with the codes kept', async () => {
      emu.scriptNext('alipay.trade.precreate', { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.ACCESS_FORBIDDEN', sub_msg: '无权限使用接口' });
      const e = await rejected(checkout(makeOrder()));
      expect([e.code, e.subCode]).toEqual(['40004', 'ACQ.ACCESS_FORBIDDEN']);
      expect(e.message).toContain('ACQ.ACCESS_FORBIDDEN');
      expect(e.method).toBe('alipay.trade.precreate');
    });

    it('20000 and ACQ.SYSTEM_ERROR mean "outcome unknown": ProviderUnreachableError', async () => {
      emu.scriptNext('alipay.trade.precreate', { code: '20000', msg: 'Service Currently Unavailable', sub_code: 'isp.unknow-error', sub_msg: '系统繁忙' });
      await unreachable(checkout(makeOrder()));
      const order = makeOrder();
      await checkout(order);
      emu.pay(order.outTradeNo);
      emu.scriptNext('alipay.trade.refund', { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.SYSTEM_ERROR', sub_msg: '系统错误' });
      const outRefundNo = newOutTradeNo();
      await unreachable(provider.refund({ order, outRefundNo, amountMinor: 990, reason: 'r' }));
      // The retry with the same number goes through.
      expect(await provider.refund({ order, outRefundNo, amountMinor: 990, reason: 'r' })).toMatchObject({ state: 'refunded' });
    });

    it('5xx, reset, hang and a refused connection are ProviderUnreachableError', async () => {
      const order = makeOrder();
      emu.fault = 'http500';
      expect((await unreachable(checkout(order))).message).toMatch(/HTTP 502/);
      emu.fault = 'reset';
      const reset = await unreachable(provider.query(order));
      expect(reset.message).toMatch(/network error/);
      // Which call, and the network error underneath.
      expect(reset.method).toBe('alipay.trade.query');
      expect(reset.cause).toBeInstanceOf(Error);
      emu.fault = 'hang';
      const slow = new AlipayProvider(config, clock, { timeoutMs: 200 });
      expect((await unreachable(slow.close(order))).message).toMatch(/no answer within 200 ms/);
      emu.fault = null;
      // Nothing listens on this port any more.
      const port = await new Promise<number>((resolve) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as { port: number }).port;
          s.close(() => resolve(p));
        });
      });
      const refused = new AlipayProvider({ ...config, gateway: `http://127.0.0.1:${port}/gateway.do` }, clock);
      expect((await unreachable(refused.refund({ order, outRefundNo: newOutTradeNo(), amountMinor: 990, reason: 'r' }))).message).toMatch(/network error/);
    });

    it('an unsigned or badly signed answer is not trusted: ProviderUnreachableError', async () => {
      emu.fault = 'unsigned';
      expect((await unreachable(checkout(makeOrder()))).message).toMatch(/unsigned answer \(code 10000\)/);
      emu.fault = 'badsign';
      expect((await unreachable(checkout(makeOrder()))).message).toMatch(/signature does not verify/);
      emu.fault = null;
      // Answers for an app id Alipay does not know come back unsigned (error_response).
      const stranger = new AlipayProvider({ ...config, appId: '2021999999999999' }, clock);
      expect(
        (
          await unreachable(
            stranger.createCheckout({ order: makeOrder(), plan, notifyUrl: 'http://gk.test/webhooks/alipay', payPageUrl: 'http://gk.test/pay/x' }),
          )
        ).message,
      ).toMatch(/unsigned answer \(code 40002\)/);
    });
  });
});

describe('the official alipay-sdk against the emulator', () => {
  let emu: AlipayEmulator;
  beforeEach(async () => {
    // No skew check: the SDK stamps requests with the real time.
    emu = await AlipayEmulator.start({ appId: keys.appId, appPublicKeyPem: keys.app.publicKeyPem, alipayPrivateKeyPem: keys.alipay.privateKeyPem });
  });
  afterEach(async () => {
    await emu.close();
  });
  const sdk = (privateKey = keys.app.privateKeyPem) =>
    new AlipaySdk({ appId: keys.appId, privateKey, keyType: 'PKCS8', alipayPublicKey: keys.alipay.publicKeyPem, gateway: emu.gatewayUrl, timeout: 5000 });

  it('precreates and queries with the SDK (signature checked both ways), and our provider reads the same trade', async () => {
    const outTradeNo = newOutTradeNo();
    const created = await sdk().exec(
      'alipay.trade.precreate',
      { notifyUrl: 'http://gk.test/webhooks/alipay', bizContent: { outTradeNo, totalAmount: '9.90', subject: '月度会员' } },
      { validateSign: true },
    );
    expect(created).toMatchObject({ code: '10000', msg: 'Success', outTradeNo });
    expect(created.qrCode).toMatch(/^https:\/\/qr\.alipay\.com\//);
    const trade = emu.pay(outTradeNo);
    const queried = await sdk().exec('alipay.trade.query', { bizContent: { outTradeNo } }, { validateSign: true });
    expect(queried).toMatchObject({
      code: '10000',
      tradeStatus: 'TRADE_SUCCESS',
      totalAmount: '9.90',
      tradeNo: trade.tradeNo,
      sendPayDate: beijing(trade.gmtPayment!),
    });
    const ours = new AlipayProvider(
      { appId: keys.appId, privateKeyPem: keys.app.privateKeyPem, alipayPublicKeyPem: keys.alipay.publicKeyPem, gateway: emu.gatewayUrl, sellerId: null },
      { now: () => Date.now(), sleep: async () => {} },
    );
    const result = await ours.query({ outTradeNo, expiresAt: Date.now() + MINUTE_MS } as Order);
    expect(result).toMatchObject({ state: 'paid', event: { providerTxnId: queried.tradeNo, amountMinor: 990 } });
  });

  it('the emulator refuses the SDK signing with the wrong key, and the SDK refuses a badly signed answer', async () => {
    const refused = await sdk(rsaKeyPair().privateKeyPem).exec('alipay.trade.query', { bizContent: { outTradeNo: newOutTradeNo() } }, { validateSign: true });
    expect(refused).toMatchObject({ code: '40002', subCode: 'isv.invalid-signature' });
    const notExist = await sdk().exec('alipay.trade.query', { bizContent: { outTradeNo: newOutTradeNo() } }, { validateSign: true });
    expect(notExist).toMatchObject({ code: '40004', subCode: 'ACQ.TRADE_NOT_EXIST' });
    emu.fault = 'badsign';
    await expect(sdk().exec('alipay.trade.query', { bizContent: { outTradeNo: newOutTradeNo() } }, { validateSign: true })).rejects.toThrow(/验签失败/);
  });
});
