// Issue 21 with WeChat Pay through the whole service, against the strict emulators (WeChat Pay v3 and the
// Official Account web authorization): the pay page's choice per User-Agent, JSAPI inside WeChat (snsapi_base
// → openid → JSAPI prepay → getBrandWCPayRequest), H5 in a phone browser, the QR fallback, one order paid on
// two rails (the second refunded), and every bad input the issue lists. Each sale ends with an active member.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sweepOrderTimeouts } from '../../src/app/order-timeouts.ts';
import { MINUTE_MS, SECOND_MS } from '../../src/domain/time.ts';
import { WechatMpEmulator } from '../fakes/wechat-mp-emulator.ts';
import { makeWechatPayTestKeys, WechatPayEmulator, type WechatPayTestKeys } from '../fakes/wechatpay-emulator.ts';
import { DIALECTS } from '../helpers/db.ts';
import { freePort } from '../helpers/net.ts';
import { auth, startTestService, type TestService } from '../helpers/service.ts';
import { UA } from '../helpers/user-agents.ts';
import { renderReply } from '../../bots/playground/playground-gateway.ts';

const MP_APPID = 'wx5566778899aabbcc';
const MP_SECRET = '0123456789abcdef0123456789abcdef';
const OPENID = 'oPayer_1234567890abcdefXYZ';

let keys: WechatPayTestKeys;
beforeAll(() => {
  keys = makeWechatPayTestKeys();
});
afterAll(() => keys.cleanup());

/** getBrandWCPayRequest's arguments as the page embeds them. */
function jsapiParamsOf(html: string) {
  const m = /invoke\('getBrandWCPayRequest',(\{.*?\}),function/.exec(html);
  if (!m) throw new Error('no getBrandWCPayRequest call on the page');
  return JSON.parse(m[1]!) as { appId: string; timeStamp: string; nonceStr: string; package: string; signType: string; paySign: string };
}

describe.each(DIALECTS)('paying on a phone with WeChat Pay (%s)', (dialect) => {
  let t: TestService;
  let emu: WechatPayEmulator;
  let mp: WechatMpEmulator;
  let base: string;

  async function start(extra: Record<string, string> = {}) {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    emu = await WechatPayEmulator.start({ ...keys.emulatorOptions(() => t.clock.now()), mpAppid: MP_APPID, refundMode: 'success' });
    mp = await WechatMpEmulator.start({ appid: MP_APPID, secret: MP_SECRET, authorizedHost: `127.0.0.1:${port}`, openid: OPENID, now: () => t.clock.now() });
    t = await startTestService(dialect, {
      PAYMENT_PROVIDERS: 'wechatpay',
      PUBLIC_URL: base,
      ...keys.env(emu.url),
      WECHATPAY_H5: '1',
      WECHAT_MP_APPID: MP_APPID,
      WECHAT_MP_SECRET: MP_SECRET,
      WECHAT_MP_OAUTH_BASE: mp.url,
      WECHAT_MP_API_BASE: mp.url,
      ...extra,
    });
    await t.service.app.listen({ port, host: '127.0.0.1' });
  }
  afterEach(async () => {
    await t.close();
    await emu.close();
    await mp.close();
  });

  const api = {
    post: (url: string, payload: object = {}) => t.service.app.inject({ method: 'POST', url, headers: auth, payload }),
    get: (url: string) => t.service.app.inject({ method: 'GET', url, headers: auth }),
  };
  const page = (url: string, ua: string, extra: { remoteAddress?: string; headers?: Record<string, string> } = {}) =>
    t.service.app.inject({ method: 'GET', url, headers: { 'user-agent': ua, 'accept-language': 'en', ...extra.headers }, remoteAddress: extra.remoteAddress });
  const order = async (id: string) => (await t.service.deps.store.orders.get(id))!;
  const attempts = (id: string) => t.service.deps.store.attempts.listForOrder(id);
  const attemptOn = async (id: string, rail: string) => (await attempts(id)).find((a) => a.rail === rail);
  const members = async () => (await api.get('/api/members')).json().items as Array<{ platformUserId: string; status: string; expiresAt: string }>;
  const periods = async () => (await t.db.opened.db.selectFrom('membership_periods').selectAll().execute()).length;
  const pathOf = (url: string) => url.replace(base, '');

  let planId = 0;
  async function checkout(userId = 'alice') {
    if (!planId) {
      const g = (await api.post('/api/groups', { platform: 'playground', chatId: 'room-1', title: '读书会' })).json().id;
      const p = await api.post('/api/plans', { groupIds: [g], name: '读书会 月卡', price: '9.90', currency: 'CNY', days: 30, force: true });
      planId = p.json().id;
    }
    const res = await api.post('/api/checkouts', { platform: 'playground', userId, planId, provider: 'wechatpay' });
    expect(res.statusCode, res.body).toBe(201);
    return order(res.json().orderId);
  }
  beforeEach(() => {
    planId = 0;
  });

  /** The WeChat browser opens the pay page: redirect to the authorize page, which comes back with a code. */
  async function signInInsideWechat(orderId: string) {
    const first = await page(`/pay/${orderId}`, UA.wechat);
    expect(first.statusCode, first.body).toBe(302);
    const authorize = mp.authorize(first.headers.location as string);
    expect(authorize.error).toBeNull();
    return authorize.location!;
  }

  it('inside WeChat: snsapi_base → openid → JSAPI prepay → getBrandWCPayRequest signed with the merchant key → paid, active; the openid is remembered', async () => {
    await start();
    const o = await checkout();
    const callback = await signInInsideWechat(o.id);
    expect(callback.startsWith(`${base}/pay/${o.id}/wechat-oauth?`)).toBe(true);

    const jsapiPage = await page(pathOf(callback), UA.wechat);
    expect(jsapiPage.statusCode, jsapiPage.body).toBe(200);
    expect(jsapiPage.body).toContain('data-rail="jsapi"');
    expect(jsapiPage.body).toContain('data-testid="show-qr"');
    const params = jsapiParamsOf(jsapiPage.body);
    expect(params).toMatchObject({ appId: MP_APPID, signType: 'RSA' });

    const jsapi = await attemptOn(o.id, 'jsapi');
    expect(jsapi).toMatchObject({ rail: 'jsapi', payer: OPENID, orderId: o.id });
    expect(emu.orders.get(jsapi!.tradeNo)).toMatchObject({ tradeType: 'JSAPI', appid: MP_APPID, payerOpenid: OPENID, total: 990, state: 'NOTPAY' });

    // WeChat's cashier checks paySign with our public key and takes the money; the notification confirms the order.
    await t.clock.advance(20 * SECOND_MS);
    const n = emu.jsapiPay(params);
    expect((await emu.deliver(n)).status).toBe(204);
    expect(await order(o.id)).toMatchObject({ status: 'paid', providerTxnId: emu.orders.get(jsapi!.tradeNo)!.transactionId });
    expect(await members()).toEqual([expect.objectContaining({ platformUserId: 'alice', status: 'active' })]);
    await t.service.worker.drain();
    expect(t.gateway.of('invite')).toHaveLength(1);
    // The QR attempt is closed at WeChat Pay once the JSAPI one was paid.
    expect(emu.orders.get(o.outTradeNo)!.state).toBe('CLOSED');
    expect((await attempts(o.id)).find((a) => a.tradeNo === o.outTradeNo)!.closedAt).not.toBeNull();

    // The next order pays without another redirect: the openid is on the account.
    const next = await checkout();
    const again = await page(`/pay/${next.id}`, UA.wechat);
    expect(again.statusCode).toBe(200);
    expect(jsapiParamsOf(again.body).appId).toBe(MP_APPID);
    expect(mp.authorizations).toHaveLength(1);
    // Someone else's WeChat (the cashier refused the remembered openid): "sign in again" redirects once more.
    expect(again.body).toContain(`href="/pay/${next.id}?signin=1"`);
    mp.openid = 'oOther_person_0987654321';
    const relogin = await page(`/pay/${next.id}?signin=1`, UA.wechat);
    expect(relogin.statusCode).toBe(302);
    const back = mp.authorize(relogin.headers.location as string).location!;
    expect((await page(pathOf(back), UA.wechat)).statusCode).toBe(200);
    expect(await t.service.deps.store.oauth.getOpenid(next.accountId, MP_APPID)).toBe('oOther_person_0987654321');
    // A prepay per payer: the other person's is made for their own openid.
    const jsapiAttempts = (await attempts(next.id)).filter((a) => a.rail === 'jsapi');
    expect(jsapiAttempts.map((a) => a.payer).sort()).toEqual([OPENID, 'oOther_person_0987654321'].sort());
    for (const a of jsapiAttempts) expect(emu.orders.get(a.tradeNo)!.payerOpenid).toBe(a.payer);
  });

  it('in chat: the QR picture and the "tap to pay on this phone" link to the same pay page (Telegram pairs them into a URL button)', async () => {
    await start();
    await checkout(); // makes the group and plan
    const chat = t.service.conversation;
    let replies = await chat.handle({ platform: 'playground', userId: 'carol', text: '/start', locale: 'en' });
    for (let step = 0; step < 4 && !replies.some((r) => r.type === 'image'); step++) {
      const choices = replies.find((r) => r.type === 'choices');
      if (!choices || choices.type !== 'choices') throw new Error(`no choice to make: ${JSON.stringify(replies)}`);
      replies = await chat.handle({ platform: 'playground', userId: 'carol', choice: choices.choices[0]!.value, locale: 'en' });
    }
    const image = replies.find((r) => r.type === 'image');
    const link = replies.find((r) => r.type === 'link');
    if (image?.type !== 'image' || link?.type !== 'link') throw new Error(JSON.stringify(replies));
    const carolOrder = (await t.service.deps.store.orders.page({ limit: 10 })).find((o) => o.id !== undefined && image.url?.endsWith(o.id))!;
    expect(link).toEqual({
      type: 'link',
      text: 'Paying on this phone? Tap the link (the QR code is for another device):',
      url: `${base}/pay/${carolOrder.id}`,
      label: 'Tap to pay on this phone',
    });
    // The Telegram adapter turns an image followed by a link to the same address into one photo with a URL button.
    expect(image.url).toBe(link.url);
    // The playground shows both.
    expect(renderReply(link)).toEqual({ type: 'link', text: link.text, url: link.url, label: 'Tap to pay on this phone' });
  });

  it('the pay page picks the rail by User-Agent, and "pay on another device" always shows the QR', async () => {
    await start();
    const o = await checkout();
    const desktop = await page(`/pay/${o.id}`, UA.desktop);
    expect(desktop.statusCode).toBe(200);
    expect(desktop.body).toContain('data-testid="qr"');
    expect(desktop.body).not.toContain('data-testid="pay-here"');

    for (const ua of [UA.iphoneSafari, UA.android]) {
      const phone = await page(`/pay/${o.id}`, ua);
      expect(phone.body).toContain(`href="/pay/${o.id}/h5" data-testid="pay-here" data-rail="h5"`);
      expect(phone.body).toContain(`href="/pay/${o.id}?via=qr" data-testid="show-qr"`);
    }
    const wechatQr = await page(`/pay/${o.id}?via=qr`, UA.wechat);
    expect(wechatQr.statusCode).toBe(200);
    expect(wechatQr.body).toContain('data-testid="qr"');
    const phoneQr = await page(`/pay/${o.id}?via=qr`, UA.iphoneSafari);
    expect(phoneQr.body).toContain('data-testid="qr"');
    expect(phoneQr.body).not.toContain('data-testid="pay-here"');
    // Nothing was made at WeChat Pay beyond the QR: attempts exist only once a rail is used.
    expect(await attempts(o.id)).toEqual([]);
    expect([...emu.orders.keys()]).toEqual([o.outTradeNo]);
  });

  it('without H5 or an Official Account, every device gets the QR; the QR still pays through the fast path', async () => {
    await start({ WECHATPAY_H5: '0', WECHAT_MP_SECRET: '', WECHAT_MP_APPID: '' });
    const o = await checkout();
    for (const ua of [UA.wechat, UA.iphoneSafari, UA.desktop]) {
      const res = await page(`/pay/${o.id}`, ua);
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('data-testid="qr"');
      expect(res.body).not.toContain('data-testid="pay-here"');
    }
    expect((await page(`/pay/${o.id}/h5`, UA.iphoneSafari)).statusCode).toBe(400);
    await t.clock.advance(10 * SECOND_MS);
    expect((await emu.deliver(emu.pay(o.outTradeNo))).status).toBe(204);
    expect(await members()).toEqual([expect.objectContaining({ status: 'active' })]);
  });

  it('H5 in a phone browser: the prepay names the real client address, the browser goes to h5_url with redirect_url = the pay page; paid, active', async () => {
    await start();
    const o = await checkout();
    // TRUST_PROXY is off: a client's own X-Forwarded-For is not believed.
    const go = await page(`/pay/${o.id}/h5`, UA.iphoneSafari, { remoteAddress: '203.0.113.7', headers: { 'x-forwarded-for': '8.8.8.8' } });
    expect(go.statusCode, go.body).toBe(302);
    const h5 = await attemptOn(o.id, 'h5');
    const at = emu.orders.get(h5!.tradeNo)!;
    expect(at).toMatchObject({ tradeType: 'MWEB', payerClientIp: '203.0.113.7', total: 990 });
    expect(go.headers.location).toBe(`${at.h5Url}&redirect_url=${encodeURIComponent(`${base}/pay/${o.id}`)}`);

    // Coming back within 5 minutes re-shows the same h5_url (no second prepay).
    const again = await page(`/pay/${o.id}/h5`, UA.iphoneSafari, { remoteAddress: '203.0.113.7' });
    expect(again.headers.location).toBe(go.headers.location);
    expect(emu.callsTo('POST', '/v3/pay/transactions/h5')).toHaveLength(1);

    await t.clock.advance(30 * SECOND_MS);
    expect((await emu.deliver(emu.pay(h5!.tradeNo))).status).toBe(204);
    expect(await order(o.id)).toMatchObject({ status: 'paid' });
    expect(await members()).toEqual([expect.objectContaining({ platformUserId: 'alice', status: 'active' })]);
    await t.service.worker.drain();
    expect(emu.orders.get(o.outTradeNo)!.state).toBe('CLOSED');
    const paidPage = await page(`/pay/${o.id}`, UA.iphoneSafari);
    expect(paidPage.body).toContain('data-status="paid"');
  });

  it('behind a trusted proxy, the X-Forwarded-For address is the payer address', async () => {
    await start({ TRUST_PROXY: '127.0.0.1' });
    const o = await checkout();
    const go = await page(`/pay/${o.id}/h5`, UA.android, { remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '198.51.100.23' } });
    expect(go.statusCode, go.body).toBe(302);
    const h5 = await attemptOn(o.id, 'h5');
    expect(emu.orders.get(h5!.tradeNo)!.payerClientIp).toBe('198.51.100.23');
  });

  it('a reconcile finds a phone attempt paid without a notification', async () => {
    await start();
    const o = await checkout();
    await page(`/pay/${o.id}/h5`, UA.android, { remoteAddress: '203.0.113.9' });
    const h5 = await attemptOn(o.id, 'h5');
    await t.clock.advance(20 * SECOND_MS);
    emu.pay(h5!.tradeNo);
    await t.clock.advance(3 * MINUTE_MS);
    await t.service.scheduler.tick();
    await t.service.worker.drain();
    expect(await order(o.id)).toMatchObject({ status: 'paid' });
    expect(await members()).toEqual([expect.objectContaining({ status: 'active' })]);
  });

  it('QR and JSAPI both paid for one order: one period, the second payment refunded automatically, the owner told, audited', async () => {
    await start();
    const o = await checkout();
    const jsapiPage = await page(pathOf(await signInInsideWechat(o.id)), UA.wechat);
    const params = jsapiParamsOf(jsapiPage.body);
    const jsapi = await attemptOn(o.id, 'jsapi');

    await t.clock.advance(10 * SECOND_MS);
    const qrPaid = emu.pay(o.outTradeNo);
    const jsapiPaid = emu.jsapiPay(params); // before the close job could run
    expect((await emu.deliver(qrPaid)).status).toBe(204);
    expect((await emu.deliver(jsapiPaid)).status).toBe(204);
    // A retry of the second payment's notification changes nothing more.
    expect((await emu.deliver(jsapiPaid)).status).toBe(204);
    const outcomes = (await t.db.opened.db.selectFrom('webhook_events').select('outcome').orderBy('id').execute()).map((r) => r.outcome);
    expect(outcomes).toEqual(['granted', 'second_payment']);

    await t.service.worker.drain();
    expect(await periods()).toBe(1);
    expect(await order(o.id)).toMatchObject({ status: 'paid', providerTxnId: emu.orders.get(o.outTradeNo)!.transactionId });
    const second = (await attempts(o.id)).find((a) => a.tradeNo === jsapi!.tradeNo)!;
    expect(second.outRefundNo).toMatch(/^[0-9a-f]{32}$/);
    expect(second.refundedAt).not.toBeNull();
    const refund = emu.refunds.get(second.outRefundNo!)!;
    expect(refund).toMatchObject({ outTradeNo: jsapi!.tradeNo, refund: 990, status: 'SUCCESS' });
    expect(emu.refunds.size).toBe(1);
    // The order's own ledger is untouched: one charge, no refund.
    expect((await t.service.deps.store.payments.listForOrder(o.id)).map((p) => p.kind)).toEqual(['charge']);
    expect(await members()).toEqual([expect.objectContaining({ status: 'active' })]);
    const audit = await t.service.deps.store.audit.list({ subjectType: 'order', subjectId: o.id });
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['order.second_payment', 'order.second_payment_refunded']));
    const alerts = (await t.service.deps.store.jobs.list({ kind: 'alert_owners' })).map((j) => (j.payload as { message: { key: string } }).message.key);
    expect(alerts).toContain('owner.second_payment');

    // WeChat Pay's refund notification for the second payment books nothing on the order.
    const note = emu.outbox.find((n) => n.eventType === 'REFUND.SUCCESS')!;
    expect((await emu.deliver(note)).status).toBe(204);
    expect(await order(o.id)).toMatchObject({ status: 'paid' });
    expect(await members()).toEqual([expect.objectContaining({ status: 'active' })]);
  });

  it('QR and H5 notifications arriving at the same moment: one period, exactly one of them refunded', async () => {
    await start();
    for (const user of ['u1', 'u2', 'u3']) {
      const o = await checkout(user);
      await page(`/pay/${o.id}/h5`, UA.android, { remoteAddress: '203.0.113.7' });
      const h5 = await attemptOn(o.id, 'h5');
      await t.clock.advance(SECOND_MS);
      const [a, b] = [emu.pay(o.outTradeNo), emu.pay(h5!.tradeNo)];
      const answers = await Promise.all([emu.deliver(a), emu.deliver(b)]);
      expect(answers.map((x) => x.status)).toEqual([204, 204]);
      await t.service.worker.drain();
      const rows = await t.db.opened.db.selectFrom('membership_periods').select('order_id').where('order_id', '=', o.id).execute();
      expect(rows).toHaveLength(1);
      const refunded = (await attempts(o.id)).filter((x) => x.refundedAt !== null);
      expect(refunded).toHaveLength(1);
      expect(refunded[0]!.paidTxnId).not.toBe((await order(o.id)).providerTxnId);
    }
  });

  it('an owner refund of an order paid by JSAPI refunds the JSAPI trade', async () => {
    await start();
    const o = await checkout();
    const params = jsapiParamsOf((await page(pathOf(await signInInsideWechat(o.id)), UA.wechat)).body);
    const jsapi = await attemptOn(o.id, 'jsapi');
    await t.clock.advance(10 * SECOND_MS);
    await emu.deliver(emu.jsapiPay(params));
    await t.service.worker.drain();
    const r = await api.post(`/api/orders/${o.id}/refund`, { reason: 'changed my mind' });
    expect(r.statusCode, r.body).toBeLessThan(300);
    await t.service.worker.drain();
    expect([...emu.refunds.values()].map((x) => x.outTradeNo)).toEqual([jsapi!.tradeNo]);
    expect(await order(o.id)).toMatchObject({ status: 'refunded' });
  });

  describe('bad input', () => {
    it('a callback with a missing, forged, expired or reused state, or no code: refused with one sentence, the QR below, nothing made', async () => {
      await start();
      const o = await checkout();
      const cb = new URL(await signInInsideWechat(o.id));
      const code = cb.searchParams.get('code')!;
      const state = cb.searchParams.get('state')!;
      const url = (q: Record<string, string>) => `/pay/${o.id}/wechat-oauth?${new URLSearchParams(q).toString()}`;

      const missing = await page(url({ code }), UA.wechat);
      expect(missing.statusCode).toBe(400);
      expect(missing.body).toContain('This sign-in link is incomplete');
      expect(missing.body).toContain('data-testid="qr"');

      const forged = await page(url({ code, state: `${state.slice(0, 32)}${'0'.repeat(32)}` }), UA.wechat);
      expect(forged.statusCode).toBe(400);
      expect(forged.body).toContain('is not one we issued');
      // A genuine state of another order is forged for this one.
      const other = await checkout('bob');
      const otherState = new URL(await signInInsideWechat(other.id)).searchParams.get('state')!;
      expect((await page(url({ code, state: otherState }), UA.wechat)).body).toContain('is not one we issued');

      const noCode = await page(url({ state }), UA.wechat);
      expect(noCode.statusCode).toBe(400);
      expect(noCode.body).toContain('WeChat sent no authorization code');
      // The state was used up by that request: a second use is refused.
      const reused = await page(url({ code, state }), UA.wechat);
      expect(reused.statusCode).toBe(400);
      expect(reused.body).toContain('was already used');

      const late = new URL(await signInInsideWechat(o.id)).searchParams.get('state')!;
      await t.clock.advance(10 * MINUTE_MS + SECOND_MS);
      const expired = await page(url({ code, state: late }), UA.wechat);
      expect(expired.statusCode).toBe(400);
      expect(expired.body).toContain('has expired (10 minutes)');

      expect(mp.exchanges).toEqual([]);
      expect(emu.callsTo('POST', '/v3/pay/transactions/jsapi')).toEqual([]);
      expect(await t.service.deps.store.oauth.getOpenid(o.accountId, MP_APPID)).toBeNull();
    });

    it('a code exchange answered with an errcode falls back to the QR code with one clear sentence', async () => {
      await start();
      const o = await checkout();
      const callback = await signInInsideWechat(o.id);
      mp.nextErrcode = { errcode: 40029, errmsg: 'invalid code' };
      const res = await page(pathOf(callback), UA.wechat);
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('WeChat did not tell us who is paying (errcode 40029)');
      expect(res.body).toContain('data-testid="qr"');
      expect(res.body).not.toContain('getBrandWCPayRequest');
      expect(emu.callsTo('POST', '/v3/pay/transactions/jsapi')).toEqual([]);
      // The next sign-in works: the fallback changed nothing.
      const ok = await page(pathOf(await signInInsideWechat(o.id)), UA.wechat);
      expect(jsapiParamsOf(ok.body).appId).toBe(MP_APPID);
    });

    it('a JSAPI or H5 prepay for an order already paid, expired or refunded: no new prepay, the page shows the status', async () => {
      await start();
      // Paid.
      const paid = await checkout();
      await t.clock.advance(5 * SECOND_MS);
      await emu.deliver(emu.pay(paid.outTradeNo));
      const h5 = await page(`/pay/${paid.id}/h5`, UA.android, { remoteAddress: '203.0.113.7' });
      expect(h5.statusCode).toBe(200);
      expect(h5.body).toContain('data-status="paid"');
      expect((await page(`/pay/${paid.id}`, UA.wechat)).body).toContain('data-status="paid"');
      // Refunded.
      await api.post(`/api/orders/${paid.id}/refund`, {});
      await t.service.worker.drain();
      expect((await order(paid.id)).status).toBe('refunded');
      expect((await page(`/pay/${paid.id}/h5`, UA.android, { remoteAddress: '203.0.113.7' })).body).toContain('data-status="refunded"');
      // Expired.
      const late = await checkout('bob');
      await t.clock.advance(16 * MINUTE_MS);
      await sweepOrderTimeouts(t.service.deps);
      expect((await order(late.id)).status).toBe('expired');
      expect((await page(`/pay/${late.id}/h5`, UA.android, { remoteAddress: '203.0.113.7' })).body).toContain('data-status="expired"');
      // Inside WeChat, an order past its window is not sent to sign in.
      expect((await page(`/pay/${late.id}`, UA.wechat)).statusCode).toBe(200);

      expect(emu.callsTo('POST', '/v3/pay/transactions/h5')).toEqual([]);
      expect(emu.callsTo('POST', '/v3/pay/transactions/jsapi')).toEqual([]);
      expect(await attempts(paid.id)).toEqual([]);
      expect(await attempts(late.id)).toEqual([]);
    });

    it('a pending order past its window (not yet swept) gets no prepay either', async () => {
      await start();
      const o = await checkout();
      await t.clock.advance(15 * MINUTE_MS + SECOND_MS);
      const res = await page(`/pay/${o.id}/h5`, UA.android, { remoteAddress: '203.0.113.7' });
      expect(res.statusCode).toBe(200);
      expect(emu.callsTo('POST', '/v3/pay/transactions/h5')).toEqual([]);
    });

    it('WeChat Pay refusing the H5 prepay (no H5 product): the QR with one sentence', async () => {
      await start();
      const o = await checkout();
      emu.setFault({ kind: 'status', status: 403, code: 'NO_AUTH' }, 1);
      const res = await page(`/pay/${o.id}/h5`, UA.android, { remoteAddress: '203.0.113.7' });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('could not start the payment on this phone');
      expect(res.body).toContain('data-testid="qr"');
    });
  });
});
