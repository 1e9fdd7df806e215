// Alipay through the whole service: the admin API creates the checkout, the emulator (a real HTTP
// server) takes the money and POSTs signed notifications to the listening service, the scheduler's
// reconcile and time-out sweeps talk to the emulator, refunds go out through the job worker.
import { createPrivateKey, sign as rsaSign } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MINUTE_MS, SECOND_MS } from '../../src/domain/time.ts';
import { AlipayEmulator, alipayTestKeys, rsaKeyPair } from '../fakes/alipay-emulator.ts';
import { DIALECTS } from '../helpers/db.ts';
import { auth, startTestService, type TestService } from '../helpers/service.ts';
import type { FakeClock } from '../fakes/fake-clock.ts';

const keys = alipayTestKeys();
afterAll(() => keys.cleanup());

describe.each(DIALECTS)('Alipay through the service (%s)', (dialect) => {
  let t: TestService;
  let emu: AlipayEmulator;
  let serviceUrl = '';
  let clock: FakeClock | undefined;

  beforeEach(async () => {
    emu = await AlipayEmulator.start({
      appId: keys.appId,
      appPublicKeyPem: keys.app.publicKeyPem,
      alipayPrivateKeyPem: keys.alipay.privateKeyPem,
      clock: { now: () => clock!.now() },
      maxSkewMs: 999,
      // The service believes it lives at PUBLIC_URL (http://gk.test); it really listens on a loopback port.
      rewriteNotifyUrl: (url) => url.replace(/^http:\/\/gk\.test/, serviceUrl),
    });
    t = await startTestService(dialect, {
      PAYMENT_PROVIDERS: 'dev,alipay',
      ALIPAY_APP_ID: keys.appId,
      ALIPAY_PRIVATE_KEY: keys.app.privateKeyPath,
      ALIPAY_PUBLIC_KEY: keys.alipay.publicKeyPath,
      ALIPAY_GATEWAY: emu.gatewayUrl,
      ORDER_TTL_MINUTES: '15',
    });
    clock = t.clock;
    serviceUrl = await t.service.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterEach(async () => {
    await t.close();
    await emu.close();
  });

  const db = () => t.db.opened.db;
  const count = async (table: 'webhook_events' | 'membership_periods' | 'payments', where?: { kind: 'charge' | 'refund' }) => {
    const rows = table === 'payments' ? await db().selectFrom('payments').select('kind').execute() : await db().selectFrom(table).select('id').execute();
    return rows.filter((r) => !where || ('kind' in r && r.kind === where.kind)).length;
  };
  const order = async (id: string) => (await t.service.deps.store.orders.get(id))!;
  const deadJobs = async () => (await t.service.deps.store.jobs.list({ status: 'dead' })).map((j) => `${j.kind}: ${j.lastError}`);

  let planId = 0;
  async function checkout(userId = 'alice') {
    const { app } = t.service;
    if (!planId) {
      const g = await app.inject({
        method: 'POST',
        url: '/api/groups',
        headers: auth,
        payload: { platform: 'playground', chatId: 'room-1', title: 'Readers club' },
      });
      const p = await app.inject({
        method: 'POST',
        url: '/api/plans',
        headers: auth,
        payload: { groupIds: [g.json().id], name: '月度会员', price: '9.90', currency: 'CNY', days: 30 },
      });
      planId = p.json().id;
    }
    const res = await app.inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId, planId, provider: 'alipay' },
    });
    expect(res.statusCode, res.body).toBe(201);
    const o = await order(res.json().orderId);
    return { orderId: o.id, outTradeNo: o.outTradeNo, res };
  }
  beforeEach(() => {
    planId = 0;
  });
  const post = (body: string) =>
    t.service.app.inject({
      method: 'POST',
      url: '/webhooks/alipay',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      payload: body,
    });
  const form = (p: Record<string, string>) => new URLSearchParams(p).toString();

  it('sells end to end: checkout → QR → the buyer pays → notification → paid, granted, invited; answers exactly "success"', async () => {
    const { orderId, outTradeNo, res } = await checkout();
    const o = await order(orderId);
    expect(o.checkoutQr).toBe(emu.trade(outTradeNo).qrCode);
    expect(res.json().providerUrl).toBe(`http://gk.test/pay/${orderId}`);
    expect(emu.trade(outTradeNo).notifyUrl).toBe('http://gk.test/webhooks/alipay');

    await clock!.advance(20 * SECOND_MS);
    const [d] = await emu.payAndNotify(outTradeNo, 'once');
    expect(d).toMatchObject({ status: 200, body: 'success', acknowledged: true, url: `${serviceUrl}/webhooks/alipay` });
    expect(d!.contentType).toMatch(/^text\/plain/);
    const paid = await order(orderId);
    expect(paid).toMatchObject({ status: 'paid', providerTxnId: emu.trade(outTradeNo).tradeNo, paidAt: emu.trade(outTradeNo).gmtPayment });
    expect(await count('membership_periods')).toBe(1);

    await t.service.worker.drain();
    expect(t.gateway.of('invite')).toEqual([expect.objectContaining({ chatId: 'room-1', userId: 'alice' })]);
    expect(t.gateway.roster('room-1').has('alice')).toBe(true);
    expect(await deadJobs()).toEqual([]);
  });

  it('TRADE_SUCCESS, TRADE_FINISHED, resends, out-of-order and 100 concurrent replays grant exactly one period each', async () => {
    const a = await checkout('alice');
    const b = await checkout('bob');
    const first = await emu.payAndNotify(a.outTradeNo, 'success-then-finished');
    const second = await emu.payAndNotify(b.outTradeNo, 'finished-then-success');
    expect([...first, ...second].map((d) => [d.tradeStatus, d.body])).toEqual([
      ['TRADE_SUCCESS', 'success'],
      ['TRADE_FINISHED', 'success'],
      ['TRADE_FINISHED', 'success'],
      ['TRADE_SUCCESS', 'success'],
    ]);
    // Alipay resends (same notify_id) until it reads "success"; here it resends anyway.
    expect((await emu.deliver(a.outTradeNo, { notifyId: first[0]!.notifyId, status: 'TRADE_SUCCESS' })).body).toBe('success');
    const replay = emu.notification(a.outTradeNo, { notifyId: first[1]!.notifyId });
    const replies = await Promise.all(Array.from({ length: 100 }, () => post(replay.body)));
    expect(new Set(replies.map((r) => `${r.statusCode} ${r.body}`))).toEqual(new Set(['200 success']));

    for (const o of [a, b]) expect((await order(o.orderId)).status).toBe('paid');
    expect(await count('membership_periods')).toBe(2);
    expect(await count('payments', { kind: 'charge' })).toBe(2);
    expect(await count('webhook_events')).toBe(4); // four distinct notify_ids
    await t.service.worker.drain();
    expect(
      t.gateway
        .of('invite')
        .map((c) => c.userId)
        .sort(),
    ).toEqual(['alice', 'bob']);
    const members = (await t.service.app.inject({ method: 'GET', url: '/api/members', headers: auth })).json().items as Array<{ expiresAt: string }>;
    // One 30-day period each, counted from the payment time.
    for (const m of members) expect(Date.parse(m.expiresAt)).toBe(emu.trade(a.outTradeNo).gmtPayment! + 30 * 86_400_000);
  });

  it('finds a lost notification through reconcile (query), keeping the payment time; the late notification changes nothing', async () => {
    const { orderId, outTradeNo } = await checkout();
    await clock!.advance(30 * SECOND_MS);
    await emu.payAndNotify(outTradeNo, 'never');
    const paidAt = clock!.now();
    await clock!.advance(2 * MINUTE_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect(emu.callsOf('alipay.trade.query').length).toBeGreaterThan(0);
    expect(await order(orderId)).toMatchObject({ status: 'paid', paidAt, providerTxnId: emu.trade(outTradeNo).tradeNo });
    expect(t.gateway.roster('room-1').has('alice')).toBe(true);
    // The notification finally arrives.
    expect((await emu.deliver(outTradeNo)).body).toBe('success');
    expect(await count('membership_periods')).toBe(1);
    expect(await count('payments', { kind: 'charge' })).toBe(1);
    expect(await deadJobs()).toEqual([]);
  });

  it('times out: the order expires and the trade is closed at Alipay (scanned or not)', async () => {
    const scanned = await checkout('alice');
    const unscanned = await checkout('bob');
    emu.scan(scanned.outTradeNo);
    await clock!.advance(15 * MINUTE_MS + SECOND_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect((await order(scanned.orderId)).status).toBe('expired');
    expect((await order(unscanned.orderId)).status).toBe('expired');
    expect(emu.trade(scanned.outTradeNo).status).toBe('TRADE_CLOSED');
    expect(
      emu
        .callsOf('alipay.trade.close')
        .map((c) => c.answer)
        .sort(),
    ).toEqual(['10000', '40004 ACQ.TRADE_NOT_EXIST']);
    expect(() => emu.scan(unscanned.outTradeNo)).toThrow(/closed/);
    expect(await deadJobs()).toEqual([]);
    expect(await count('membership_periods')).toBe(0);
  });

  it('honours a last-second payment whose notification arrives after the time-out and the refused close', async () => {
    const { orderId, outTradeNo } = await checkout();
    await clock!.advance(15 * MINUTE_MS - SECOND_MS);
    emu.pay(outTradeNo);
    await clock!.advance(2 * SECOND_MS);
    await t.service.scheduler.tick();
    expect((await order(orderId)).status).toBe('expired');
    // The close job runs first: Alipay refuses (paid), the core asks (query) and grants.
    await t.service.worker.drain();
    expect(emu.callsOf('alipay.trade.close').map((c) => c.answer)).toEqual(['40004 ACQ.TRADE_STATUS_ERROR']);
    expect((await order(orderId)).status).toBe('paid');
    // The late notification: received, nothing more.
    expect((await emu.deliver(outTradeNo)).body).toBe('success');
    expect(await count('membership_periods')).toBe(1);
    expect(await deadJobs()).toEqual([]);
  });

  it('grants a payment whose notification comes in after the order expired, before anything else ran', async () => {
    const { orderId, outTradeNo } = await checkout();
    await clock!.advance(15 * MINUTE_MS - SECOND_MS);
    emu.pay(outTradeNo);
    await clock!.advance(2 * SECOND_MS);
    await t.service.scheduler.tick();
    expect((await order(orderId)).status).toBe('expired');
    expect((await emu.deliver(outTradeNo)).body).toBe('success');
    expect((await order(orderId)).status).toBe('paid');
    await t.service.worker.drain();
    expect(await count('membership_periods')).toBe(1);
    expect(t.gateway.roster('room-1').has('alice')).toBe(true);
    expect(await deadJobs()).toEqual([]);
  });

  it('refunds through the admin API, once, and takes the access back; the refund notification changes nothing more', async () => {
    const { orderId, outTradeNo } = await checkout();
    await emu.payAndNotify(outTradeNo, 'once');
    await t.service.worker.drain();
    const res = await t.service.app.inject({ method: 'POST', url: `/api/orders/${orderId}/refund`, headers: auth, payload: { reason: 'asked for it' } });
    expect(res.statusCode).toBe(202);
    expect(res.json().status).toBe('refund_pending');
    await t.service.worker.drain();
    const o = await order(orderId);
    expect(o.status).toBe('refunded');
    const trade = emu.trade(outTradeNo);
    expect(trade.status).toBe('TRADE_CLOSED');
    expect([...trade.refunds.values()].map((r) => [r.outRequestNo, r.fen])).toEqual([[o.outRefundNo, 990]]);
    expect(t.gateway.of('remove')).toEqual([expect.objectContaining({ chatId: 'room-1', userId: 'alice' })]);
    // Alipay's refund notification (TRADE_CLOSED with refund_fee) arrives afterwards.
    const d = await emu.deliver(outTradeNo, { refund: o.outRefundNo! });
    expect(d).toMatchObject({ tradeStatus: 'TRADE_CLOSED', body: 'success' });
    expect(await count('payments', { kind: 'refund' })).toBe(1);
    expect((await order(orderId)).status).toBe('refunded');
    expect(await deadJobs()).toEqual([]);
  });

  it('books two partial refunds that arrive without out_biz_no, each once, however often Alipay retries them', async () => {
    const { orderId, outTradeNo } = await checkout();
    await emu.payAndNotify(outTradeNo, 'once');
    await t.service.worker.drain();
    const r1 = emu.merchantRefund(outTradeNo, 1);
    const n1 = emu.notification(outTradeNo, { refund: r1, fields: { out_biz_no: undefined } });
    const r2 = emu.merchantRefund(outTradeNo, 2);
    const n2 = emu.notification(outTradeNo, { refund: r2, fields: { out_biz_no: undefined } });
    expect(n1.params.out_biz_no).toBeUndefined();
    for (const n of [n1, n1, n2, n2]) expect((await post(n.body)).body).toBe('success');
    await t.service.worker.drain();
    const refunds = (await t.service.deps.store.payments.listForOrder(orderId)).filter((p) => p.kind === 'refund');
    expect(refunds.map((p) => p.amountMinor)).toEqual([1, 2]);
    expect((await t.service.app.inject({ method: 'GET', url: `/api/orders/${orderId}`, headers: auth })).json()).toMatchObject({
      status: 'paid',
      refundedMinor: 3,
    });
    expect(await deadJobs()).toEqual([]);
  });

  it('partial refunds made in the merchant console are booked by their own amount and keep the member in; the owner refunds the rest', async () => {
    const { orderId, outTradeNo } = await checkout();
    await emu.payAndNotify(outTradeNo, 'once');
    await t.service.worker.drain();
    // 1 fen, then 2 fen: refund_fee says 0.01, then 0.03 (the running total); the ledger books 1 and 2.
    const r1 = emu.merchantRefund(outTradeNo, 1);
    const n1 = emu.notification(outTradeNo, { refund: r1 });
    expect(n1.params.refund_fee).toBe('0.01');
    const r2 = emu.merchantRefund(outTradeNo, 2);
    const n2 = emu.notification(outTradeNo, { refund: r2 });
    expect(n2.params.refund_fee).toBe('0.03');
    // Out of order and twice: the total is still right.
    for (const n of [n2, n1, n2]) expect((await post(n.body)).body).toBe('success');
    await t.service.worker.drain();
    expect((await order(orderId)).status).toBe('paid');
    expect(t.gateway.roster('room-1').has('alice')).toBe(true);
    expect(t.gateway.of('remove')).toHaveLength(0);
    expect((await t.service.app.inject({ method: 'GET', url: `/api/orders/${orderId}`, headers: auth })).json()).toMatchObject({
      status: 'paid',
      refundedMinor: 3,
    });

    expect((await t.service.app.inject({ method: 'POST', url: `/api/orders/${orderId}/refund`, headers: auth, payload: {} })).statusCode).toBe(202);
    await t.service.worker.drain();
    const o = await order(orderId);
    expect(o.status).toBe('refunded');
    expect(emu.trade(outTradeNo).refunds.get(o.outRefundNo!)!.fen).toBe(987);
    expect(t.gateway.of('remove')).toEqual([expect.objectContaining({ chatId: 'room-1', userId: 'alice' })]);
    expect((await emu.deliver(outTradeNo, { refund: o.outRefundNo! })).body).toBe('success');
    const ledger = await t.service.deps.store.payments.listForOrder(orderId);
    expect(ledger.filter((p) => p.kind === 'refund').reduce((sum, p) => sum + p.amountMinor, 0)).toBe(990);
    expect(await deadJobs()).toEqual([]);
  });

  it('leaves the order pending when Alipay cannot be reached at checkout', async () => {
    emu.fault = 'reset';
    const g = await t.service.app.inject({
      method: 'POST',
      url: '/api/groups',
      headers: auth,
      payload: { platform: 'playground', chatId: 'room-1', title: 'Readers club' },
    });
    const p = await t.service.app.inject({
      method: 'POST',
      url: '/api/plans',
      headers: auth,
      payload: { groupIds: [g.json().id], name: 'Monthly', price: '9.90', currency: 'CNY', days: 30 },
    });
    const res = await t.service.app.inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId: 'alice', planId: p.json().id, provider: 'alipay' },
    });
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toBe('provider_unreachable');
    const pending = (await t.service.deps.store.orders.page({ status: 'pending', limit: 10 }))[0]!;
    expect(pending).toMatchObject({ provider: 'alipay', checkoutQr: null });
    // A plan in another currency is not offered through Alipay at all.
    const usd = await t.service.app.inject({
      method: 'POST',
      url: '/api/plans',
      headers: auth,
      payload: { groupIds: [g.json().id], name: 'Intl', price: '5.00', currency: 'USD', days: 30 },
    });
    const refused = await t.service.app.inject({
      method: 'POST',
      url: '/api/checkouts',
      headers: auth,
      payload: { platform: 'playground', userId: 'alice', planId: usd.json().id, provider: 'alipay' },
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().message).toMatch(/alipay cannot take payments in USD/);
  });

  describe('bad notifications', () => {
    it('no sign → 400, wrong sign → 401, tampered amount → 401, malformed → 400: nothing changes, no slot taken', async () => {
      const { orderId, outTradeNo } = await checkout();
      emu.pay(outTradeNo);
      const genuine = emu.notification(outTradeNo);
      const { sign: _sign, ...unsigned } = genuine.params;
      // The same fields, signed by a key that is not Alipay's.
      const content = Object.keys(unsigned)
        .filter((k) => k !== 'sign_type')
        .sort()
        .map((k) => `${k}=${unsigned[k]}`)
        .join('&');
      const foreignSign = rsaSign('sha256', Buffer.from(content), createPrivateKey(rsaKeyPair().privateKeyPem)).toString('base64');
      const cases: Array<[string, string, number]> = [
        ['no sign', form(unsigned), 400],
        ['empty body', '', 400],
        ['wrong sign', form({ ...genuine.params, sign: Buffer.from('x'.repeat(256)).toString('base64') }), 401],
        ['signed with another key', form({ ...genuine.params, sign: foreignSign }), 401],
        ['tampered amount', form({ ...genuine.params, total_amount: '0.01' }), 401],
        ['tampered status', form({ ...genuine.params, trade_status: 'TRADE_FINISHED' }), 401],
        ['RSA1 sign_type', form({ ...genuine.params, sign_type: 'RSA' }), 401],
        ['smuggled second amount', `${genuine.body}&total_amount=0.01`, 400],
        ['JSON instead of a form', JSON.stringify(genuine.params), 400],
        ['garbage', '%E0%A4%A=%%%', 400],
      ];
      for (const [name, body, status] of cases) {
        const r = await post(body);
        expect([name, r.statusCode]).toEqual([name, status]);
        expect(r.body).not.toBe('success');
      }
      expect((await order(orderId)).status).toBe('pending');
      expect(await count('webhook_events')).toBe(0);
      expect(await count('membership_periods')).toBe(0);
      expect(t.logger.lines.filter((l) => l.level === 'warn' && l.msg === 'webhook rejected')).toHaveLength(10);
      // The genuine notification still goes through afterwards.
      const ok = await post(genuine.body);
      expect([ok.statusCode, ok.body, ok.headers['content-type']]).toEqual([200, 'success', 'text/plain']);
      expect((await order(orderId)).status).toBe('paid');
    });

    it('a genuine notification naming another app id, or one fen off, is held for review, never granted', async () => {
      const a = await checkout('alice');
      const b = await checkout('bob');
      emu.pay(a.outTradeNo);
      emu.pay(b.outTradeNo);
      expect((await emu.deliver(a.outTradeNo, { fields: { app_id: '2021999999999999' } })).body).toBe('success');
      expect((await emu.deliver(b.outTradeNo, { fields: { total_amount: '9.89' } })).body).toBe('success');
      expect(await order(a.orderId)).toMatchObject({ status: 'review', reviewReason: 'merchant mismatch: paid to 2021999999999999' });
      expect(await order(b.orderId)).toMatchObject({ status: 'review', reviewReason: expect.stringMatching(/amount mismatch: paid 9.89 CNY/) });
      expect(await count('membership_periods')).toBe(0);
      // The right notification for the same trade does not un-review it.
      expect((await emu.deliver(a.outTradeNo)).body).toBe('success');
      expect((await order(a.orderId)).status).toBe('review');
      expect(await count('membership_periods')).toBe(0);
    });

    it('an unknown out_trade_no and a refund for an unpaid order are received and change no order', async () => {
      const { orderId, outTradeNo } = await checkout();
      emu.scan(outTradeNo);
      const unknown = emu.notification(outTradeNo, {
        status: 'TRADE_SUCCESS',
        fields: { out_trade_no: 'ffffffffffffffffffffffffffffffff', gmt_payment: '2026-01-01 08:00:00' },
      });
      expect((await post(unknown.body)).body).toBe('success');
      const refund = emu.notification(outTradeNo, {
        status: 'TRADE_CLOSED',
        fields: { refund_fee: '9.90', gmt_refund: '2026-01-01 08:00:00.000', out_biz_no: 'nope' },
      });
      expect((await post(refund.body)).body).toBe('success');
      expect((await order(orderId)).status).toBe('pending');
      expect(await count('membership_periods')).toBe(0);
      expect(await count('payments', { kind: 'charge' })).toBe(0);
      const outcomes = await db().selectFrom('webhook_events').select(['outcome']).orderBy('id').execute();
      expect(outcomes.map((r) => r.outcome)).toEqual(['unknown_order', 'refund_noted']);
    });
  });
});
