// Alipay wire-format units: Beijing timestamps, yuan strings, forms, RSA2 request/response/notification
// signatures and the notification → event mapping. The official alipay-sdk is the independent check:
// what it signs we verify, what we (or the emulator) sign it verifies.
import { createPrivateKey, createPublicKey, sign as rsaSign } from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { WebhookRejectedError } from '../../src/app/ports.ts';
import { decodeForm, encodeForm, formatAlipayTime, fromYuan, parseAlipayTime, timeoutExpress, toYuan } from '../../src/payments/alipay/alipay-format.ts';
import { parseNotification, verifyNotification } from '../../src/payments/alipay/alipay-notification.ts';
import { notificationSignContent, rsa2Sign, rsa2Verify, signContent, topLevelMembers } from '../../src/payments/alipay/alipay-signing.ts';
import { alipayTestKeys, beijing, rsaKeyPair } from '../fakes/alipay-emulator.ts';

const keys = alipayTestKeys();
afterAll(() => keys.cleanup());
const appPriv = createPrivateKey(keys.app.privateKeyPem);
const appPub = createPublicKey(keys.app.publicKeyPem);
const alipayPub = createPublicKey(keys.alipay.publicKeyPem);
const NOW = Date.UTC(2026, 0, 1, 0, 0, 0);

/** Signs like Alipay signs a notification (written here with node:crypto, not with the code under test). */
function signedNotification(fields: Record<string, string>, privateKeyPem = keys.alipay.privateKeyPem): Record<string, string> {
  const content = Object.keys(fields)
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&');
  return { ...fields, sign: rsaSign('sha256', Buffer.from(content), createPrivateKey(privateKeyPem)).toString('base64'), sign_type: 'RSA2' };
}
const form = (p: Record<string, string>) => Buffer.from(new URLSearchParams(p).toString());

const paidFields = (over: Record<string, string> = {}) => ({
  notify_id: '2026010100222080000abcdef',
  notify_type: 'trade_status_sync',
  notify_time: '2026-01-01 08:00:05',
  app_id: keys.appId,
  charset: 'utf-8',
  version: '1.0',
  trade_no: '2026010122001400001',
  out_trade_no: '0123456789abcdef0123456789abcdef',
  trade_status: 'TRADE_SUCCESS',
  total_amount: '9.90',
  receipt_amount: '9.90',
  seller_id: keys.sellerId,
  gmt_create: '2026-01-01 07:59:30',
  gmt_payment: '2026-01-01 08:00:01',
  subject: '月度会员 & more = 100%',
  fund_bill_list: '[{"amount":"9.90","fundChannel":"ALIPAYACCOUNT"}]',
  ...over,
});
const ctx = (over: Partial<Parameters<typeof parseNotification>[1]> = {}) => ({ appId: keys.appId, sellerId: null, alipayKey: alipayPub, now: NOW, ...over });
const rejection = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (e instanceof WebhookRejectedError) return e.rejection;
    throw e;
  }
  return 'accepted';
};

describe('Alipay formats', () => {
  it('writes and reads Beijing time (UTC+8) exactly', () => {
    expect(formatAlipayTime(NOW)).toBe('2026-01-01 08:00:00');
    expect(formatAlipayTime(Date.UTC(2025, 11, 31, 16, 0, 0))).toBe('2026-01-01 00:00:00');
    expect(formatAlipayTime(NOW + 999)).toBe('2026-01-01 08:00:00');
    expect(parseAlipayTime('2026-01-01 08:00:00')).toBe(NOW);
    expect(parseAlipayTime('2026-01-01 08:00:00.123')).toBe(NOW + 123);
    expect(parseAlipayTime('2026-01-01 08:00:00.5')).toBe(NOW + 500);
    for (const bad of ['2026-02-30 08:00:00', '2026-01-01T08:00:00', '2026-1-1 8:00:00', '2026-01-01 24:00:00', '', undefined])
      expect(parseAlipayTime(bad)).toBeNull();
    fc.assert(fc.property(fc.integer({ min: 0, max: 4_102_444_800 }), (s) => parseAlipayTime(formatAlipayTime(s * 1000)) === s * 1000));
  });

  it('converts fen and yuan strings without floats', () => {
    expect(toYuan(990)).toBe('9.90');
    expect(toYuan(1)).toBe('0.01');
    expect(toYuan(0)).toBe('0.00');
    expect(toYuan(10_000_000_000)).toBe('100000000.00');
    expect(() => toYuan(9.5)).toThrow();
    expect(() => toYuan(-1)).toThrow();
    expect(fromYuan('9.90')).toBe(990);
    expect(fromYuan('0.01')).toBe(1);
    expect(fromYuan('20')).toBe(2000);
    expect(fromYuan('9.9')).toBe(990);
    expect(fromYuan('0.07')).toBe(7); // 0.07 * 100 = 7.000000000000001 in floating point
    for (const bad of ['9.999', '-1.00', '1e3', ' 1.00', '1.00 ', '', '.5', '1.', 'NaN', undefined]) expect(fromYuan(bad)).toBeNull();
    fc.assert(fc.property(fc.integer({ min: 0, max: 10_000_000_000 }), (fen) => fromYuan(toYuan(fen)) === fen));
  });

  it('gives timeout_express in whole minutes, rounded up, within 1m–15d', () => {
    expect(timeoutExpress(NOW, NOW + 15 * 60_000)).toBe('15m');
    expect(timeoutExpress(NOW, NOW + 15 * 60_000 - 100)).toBe('15m');
    expect(timeoutExpress(NOW, NOW + 15 * 60_000 + 1)).toBe('16m');
    expect(timeoutExpress(NOW, NOW - 5)).toBe('1m');
    expect(timeoutExpress(NOW, NOW + 30 * 86_400_000)).toBe('21600m');
  });

  it('decodes form bodies strictly', () => {
    expect(decodeForm('a=1+2&b=%E4%BC%9A%E5%91%98&c=&d=x%3Dy%26z')).toEqual({ a: '1 2', b: '会员', c: '', d: 'x=y&z' });
    expect(decodeForm('')).toEqual({});
    expect(() => decodeForm('a=1&a=1')).toThrow(/twice/);
    expect(() => decodeForm('a=%E0%A4%A')).toThrow(/escape/);
    expect(() => decodeForm('garbage')).toThrow(/without "="/);
    expect(() => decodeForm('=x')).toThrow();
    const p = { subject: '会员 & 100% = ok+', n: '1' };
    expect(decodeForm(encodeForm(p))).toEqual(p);
  });
});

describe('Alipay signatures', () => {
  it('builds the request sign content: sorted, no sign, no empty values, raw values', () => {
    expect(signContent({ method: 'alipay.trade.query', app_id: '1', sign: 'x', biz_content: '{"a":"b c&d"}', notify_url: '' })).toBe(
      'app_id=1&biz_content={"a":"b c&d"}&method=alipay.trade.query',
    );
    expect(notificationSignContent({ b: '2', a: '1', sign: 'x', sign_type: 'RSA2' })).toBe('a=1&b=2');
  });

  it('verifies what the official SDK signs (sdkExecute), and refuses it once a field changes', () => {
    const sdk = new AlipaySdk({ appId: keys.appId, privateKey: keys.app.privateKeyPem, keyType: 'PKCS8' });
    const query = sdk.sdkExecute('alipay.trade.precreate', {
      notifyUrl: 'http://gk.test/webhooks/alipay',
      bizContent: { outTradeNo: 'abc', totalAmount: '9.90', subject: '月度会员 & more' },
    });
    const params = Object.fromEntries(new URLSearchParams(query));
    expect(params.sign_type).toBe('RSA2');
    expect(rsa2Verify(signContent(params), params.sign!, appPub)).toBe(true);
    expect(rsa2Verify(signContent({ ...params, biz_content: params.biz_content!.replace('9.90', '0.01') }), params.sign!, appPub)).toBe(false);
  });

  it('signs so that the SDK verifies it, and verifies only base64 RSA2 signatures', () => {
    const content = 'a=1&b=会员';
    const sig = rsa2Sign(content, appPriv);
    const sdk = new AlipaySdk({ appId: keys.appId, privateKey: keys.alipay.privateKeyPem, keyType: 'PKCS8', alipayPublicKey: keys.app.publicKeyPem });
    expect(sdk.rsaCheck(content, sig, 'RSA2')).toBe(true);
    expect(rsa2Verify(content, sig, appPub)).toBe(true);
    expect(rsa2Verify(`${content} `, sig, appPub)).toBe(false);
    expect(rsa2Verify(content, `${sig}!`, appPub)).toBe(false);
    expect(rsa2Verify(content, '', appPub)).toBe(false);
    expect(rsa2Verify(content, sig, createPublicKey(rsaKeyPair().publicKeyPem))).toBe(false);
  });

  it('reads the exact text of each top-level member (what the response signature covers)', () => {
    const node = '{"code":"10000","msg":"Success","qr_code":"https:\\/\\/qr.alipay.com\\/bax0","note":"a } \\" { ]"}';
    const raw = `{ "alipay_trade_precreate_response" : ${node} ,\n "sign":"c2ln"}`;
    const m = topLevelMembers(raw)!;
    expect(m.get('alipay_trade_precreate_response')).toBe(node);
    expect(m.get('sign')).toBe('"c2ln"');
    // The SDK cuts the same text out of the same answer in Alipay's compact layout.
    const sdk = new AlipaySdk({ appId: keys.appId, privateKey: keys.app.privateKeyPem, keyType: 'PKCS8' });
    // (A real-length signature: the SDK's slicing relies on one being there.)
    const compact = `{"alipay_trade_precreate_response":${node},"sign":"${'A'.repeat(342)}=="}`;
    expect(sdk.getSignStr(compact, 'alipay_trade_precreate_response')).toBe(node);
    expect(topLevelMembers(compact)!.get('alipay_trade_precreate_response')).toBe(node);
    expect(topLevelMembers('{"a":[1,{"b":"]"}],"c":null,"d":-1.5e3}')).toEqual(
      new Map([
        ['a', '[1,{"b":"]"}]'],
        ['c', 'null'],
        ['d', '-1.5e3'],
      ]),
    );
    for (const bad of ['', '[]', '"x"', '{"a":1', '{"a":1} x', '{"a":1,"a":2}', '{a:1}', '{"a"}', '<html>502</html>']) expect(topLevelMembers(bad)).toBeNull();
  });
});

describe('Alipay notifications', () => {
  const sdkVerifier = new AlipaySdk({ appId: keys.appId, privateKey: keys.app.privateKeyPem, keyType: 'PKCS8', alipayPublicKey: keys.alipay.publicKeyPem });

  it('accepts a genuine notification exactly when the official SDK does', () => {
    // checkNotifySign URL-decodes values that the form parser already decoded (a "%" in the subject makes
    // it throw: the SDK's issue #45), so it gets a subject without one; checkNotifySignV2 takes them as given.
    const plain = signedNotification(paidFields({ subject: '月度会员 & more' }));
    expect(sdkVerifier.checkNotifySign(plain)).toBe(true);
    expect(verifyNotification(form(plain), alipayPub)).toEqual(plain);
    const n = signedNotification(paidFields());
    expect(sdkVerifier.checkNotifySignV2(n)).toBe(true);
    expect(verifyNotification(form(n), alipayPub)).toEqual(n);
    // One fen changed after signing: both say no.
    const tampered = { ...n, total_amount: '9.89' };
    expect(sdkVerifier.checkNotifySignV2(tampered)).toBe(false);
    expect(rejection(() => verifyNotification(form(tampered), alipayPub))).toBe('bad_signature');
    // Signed by someone else's key: both say no.
    const forged = signedNotification(paidFields(), rsaKeyPair().privateKeyPem);
    expect(sdkVerifier.checkNotifySignV2(forged)).toBe(false);
    expect(rejection(() => verifyNotification(form(forged), alipayPub))).toBe('bad_signature');
  });

  it('maps TRADE_SUCCESS and TRADE_FINISHED to paid, with fen, app id and the payment time', () => {
    for (const status of ['TRADE_SUCCESS', 'TRADE_FINISHED']) {
      const e = parseNotification(form(signedNotification(paidFields({ trade_status: status }))), ctx());
      expect(e).toEqual({
        type: 'paid',
        eventId: '2026010100222080000abcdef',
        outTradeNo: '0123456789abcdef0123456789abcdef',
        providerTxnId: '2026010122001400001',
        amountMinor: 990,
        currency: 'CNY',
        merchantId: keys.appId,
        paidAt: NOW + 1000,
      });
    }
  });

  it('names a foreign app id or seller as the merchant, so the core holds the order for review', () => {
    const foreign = parseNotification(form(signedNotification(paidFields({ app_id: '2021999999999999' }))), ctx());
    expect(foreign).toMatchObject({ type: 'paid', merchantId: '2021999999999999' });
    const seller = parseNotification(form(signedNotification(paidFields({ seller_id: '2088000000000001' }))), ctx({ sellerId: keys.sellerId }));
    expect(seller).toMatchObject({ type: 'paid', merchantId: `${keys.appId} (seller 2088000000000001)` });
    const ok = parseNotification(form(signedNotification(paidFields())), ctx({ sellerId: keys.sellerId }));
    expect(ok).toMatchObject({ type: 'paid', merchantId: keys.appId });
  });

  it('maps refunds, closes and everything else', () => {
    const refund = parseNotification(
      form(
        signedNotification(
          paidFields({
            trade_status: 'TRADE_CLOSED',
            refund_fee: '9.90',
            gmt_refund: '2026-01-02 09:00:00.250',
            out_biz_no: 'abcdef0123456789abcdef0123456789',
          }),
        ),
      ),
      ctx(),
    );
    expect(refund).toEqual({
      type: 'refunded',
      eventId: '2026010100222080000abcdef',
      outTradeNo: '0123456789abcdef0123456789abcdef',
      providerRefundId: 'refund:abcdef0123456789abcdef0123456789',
      amountMinor: 990,
      cumulativeMinor: 990,
      currency: 'CNY',
      refundedAt: Date.UTC(2026, 0, 2, 1, 0, 0, 250),
    });
    // A partial refund keeps TRADE_SUCCESS; refund_fee decides. It is the trade's running total of refunds.
    expect(parseNotification(form(signedNotification(paidFields({ refund_fee: '1.00', out_biz_no: 'r1' }))), ctx())).toMatchObject({
      type: 'refunded',
      amountMinor: 100,
      cumulativeMinor: 100,
      providerRefundId: 'refund:r1',
    });
    // refund_fee=0.00 on an ordinary payment notification is not a refund.
    expect(parseNotification(form(signedNotification(paidFields({ refund_fee: '0.00' }))), ctx())).toMatchObject({ type: 'paid' });
    expect(parseNotification(form(signedNotification(paidFields({ trade_status: 'TRADE_CLOSED' }))), ctx())).toEqual({
      type: 'failed',
      eventId: '2026010100222080000abcdef',
      outTradeNo: '0123456789abcdef0123456789abcdef',
      reason: 'trade closed without payment',
    });
    expect(parseNotification(form(signedNotification(paidFields({ trade_status: 'WAIT_BUYER_PAY' }))), ctx())).toMatchObject({
      type: 'ignored',
      eventId: '2026010100222080000abcdef',
    });
    expect(parseNotification(form(signedNotification(paidFields({ app_id: '2021999999999999', refund_fee: '9.90' }))), ctx())).toMatchObject({
      type: 'ignored',
    });
  });

  it('without out_biz_no, gives each partial refund of a trade its own id, the same on every retry', () => {
    const partial = (fee: string, notifyId: string) => parseNotification(form(signedNotification(paidFields({ notify_id: notifyId, refund_fee: fee }))), ctx());
    const first = partial('1.00', 'n1');
    const retried = partial('1.00', 'n1-again');
    const second = partial('3.00', 'n2');
    expect(first).toMatchObject({ type: 'refunded', cumulativeMinor: 100 });
    expect(second).toMatchObject({ type: 'refunded', cumulativeMinor: 300 });
    const id = (e: ReturnType<typeof parseNotification>) => (e.type === 'refunded' ? e.providerRefundId : null);
    expect(id(retried)).toBe(id(first));
    expect(id(second)).not.toBe(id(first));
  });

  it('rejects bad input before anything else, each with its own reason', () => {
    const n = signedNotification(paidFields());
    const { sign: _s, ...unsigned } = n;
    expect(rejection(() => parseNotification(form(unsigned), ctx()))).toBe('missing_signature');
    expect(rejection(() => parseNotification(Buffer.alloc(0), ctx()))).toBe('missing_signature');
    expect(rejection(() => parseNotification(form({ ...n, sign: '' }), ctx()))).toBe('missing_signature');
    expect(rejection(() => parseNotification(form({ ...n, sign_type: 'RSA' }), ctx()))).toBe('bad_signature');
    expect(rejection(() => parseNotification(form({ ...n, sign: 'bm90IGEgc2lnbmF0dXJl' }), ctx()))).toBe('bad_signature');
    expect(rejection(() => parseNotification(Buffer.from(`${new URLSearchParams(n)}&total_amount=0.01`), ctx()))).toBe('malformed');
    expect(rejection(() => parseNotification(Buffer.from(JSON.stringify(n)), ctx()))).toBe('malformed');
    expect(rejection(() => parseNotification(Buffer.from([0x73, 0x69, 0x67, 0x6e, 0x3d, 0xff, 0xfe]), ctx()))).toBe('malformed');
    expect(rejection(() => parseNotification(Buffer.from('sign=%E0%A4%A'), ctx()))).toBe('malformed');
    // Genuinely signed, but not usable.
    const { notify_id: _n, ...noId } = paidFields();
    expect(rejection(() => parseNotification(form(signedNotification(noId)), ctx()))).toBe('malformed');
    expect(rejection(() => parseNotification(form(signedNotification(paidFields({ total_amount: '9.9x' }))), ctx()))).toBe('malformed');
    // Re-encoding the same fields differently is still the same notification (the signature covers decoded values).
    const reencoded = Buffer.from(
      Object.entries(n)
        .map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%20/g, '+')}`)
        .join('&'),
    );
    expect(rejection(() => parseNotification(reencoded, ctx()))).toBe('accepted');
  });

  it('uses the Beijing time the emulator writes', () => {
    expect(beijing(NOW)).toBe(formatAlipayTime(NOW));
    expect(parseAlipayTime(beijing(NOW + 1234, true))).toBe(NOW + 1234);
  });
});
