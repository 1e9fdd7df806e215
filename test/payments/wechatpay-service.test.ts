// WeChat Pay through the whole service: admin API checkout → emulator → signed, encrypted notification
// over real HTTP to /webhooks/wechatpay → order, ledger, membership, jobs. Also the lost notification
// (reconcile), the time-out (close), refunds with their notification, and every kind of bad notification.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sweepOrderTimeouts } from '../../src/app/order-timeouts.ts';
import { MINUTE_MS, SECOND_MS } from '../../src/domain/time.ts';
import { DIALECTS } from '../helpers/db.ts';
import { auth, startTestService, type TestService } from '../helpers/service.ts';
import { makeWechatPayTestKeys, WechatPayEmulator, type WechatPayTestKeys } from '../fakes/wechatpay-emulator.ts';
import { freePort } from '../helpers/net.ts';

let keys: WechatPayTestKeys;
beforeAll(() => {
  keys = makeWechatPayTestKeys();
});
afterAll(() => keys.cleanup());

/** A free loopback port: PUBLIC_URL must name the address the service then listens on. */

describe.each(DIALECTS)('WeChat Pay through the whole service (%s)', (dialect) => {
  let t: TestService;
  let emu: WechatPayEmulator;
  let base: string;

  beforeEach(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    emu = await WechatPayEmulator.start(keys.emulatorOptions(() => t.clock.now()));
    t = await startTestService(dialect, { PAYMENT_PROVIDERS: 'dev,wechatpay', PUBLIC_URL: base, ...keys.env(emu.url) });
    await t.service.app.listen({ port, host: '127.0.0.1' });
  });
  afterEach(async () => {
    await t.close();
    await emu.close();
  });

  const api = {
    post: (url: string, payload: object = {}) => t.service.app.inject({ method: 'POST', url, headers: auth, payload }),
    get: (url: string) => t.service.app.inject({ method: 'GET', url, headers: auth }),
  };
  const db = () => t.db.opened.db;
  const count = async (table: 'webhook_events' | 'membership_periods' | 'payments') =>
    Number(
      (
        await db()
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const counts = async () => ({ events: await count('webhook_events'), periods: await count('membership_periods'), ledger: await count('payments') });
  const order = async (id: string) => (await t.service.deps.store.orders.get(id))!;
  const members = async () => (await api.get('/api/members')).json().items as Array<{ platformUserId: string; status: string; expiresAt: string }>;

  async function plan(price = '9.90') {
    const existing = (await api.get('/api/groups')).json().items as Array<{ id: number }>;
    const groupId = existing[0]?.id ?? (await api.post('/api/groups', { platform: 'playground', chatId: 'room-1', title: '读书会' })).json().id;
    const p = await api.post('/api/plans', { groupIds: [groupId], name: '读书会 月卡', price, currency: 'CNY', days: 30, force: true });
    expect(p.statusCode).toBe(201);
    return p.json().id as number;
  }

  async function checkout(userId = 'alice') {
    const res = await api.post('/api/checkouts', { platform: 'playground', userId, planId: await plan(), provider: 'wechatpay' });
    expect(res.statusCode, res.body).toBe(201);
    const o = await order(res.json().orderId);
    return { res, order: o, outTradeNo: o.outTradeNo };
  }

  it('sells through WeChat Pay: checkout → pay → notification → paid and granted; a duplicate grants nothing', async () => {
    const { res, order: o, outTradeNo } = await checkout();
    const { orderId, payUrl, providerUrl } = res.json();
    expect(payUrl).toBe(`${base}/pay/${orderId}`);
    expect(providerUrl).toBe(payUrl);
    expect(o.checkoutQr).toBe(emu.orders.get(outTradeNo)!.codeUrl);
    expect(emu.orders.get(outTradeNo)).toMatchObject({ total: 990, notifyUrl: `${base}/webhooks/wechatpay`, state: 'NOTPAY' });
    const page = await t.service.app.inject({ method: 'GET', url: `/pay/${orderId}` });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('9.90');
    expect(page.body).not.toContain('dev-pay');

    await t.clock.advance(30 * SECOND_MS);
    const n = emu.pay(outTradeNo);
    const first = await emu.deliver(n);
    expect(first).toEqual({ status: 204, body: '' });
    const paid = await order(orderId);
    expect(paid).toMatchObject({ status: 'paid', providerTxnId: emu.orders.get(outTradeNo)!.transactionId, paidAt: Math.floor(t.clock.now() / 1000) * 1000 });
    expect(await members()).toEqual([expect.objectContaining({ platformUserId: 'alice', status: 'active' })]);
    await t.service.worker.drain();
    expect(t.gateway.of('invite')).toEqual([expect.objectContaining({ chatId: 'room-1', userId: 'alice' })]);
    expect(await counts()).toEqual({ events: 1, periods: 1, ledger: 1 });

    // WeChat Pay retries (same id, fresh signature): received, nothing more happens.
    await t.clock.advance(15 * SECOND_MS);
    expect((await emu.deliver(n)).status).toBe(204);
    await t.service.worker.drain();
    expect(await counts()).toEqual({ events: 1, periods: 1, ledger: 1 });
    expect(t.gateway.of('invite')).toHaveLength(1);
  });

  it('finds a payment whose notification never came: reconcile queries WeChat Pay after 2 minutes', async () => {
    const { order: o, outTradeNo } = await checkout();
    await t.clock.advance(20 * SECOND_MS);
    const n = emu.pay(outTradeNo);
    const successAt = Math.floor(t.clock.now() / 1000) * 1000;

    // Too young: left to its webhook.
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect((await order(o.id)).status).toBe('pending');
    expect(emu.callsTo('GET', '/v3/pay/transactions/out-trade-no/')).toHaveLength(0);

    await t.clock.advance(2 * MINUTE_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect(emu.callsTo('GET', `/v3/pay/transactions/out-trade-no/${outTradeNo}`)).toEqual([expect.objectContaining({ status: 200 })]);
    // The period starts when the person paid, not when we noticed.
    expect(await order(o.id)).toMatchObject({ status: 'paid', paidAt: successAt });
    expect(await members()).toEqual([expect.objectContaining({ status: 'active', expiresAt: new Date(successAt + 30 * 86_400_000).toISOString() })]);
    expect(t.gateway.of('invite')).toHaveLength(1);

    // The notification turns up at last: received, nothing more.
    expect((await emu.deliver(n)).status).toBe(204);
    await t.service.worker.drain();
    expect(await counts()).toMatchObject({ periods: 1, ledger: 1 });
    expect(t.gateway.of('invite')).toHaveLength(1);
  });

  it('times out an unpaid order and closes it at WeChat Pay, so the QR stops working', async () => {
    const { order: o, outTradeNo } = await checkout();
    await t.clock.advance(15 * MINUTE_MS + SECOND_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect((await order(o.id)).status).toBe('expired');
    expect(emu.orders.get(outTradeNo)!.state).toBe('CLOSED');
    expect(emu.callsTo('POST', `/v3/pay/transactions/out-trade-no/${outTradeNo}/close`)).toEqual([expect.objectContaining({ status: 204 })]);
    expect(() => emu.pay(outTradeNo)).toThrow();
    expect(await t.service.deps.store.jobs.list({ status: 'dead' })).toEqual([]);
    expect(await counts()).toEqual({ events: 0, periods: 0, ledger: 0 });
  });

  it('honours a payment made just before the time-out: close is refused (ORDERPAID), reconcile grants; the late notification grants nothing more', async () => {
    const { order: o, outTradeNo } = await checkout();
    await t.clock.advance(15 * MINUTE_MS - 5 * SECOND_MS);
    const n = emu.pay(outTradeNo);
    const successAt = Math.floor(t.clock.now() / 1000) * 1000;
    await t.clock.advance(10 * SECOND_MS);
    // Only the time-out sweep, so it is the refused close that sends us to reconcile.
    await sweepOrderTimeouts(t.service.deps);
    expect((await order(o.id)).status).toBe('expired');
    await t.service.worker.drain();
    expect(emu.callsTo('POST', `/v3/pay/transactions/out-trade-no/${outTradeNo}/close`)).toEqual([expect.objectContaining({ status: 400, code: 'ORDERPAID' })]);
    expect(await order(o.id)).toMatchObject({ status: 'paid', paidAt: successAt });
    expect(await members()).toEqual([expect.objectContaining({ status: 'active' })]);

    await t.clock.advance(3 * MINUTE_MS);
    expect((await emu.deliver(n)).status).toBe(204);
    await t.service.worker.drain();
    expect(await counts()).toMatchObject({ periods: 1, ledger: 1 });
    expect(t.gateway.of('invite')).toHaveLength(1);
    expect(await t.service.deps.store.jobs.list({ status: 'dead' })).toEqual([]);
  });

  it('refunds: owner asks → PROCESSING → REFUND.SUCCESS notification → refunded and removed; replays change nothing', async () => {
    const { order: o, outTradeNo } = await checkout();
    const paidNote = emu.pay(outTradeNo);
    expect((await emu.deliver(paidNote)).status).toBe(204);
    await t.service.worker.drain();
    expect(t.gateway.roster('room-1').has('alice')).toBe(true);

    const req = await api.post(`/api/orders/${o.id}/refund`, { reason: '会员申请退款' });
    expect(req.statusCode).toBe(202);
    expect(req.json().status).toBe('refund_pending');
    await t.service.worker.drain();
    const outRefundNo = (await order(o.id)).outRefundNo!;
    expect(emu.refunds.get(outRefundNo)).toMatchObject({
      outTradeNo,
      refund: 990,
      total: 990,
      status: 'PROCESSING',
      reason: '会员申请退款',
      notifyUrl: `${base}/webhooks/wechatpay`,
    });
    expect((await order(o.id)).status).toBe('refund_pending');

    const refundNote = emu.completeRefund(outRefundNo);
    expect((await emu.deliver(refundNote)).status).toBe(204);
    expect((await order(o.id)).status).toBe('refunded');
    await t.service.worker.drain();
    expect(t.gateway.of('remove')).toEqual([{ op: 'remove', chatId: 'room-1', userId: 'alice', ban: false }]);
    expect(await members()).toEqual([expect.objectContaining({ status: 'revoked' })]);
    const ledger = await t.service.deps.store.payments.listForOrder(o.id);
    expect(ledger.map((p) => [p.kind, p.amountMinor, p.providerTxnId])).toEqual([
      ['charge', 990, emu.orders.get(outTradeNo)!.transactionId],
      ['refund', 990, emu.refunds.get(outRefundNo)!.refundId],
    ]);

    // Out of order: the refund notification again, then the payment notification again.
    expect((await emu.deliver(refundNote)).status).toBe(204);
    expect((await emu.deliver(paidNote)).status).toBe(204);
    await t.service.worker.drain();
    expect((await order(o.id)).status).toBe('refunded');
    expect(await members()).toEqual([expect.objectContaining({ status: 'revoked' })]);
    expect(await counts()).toEqual({ events: 2, periods: 1, ledger: 2 });
    expect(t.gateway.of('invite')).toHaveLength(1);
    expect(t.gateway.of('remove')).toHaveLength(1);
  });

  it("a partial refund made in the merchant platform keeps the member in; the owner's refund then returns the rest", async () => {
    const { order: o, outTradeNo } = await checkout();
    expect((await emu.deliver(emu.pay(outTradeNo))).status).toBe(204);
    await t.service.worker.drain();
    // 1 fen of 9.90 goes back: booked as that refund's own amount under its own refund_id, nobody removed.
    const part = emu.merchantPlatformRefund(outTradeNo, 1);
    expect((await emu.deliver(part.notification)).status).toBe(204);
    expect((await emu.deliver(part.notification)).status).toBe(204);
    await t.service.worker.drain();
    expect((await order(o.id)).status).toBe('paid');
    expect(await members()).toEqual([expect.objectContaining({ status: 'active' })]);
    expect(t.gateway.of('remove')).toHaveLength(0);
    expect((await api.get(`/api/orders/${o.id}`)).json()).toMatchObject({ status: 'paid', refundedMinor: 1 });

    expect((await api.post(`/api/orders/${o.id}/refund`, {})).statusCode).toBe(202);
    await t.service.worker.drain();
    const outRefundNo = (await order(o.id)).outRefundNo!;
    expect(emu.refunds.get(outRefundNo)).toMatchObject({ refund: 989, total: 990 });
    expect((await emu.deliver(emu.completeRefund(outRefundNo))).status).toBe(204);
    await t.service.worker.drain();
    expect((await order(o.id)).status).toBe('refunded');
    expect(await members()).toEqual([expect.objectContaining({ status: 'revoked' })]);
    const ledger = await t.service.deps.store.payments.listForOrder(o.id);
    expect(ledger.map((p) => [p.kind, p.amountMinor, p.providerTxnId])).toEqual([
      ['charge', 990, emu.orders.get(outTradeNo)!.transactionId],
      ['refund', 1, part.refund.refundId],
      ['refund', 989, emu.refunds.get(outRefundNo)!.refundId],
    ]);
  });

  it('confirms a refund whose notification was lost through reconcile, only once WeChat Pay says SUCCESS', async () => {
    const { order: o, outTradeNo } = await checkout();
    expect((await emu.deliver(emu.pay(outTradeNo))).status).toBe(204);
    expect((await api.post(`/api/orders/${o.id}/refund`, {})).statusCode).toBe(202);
    await t.service.worker.drain();
    const outRefundNo = (await order(o.id)).outRefundNo!;

    // Still processing at WeChat Pay: reconcile asks and leaves it alone.
    await t.clock.advance(5 * MINUTE_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect(emu.callsTo('GET', `/v3/refund/domestic/refunds/${outRefundNo}`)).toHaveLength(1);
    expect((await order(o.id)).status).toBe('refund_pending');

    emu.completeRefund(outRefundNo); // its notification is never delivered
    await t.clock.advance(5 * MINUTE_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect((await order(o.id)).status).toBe('refunded');
    expect(await members()).toEqual([expect.objectContaining({ status: 'revoked' })]);
  });

  it('completes a refund WeChat Pay answers SUCCESS at once', async () => {
    emu.refundMode = 'success';
    const { order: o, outTradeNo } = await checkout();
    expect((await emu.deliver(emu.pay(outTradeNo))).status).toBe(204);
    expect((await api.post(`/api/orders/${o.id}/refund`, {})).statusCode).toBe(202);
    await t.service.worker.drain();
    expect((await order(o.id)).status).toBe('refunded');
    // Its notification still comes; it is received and changes nothing.
    expect((await emu.deliver(emu.outbox.at(-1)!)).status).toBe(204);
    expect((await order(o.id)).status).toBe('refunded');
    expect(await counts()).toMatchObject({ ledger: 2, periods: 1 });
  });

  it('keeps the order pending when WeChat Pay cannot be reached at checkout (503), and says 502 when it refuses', async () => {
    emu.setFault({ kind: 'reset' }, 1);
    const planId = await plan();
    const down = await api.post('/api/checkouts', { platform: 'playground', userId: 'bob', planId, provider: 'wechatpay' });
    expect(down.statusCode).toBe(503);
    expect(down.json().error).toBe('provider_unreachable');
    const pending = (await api.get('/api/orders?status=pending')).json().items;
    expect(pending).toHaveLength(1);

    emu.setFault({ kind: 'answer', tamper: 'bad_signature' }, 1);
    const unverifiable = await api.post('/api/checkouts', { platform: 'playground', userId: 'carol', planId, provider: 'wechatpay' });
    expect(unverifiable.statusCode).toBe(503);

    emu.setFault({ kind: 'status', status: 400, code: 'INVALID_REQUEST' }, 1);
    const refused = await api.post('/api/checkouts', { platform: 'playground', userId: 'dave', planId, provider: 'wechatpay' });
    expect(refused.statusCode).toBe(502);
    expect(refused.json().error).toBe('provider_rejected');
    expect((await api.get('/api/orders?status=pending')).json().items).toHaveLength(3);

    // Nothing is left hanging: the orders time out and close cleanly.
    await t.clock.advance(15 * MINUTE_MS + SECOND_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect((await api.get('/api/orders?status=pending')).json().items).toHaveLength(0);
    expect(await t.service.deps.store.jobs.list({ status: 'dead' })).toEqual([]);
  });

  describe('bad notifications', () => {
    const hook = () => `${base}/webhooks/wechatpay`;

    it('are answered 4xx {"code":"FAIL"}, change nothing and take no idempotency slot', async () => {
      const { order: o, outTradeNo } = await checkout();
      const n = emu.pay(outTradeNo);

      const missing = await fetch(hook(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: n.body });
      expect(missing.status).toBe(400);
      expect(await missing.json()).toMatchObject({ code: 'FAIL' });
      const partial = emu.signedHeaders(n.body);
      delete (partial as Record<string, string | undefined>)['wechatpay-serial'];
      expect((await fetch(hook(), { method: 'POST', headers: { 'content-type': 'application/json', ...partial }, body: n.body })).status).toBe(400);

      expect((await emu.deliver(n, { signature: 'wrong' })).status).toBe(401);
      expect((await emu.deliver(n, { serial: 'PUB_KEY_ID_0000000000000000000000000000' })).status).toBe(401);
      expect((await emu.deliver(n, { signature: 'signtest' })).status).toBe(401);
      expect((await emu.probe(hook())).status).toBe(401);
      expect((await emu.deliver(n, { timestampOffsetMs: -6 * MINUTE_MS })).status).toBe(401);
      expect((await emu.deliver(n, { timestampOffsetMs: 6 * MINUTE_MS })).status).toBe(401);
      // The signature is over the raw bytes: a changed or merely re-serialized body fails.
      expect((await emu.deliver(n, { bodyOverride: n.body.replace('"TRANSACTION.SUCCESS"', '"TRANSACTION.SUCCESS" ') })).status).toBe(401);
      expect((await emu.deliver(n, { bodyOverride: JSON.stringify(JSON.parse(n.body), null, 2) })).status).toBe(401);

      // Signed correctly but unusable: 400.
      const wrongKey = emu.notification('TRANSACTION.SUCCESS', 'transaction', emu.transactionJson(emu.orders.get(outTradeNo)!), hook(), {
        key: 'K'.repeat(32),
      });
      const badCipher = await emu.deliver(wrongKey);
      expect(badCipher.status).toBe(400);
      expect(JSON.parse(badCipher.body)).toMatchObject({ code: 'FAIL' });
      const garbage = { ...n, body: '\u0000\u00ff not json' };
      expect((await emu.deliver(garbage)).status).toBe(400);

      expect((await order(o.id)).status).toBe('pending');
      expect(await counts()).toEqual({ events: 0, periods: 0, ledger: 0 });
      expect(t.logger.lines.filter((l) => l.msg === 'webhook rejected').length).toBeGreaterThanOrEqual(10);

      // The genuine notification, with the same id, still goes through.
      expect((await emu.deliver(n)).status).toBe(204);
      expect((await order(o.id)).status).toBe('paid');
      expect(await counts()).toEqual({ events: 1, periods: 1, ledger: 1 });
    });

    it('a payment under another appid or one fen short is held for review, not granted', async () => {
      const a = await checkout('erin');
      const foreign = emu.pay(a.outTradeNo, { resourceOverrides: { appid: 'wx1111111111111111' } });
      expect((await emu.deliver(foreign)).status).toBe(204);
      expect(await order(a.order.id)).toMatchObject({ status: 'review', reviewReason: expect.stringMatching(/merchant mismatch/) });

      const b = await checkout('frank');
      const short = emu.pay(b.outTradeNo, { resourceOverrides: { amount: { total: 989, payer_total: 989, currency: 'CNY', payer_currency: 'CNY' } } });
      expect((await emu.deliver(short)).status).toBe(204);
      expect(await order(b.order.id)).toMatchObject({ status: 'review', reviewReason: expect.stringMatching(/amount mismatch/) });

      await t.service.worker.drain();
      expect(await count('membership_periods')).toBe(0);
      expect(t.gateway.of('invite')).toHaveLength(0);
      // The money did arrive: both are in the ledger, to refund or approve.
      expect(await count('payments')).toBe(2);
    });

    it('a payment for an unknown out_trade_no is received (204), recorded and grants nothing', async () => {
      await checkout();
      const stranger = emu.notification(
        'TRANSACTION.SUCCESS',
        'transaction',
        {
          appid: keys.appid,
          mchid: keys.mchid,
          out_trade_no: 'f'.repeat(32),
          transaction_id: '4200000000000000000000000001',
          trade_state: 'SUCCESS',
          success_time: '2026-01-01T08:00:00+08:00',
          amount: { total: 990, currency: 'CNY' },
        },
        hook(),
      );
      expect((await emu.deliver(stranger)).status).toBe(204);
      const row = await db().selectFrom('webhook_events').select(['event_id', 'outcome']).executeTakeFirstOrThrow();
      expect(row).toEqual({ event_id: stranger.id, outcome: 'unknown_order' });
      expect(await count('membership_periods')).toBe(0);
    });

    it('a refund notification for an unpaid order revokes and grants nothing', async () => {
      const { order: o, outTradeNo } = await checkout();
      const refund = emu.notification(
        'REFUND.SUCCESS',
        'refund',
        {
          mchid: keys.mchid,
          out_trade_no: outTradeNo,
          transaction_id: '4200000000000000000000000002',
          out_refund_no: 'r'.repeat(32),
          refund_id: '50300000000000000000000000001',
          refund_status: 'SUCCESS',
          success_time: '2026-01-01T08:00:00+08:00',
          amount: { total: 990, refund: 990, payer_total: 990, payer_refund: 990 },
        },
        hook(),
      );
      expect((await emu.deliver(refund)).status).toBe(204);
      expect((await order(o.id)).status).toBe('pending');
      expect(await count('membership_periods')).toBe(0);
      expect(await members()).toEqual([]);
    });

    it('one notification replayed 100 times at once grants exactly once', async () => {
      const { order: o, outTradeNo } = await checkout();
      const n = emu.pay(outTradeNo);
      const answers = await Promise.all(Array.from({ length: 100 }, () => emu.deliver(n)));
      // Every copy is answered "received" (a duplicate is not an error), and only one of them grants.
      expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 100 }, () => 204));
      expect((await order(o.id)).status).toBe('paid');
      await t.service.worker.drain();
      expect(await counts()).toEqual({ events: 1, periods: 1, ledger: 1 });
      expect(t.gateway.of('invite')).toHaveLength(1);
    });
  });
});
