// WeChat Pay v3: our signing, verification and decryption checked against the official SDK
// (wechatpay-axios-plugin), and the provider against the strict loopback emulator, including every
// typed failure. The whole-service flows are in wechatpay-service.test.ts.
import { testPlan } from '../helpers/fixtures.ts';
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Aes, Formatter, Rsa } from 'wechatpay-axios-plugin';
import type { Order } from '../../src/app/model.ts';
import { WebhookRejectedError } from '../../src/app/ports.ts';
import type { WechatPayConfig } from '../../src/config.ts';
import { ProviderRejectedError, ProviderUnreachableError } from '../../src/domain/errors.ts';
import { MINUTE_MS, SECOND_MS } from '../../src/domain/time.ts';
import { apiV3KeyBytes, DecryptError, decryptResource } from '../../src/payments/wechatpay/aes-gcm.ts';
import {
  authorization,
  loadPrivateKey,
  loadPublicKey,
  newNonce,
  requestMessage,
  responseMessage,
  SignatureCheckError,
  signSha256Rsa,
  verifyPlatformSignature,
} from '../../src/payments/wechatpay/signing.ts';
import { parseRfc3339, toChinaRfc3339 } from '../../src/payments/wechatpay/time-format.ts';
import { truncateUtf8, WechatPayProvider } from '../../src/payments/wechatpay/wechatpay-provider.ts';
import { FakeClock } from '../fakes/fake-clock.ts';
import { chinaTime, makeWechatPayTestKeys, WechatPayEmulator, type WechatPayTestKeys } from '../fakes/wechatpay-emulator.ts';

let keys: WechatPayTestKeys;
beforeAll(() => {
  keys = makeWechatPayTestKeys();
});
afterAll(() => keys.cleanup());

const configFor = (apiBase: string, over: Partial<WechatPayConfig> = {}): WechatPayConfig => ({
  mchid: keys.mchid,
  appid: keys.appid,
  serial: keys.merchantSerial,
  privateKeyPem: keys.merchantPrivateKeyPem,
  apiV3Key: keys.apiV3Key,
  platformPublicKeyPem: keys.platformPublicKeyPem,
  platformSerial: keys.platformSerial,
  apiBase,
  ...over,
});

// ------------------------------------------------------------------------------------------ crypto

describe('WeChat Pay signing agrees with the official SDK', () => {
  it('builds the request message exactly as Formatter.request, GET (empty body) and POST', () => {
    expect(requestMessage('GET', '/v3/pay/transactions/out-trade-no/abc?mchid=1', 1700000000, 'n0nce', '')).toBe(
      Formatter.request('GET', '/v3/pay/transactions/out-trade-no/abc?mchid=1', 1700000000, 'n0nce', ''),
    );
    expect(requestMessage('GET', '/x', 1, 'n', '')).toBe('GET\n/x\n1\nn\n\n');
    const body = JSON.stringify({ mchid: '1', description: '会员 30 天' });
    expect(requestMessage('POST', '/v3/pay/transactions/native', 1700000000, 'abc', body)).toBe(
      Formatter.request('POST', '/v3/pay/transactions/native', 1700000000, 'abc', body),
    );
    expect(responseMessage(1700000000, 'abc', body).toString('utf8')).toBe(Formatter.response(1700000000, 'abc', body));
    expect(responseMessage(1700000000, 'abc', '').toString('utf8')).toBe(Formatter.response(1700000000, 'abc', ''));
  });

  it('signs Authorization so that Rsa.verify accepts it with the merchant public key, and only for the same request', () => {
    const cred = { mchid: keys.mchid, serial: keys.merchantSerial, privateKey: loadPrivateKey(keys.merchantPrivateKeyPem) };
    const body = '{"mchid":"1900000109"}';
    const header = authorization(cred, 'POST', '/v3/refund/domestic/refunds', body, 1700000000, 'NONCE123');
    expect(header.startsWith('WECHATPAY2-SHA256-RSA2048 ')).toBe(true);
    const params = Object.fromEntries([...header.matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    expect(params).toMatchObject({ mchid: keys.mchid, serial_no: keys.merchantSerial, timestamp: '1700000000', nonce_str: 'NONCE123' });
    const pub = Rsa.from(keys.merchantPublicKeyPem, Rsa.KEY_TYPE_PUBLIC);
    expect(Rsa.verify(Formatter.request('POST', '/v3/refund/domestic/refunds', 1700000000, 'NONCE123', body), params.signature!, pub)).toBe(true);
    expect(Rsa.verify(Formatter.request('POST', '/v3/refund/domestic/refunds', 1700000000, 'NONCE123', `${body} `), params.signature!, pub)).toBe(false);
    expect(Rsa.verify(Formatter.request('GET', '/v3/refund/domestic/refunds', 1700000000, 'NONCE123', body), params.signature!, pub)).toBe(false);
  });

  it('produces signatures the SDK verifies, and verifies signatures the SDK makes', () => {
    const msg = Formatter.response(1700000000, 'nonce', '{"a":1}');
    expect(Rsa.verify(msg, signSha256Rsa(msg, loadPrivateKey(keys.platformPrivateKeyPem)), Rsa.from(keys.platformPublicKeyPem, Rsa.KEY_TYPE_PUBLIC))).toBe(
      true,
    );
    expect(signSha256Rsa(msg, loadPrivateKey(keys.platformPrivateKeyPem))).toBe(Rsa.sign(msg, Rsa.from(keys.platformPrivateKeyPem, Rsa.KEY_TYPE_PRIVATE)));
  });

  it('makes 32-character alphanumeric nonces that differ', () => {
    const a = newNonce();
    expect(a).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(newNonce()).not.toBe(a);
  });

  describe('verifyPlatformSignature (answers and notifications)', () => {
    const now = Date.UTC(2026, 0, 1);
    const ts = Math.floor(now / 1000);
    const body = Buffer.from('{"id":"EV-1","event_type":"TRANSACTION.SUCCESS"}');
    const platformPriv = () => Rsa.from(keys.platformPrivateKeyPem, Rsa.KEY_TYPE_PRIVATE);
    const platform = () => ({ serial: keys.platformSerial, publicKey: loadPublicKey(keys.platformPublicKeyPem) });
    const headers = (over: Partial<Record<'timestamp' | 'nonce' | 'signature' | 'serial', string | undefined>> = {}, at = ts) => ({
      timestamp: String(at),
      nonce: 'abcNONCE',
      signature: Rsa.sign(Formatter.response(at, 'abcNONCE', body.toString()), platformPriv()),
      serial: keys.platformSerial,
      ...over,
    });
    const failure = (f: () => void) => {
      try {
        f();
      } catch (e) {
        if (e instanceof SignatureCheckError) return e.failure;
        throw e;
      }
      return 'accepted';
    };

    it('accepts a genuine SDK signature over the raw bytes, up to 5 minutes off either way', () => {
      expect(failure(() => verifyPlatformSignature(headers(), body, platform(), now))).toBe('accepted');
      expect(failure(() => verifyPlatformSignature(headers({}, ts - 300), body, platform(), now))).toBe('accepted');
      expect(failure(() => verifyPlatformSignature(headers({}, ts + 300), body, platform(), now))).toBe('accepted');
      // A hex certificate serial configured in lower case still names the same key.
      const hexSerial = 'ABCDEF0123456789ABCDEF0123456789ABCDEF01';
      expect(failure(() => verifyPlatformSignature(headers({ serial: hexSerial }), body, { ...platform(), serial: hexSerial.toLowerCase() }, now))).toBe(
        'accepted',
      );
    });

    it('names each kind of failure', () => {
      const h = headers();
      expect(failure(() => verifyPlatformSignature({ ...h, signature: undefined }, body, platform(), now))).toBe('missing');
      expect(failure(() => verifyPlatformSignature({ ...h, nonce: undefined }, body, platform(), now))).toBe('missing');
      expect(failure(() => verifyPlatformSignature({ ...h, serial: 'PUB_KEY_ID_0000' }, body, platform(), now))).toBe('wrong_serial');
      expect(failure(() => verifyPlatformSignature({ ...h, signature: `WECHATPAY/SIGNTEST/${h.signature}` }, body, platform(), now))).toBe('signtest');
      expect(failure(() => verifyPlatformSignature({ ...h, timestamp: '17e8' }, body, platform(), now))).toBe('bad_timestamp');
      expect(failure(() => verifyPlatformSignature(headers({}, ts - 301), body, platform(), now))).toBe('stale');
      expect(failure(() => verifyPlatformSignature(headers({}, ts + 301), body, platform(), now))).toBe('stale');
      expect(failure(() => verifyPlatformSignature(h, Buffer.from(body.toString().replace('EV-1', 'EV-2')), platform(), now))).toBe('mismatch');
      expect(failure(() => verifyPlatformSignature({ ...h, nonce: 'other' }, body, platform(), now))).toBe('mismatch');
      expect(failure(() => verifyPlatformSignature({ ...h, signature: '%%%' }, body, platform(), now))).toBe('mismatch');
      // Signed by someone else's key (our merchant key, say): not the platform's.
      const forged = Rsa.sign(Formatter.response(ts, 'abcNONCE', body.toString()), Rsa.from(keys.merchantPrivateKeyPem, Rsa.KEY_TYPE_PRIVATE));
      expect(failure(() => verifyPlatformSignature({ ...h, signature: forged }, body, platform(), now))).toBe('mismatch');
    });

    it('verifies the raw bytes, so a re-serialized body fails', () => {
      const raw = Buffer.from('{"id": "EV-1",  "event_type": "TRANSACTION.SUCCESS"}');
      const at = ts;
      const sig = Rsa.sign(Formatter.response(at, 'n', raw.toString()), platformPriv());
      const h = { timestamp: String(at), nonce: 'n', signature: sig, serial: keys.platformSerial };
      expect(failure(() => verifyPlatformSignature(h, raw, platform(), now))).toBe('accepted');
      expect(failure(() => verifyPlatformSignature(h, Buffer.from(JSON.stringify(JSON.parse(raw.toString()))), platform(), now))).toBe('mismatch');
    });
  });
});

describe('AEAD_AES_256_GCM resource decryption agrees with the official SDK', () => {
  const key = () => apiV3KeyBytes(keys.apiV3Key);
  const plaintext = JSON.stringify({ out_trade_no: 'a'.repeat(32), amount: { total: 990 }, note: '会员' });

  it('decrypts what Aes.AesGcm.encrypt produced, with and without associated data', () => {
    const ct = Aes.AesGcm.encrypt(plaintext, keys.apiV3Key, 'abcdef123456', 'transaction');
    expect(decryptResource({ ciphertext: ct, nonce: 'abcdef123456', associated_data: 'transaction' }, key())).toBe(plaintext);
    const noAad = Aes.AesGcm.encrypt(plaintext, keys.apiV3Key, 'abcdef123456', '');
    expect(decryptResource({ ciphertext: noAad, nonce: 'abcdef123456', associated_data: '' }, key())).toBe(plaintext);
    expect(decryptResource({ ciphertext: noAad, nonce: 'abcdef123456' }, key())).toBe(plaintext);
    // And the SDK reads the same bytes the same way.
    expect(Aes.AesGcm.decrypt(ct, keys.apiV3Key, 'abcdef123456', 'transaction')).toBe(plaintext);
  });

  it('refuses a wrong key, nonce or AAD, an altered or truncated ciphertext, and non-base64', () => {
    const ct = Aes.AesGcm.encrypt(plaintext, keys.apiV3Key, 'abcdef123456', 'transaction');
    const attempt = (r: { ciphertext: string; nonce: string; associated_data?: string }, k = key()) => {
      try {
        decryptResource(r, k);
        return 'decrypted';
      } catch (e) {
        return e instanceof DecryptError ? 'refused' : 'threw';
      }
    };
    expect(attempt({ ciphertext: ct, nonce: 'abcdef123456', associated_data: 'transaction' }, Buffer.from('x'.repeat(32)))).toBe('refused');
    expect(attempt({ ciphertext: ct, nonce: 'abcdef123457', associated_data: 'transaction' })).toBe('refused');
    expect(attempt({ ciphertext: ct, nonce: 'abcdef123456', associated_data: 'refund' })).toBe('refused');
    const bytes = Buffer.from(ct, 'base64');
    bytes[3] = bytes[3]! ^ 1;
    expect(attempt({ ciphertext: bytes.toString('base64'), nonce: 'abcdef123456', associated_data: 'transaction' })).toBe('refused');
    expect(attempt({ ciphertext: Buffer.from(ct, 'base64').subarray(0, 10).toString('base64'), nonce: 'abcdef123456', associated_data: 'transaction' })).toBe(
      'refused',
    );
    expect(attempt({ ciphertext: 'not base64!', nonce: 'abcdef123456', associated_data: 'transaction' })).toBe('refused');
  });

  it('insists on a 32-byte APIv3 key', () => {
    expect(() => apiV3KeyBytes('short')).toThrow(/32 bytes/);
  });
});

describe('WeChat Pay formats', () => {
  it('writes time_expire in China time with a +08:00 offset and reads RFC 3339 back', () => {
    const ms = Date.UTC(2026, 10, 21, 2, 34, 56, 789);
    expect(toChinaRfc3339(ms)).toBe('2026-11-21T10:34:56+08:00');
    expect(toChinaRfc3339(Date.UTC(2026, 11, 31, 20, 0, 0))).toBe('2027-01-01T04:00:00+08:00');
    expect(parseRfc3339('2026-11-21T10:34:56+08:00')).toBe(Date.UTC(2026, 10, 21, 2, 34, 56));
    expect(parseRfc3339('2026-11-21T02:34:56Z')).toBe(Date.UTC(2026, 10, 21, 2, 34, 56));
    expect(parseRfc3339(chinaTime(ms))).toBe(Math.floor(ms / 1000) * 1000);
    expect(parseRfc3339('2026-11-21 10:34:56')).toBeNull();
    expect(parseRfc3339('yesterday')).toBeNull();
  });

  it('cuts descriptions on UTF-8 byte limits without splitting a character', () => {
    expect(truncateUtf8('Monthly', 127)).toBe('Monthly');
    const zh = '读书会'.repeat(50);
    const cut = truncateUtf8(zh, 127);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(127);
    expect(cut.length).toBe(42);
    expect(zh.startsWith(cut)).toBe(true);
  });
});

// ------------------------------------------------------------------------------------------ provider

const PLAN = testPlan({ name: '读书会 月卡 Monthly' });

function order(clock: FakeClock, over: Partial<Order> = {}): Order {
  const now = clock.now();
  return {
    id: `ord_${Math.random().toString(36).slice(2)}`,
    outTradeNo: [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join(''),
    accountId: 1,
    planId: 1,
    amountMinor: 990,
    currency: 'CNY',
    provider: 'wechatpay',
    status: 'pending',
    createdAt: now,
    updatedAt: now,
    expiresAt: now + 15 * MINUTE_MS,
    paidAt: null,
    providerTxnId: null,
    reviewReason: null,
    checkoutQr: null,
    checkoutUrl: null,
    outRefundNo: null,
    refundReason: null,
    refundedAt: null,
    ...over,
  };
}

const NOTIFY = 'http://127.0.0.1:9/webhooks/wechatpay';
const checkoutFor = (o: Order) => ({ order: o, plan: PLAN, notifyUrl: NOTIFY, payPageUrl: `http://127.0.0.1:9/pay/${o.id}` });

async function failureOf(p: Promise<unknown>): Promise<ProviderRejectedError | ProviderUnreachableError | string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    if (e instanceof ProviderRejectedError || e instanceof ProviderUnreachableError) return e;
    throw e;
  }
}

describe('WechatPayProvider against the emulator', () => {
  let clock: FakeClock;
  let emu: WechatPayEmulator;
  let provider: WechatPayProvider;

  beforeEach(async () => {
    clock = new FakeClock();
    emu = await WechatPayEmulator.start(keys.emulatorOptions(() => clock.now()));
    provider = new WechatPayProvider(configFor(emu.url), clock, { refundNotifyUrl: NOTIFY, timeoutMs: 2000 });
  });
  afterEach(async () => {
    await emu.close();
  });

  it('creates a Native order: signed request, code_url as the QR, our pay page as the link', async () => {
    const o = order(clock);
    const c = await provider.createCheckout(checkoutFor(o));
    const at = emu.orders.get(o.outTradeNo)!;
    expect(c).toEqual({ qrContent: at.codeUrl, payUrl: `http://127.0.0.1:9/pay/${o.id}` });
    expect(c.qrContent).toMatch(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);
    expect(at).toMatchObject({ appid: keys.appid, mchid: keys.mchid, description: PLAN.name, total: 990, currency: 'CNY', notifyUrl: NOTIFY, state: 'NOTPAY' });
    expect(at.timeExpire).toBe(toChinaRfc3339(o.expiresAt));
    expect(at.timeExpire).toMatch(/\+08:00$/);
    expect(Date.parse(at.timeExpire!)).toBe(o.expiresAt);
    expect(emu.calls).toEqual([{ method: 'POST', path: '/v3/pay/transactions/native', status: 200, code: null }]);
    // Asking again for the same order is harmless (same code_url).
    expect((await provider.createCheckout(checkoutFor(o))).qrContent).toBe(c.qrContent);
  });

  it('fits a long Chinese plan name into description', async () => {
    const o = order(clock);
    await provider.createCheckout({ ...checkoutFor(o), plan: { ...PLAN, name: '高级会员'.repeat(40) } });
    expect(Buffer.byteLength(emu.orders.get(o.outTradeNo)!.description)).toBeLessThanOrEqual(127);
  });

  it('only takes CNY', async () => {
    expect(provider.supportsCurrency('CNY')).toBe(true);
    expect(provider.supportsCurrency('USD')).toBe(false);
    expect(await failureOf(provider.createCheckout(checkoutFor(order(clock, { currency: 'USD' }))))).toBeInstanceOf(ProviderRejectedError);
    expect(emu.calls).toHaveLength(0);
  });

  it('queries: unknown, pending, then paid with the full paid event', async () => {
    const o = order(clock);
    expect(await provider.query(o)).toEqual({ state: 'unknown' });
    await provider.createCheckout(checkoutFor(o));
    expect(await provider.query(o)).toEqual({ state: 'pending' });
    await clock.advance(42 * SECOND_MS);
    emu.pay(o.outTradeNo);
    const at = emu.orders.get(o.outTradeNo)!;
    expect(await provider.query(o)).toEqual({
      state: 'paid',
      event: {
        type: 'paid',
        eventId: `query:${at.transactionId}`,
        outTradeNo: o.outTradeNo,
        providerTxnId: at.transactionId,
        amountMinor: 990,
        currency: 'CNY',
        merchantId: keys.mchid,
        paidAt: Math.floor(clock.now() / 1000) * 1000,
      },
    });
    expect(emu.callsTo('GET', `/v3/pay/transactions/out-trade-no/${o.outTradeNo}?mchid=${keys.mchid}`)).toHaveLength(3);
  });

  it('closes an unpaid order (204) and then reports it closed; closing again or closing the unknown is fine', async () => {
    const o = order(clock);
    await provider.createCheckout(checkoutFor(o));
    await provider.close(o);
    expect(emu.orders.get(o.outTradeNo)!.state).toBe('CLOSED');
    expect(emu.callsTo('POST', `/v3/pay/transactions/out-trade-no/${o.outTradeNo}/close`)).toEqual([expect.objectContaining({ status: 204 })]);
    expect(await provider.query(o)).toEqual({ state: 'closed' });
    await provider.close(o);
    await provider.close(order(clock));
    expect(() => emu.pay(o.outTradeNo)).toThrow(/CLOSED/);
  });

  it('refuses to close a paid order with ProviderRejectedError(ORDERPAID), so the core reconciles', async () => {
    const o = order(clock);
    await provider.createCheckout(checkoutFor(o));
    emu.pay(o.outTradeNo);
    const err = await failureOf(provider.close(o));
    expect(err).toBeInstanceOf(ProviderRejectedError);
    expect((err as ProviderRejectedError).detail).toBe('ORDERPAID');
    // The endpoint that refused, without the order's id in it.
    expect((err as ProviderRejectedError).method).toBe('POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close');
    expect(emu.orders.get(o.outTradeNo)!.state).toBe('SUCCESS');
  });

  it('refunds: PROCESSING first, refunded once WeChat Pay says SUCCESS; same out_refund_no is idempotent', async () => {
    const o = order(clock);
    await provider.createCheckout(checkoutFor(o));
    emu.pay(o.outTradeNo);
    const outRefundNo = 'r'.repeat(32);
    const req = { order: { ...o, status: 'refund_pending' as const, outRefundNo }, outRefundNo, amountMinor: 990, reason: '会员要求退款' };
    expect(await provider.refund(req)).toEqual({ state: 'processing' });
    const r = emu.refunds.get(outRefundNo)!;
    expect(r).toMatchObject({
      outTradeNo: o.outTradeNo,
      refund: 990,
      total: 990,
      currency: 'CNY',
      status: 'PROCESSING',
      reason: '会员要求退款',
      notifyUrl: NOTIFY,
    });
    // In flight: the trade says REFUND, but nothing is confirmed yet.
    expect(await provider.query(req.order)).toEqual({ state: 'unknown' });
    // A retry (say after a lost answer) names the same refund and creates nothing new.
    expect(await provider.refund(req)).toEqual({ state: 'processing' });
    expect(emu.refunds.size).toBe(1);
    const n = emu.completeRefund(outRefundNo);
    expect(n.eventType).toBe('REFUND.SUCCESS');
    expect(await provider.query(req.order)).toEqual({ state: 'refunded' });
    expect(await provider.refund(req)).toEqual({ state: 'refunded', providerRefundId: r.refundId });
  });

  it('refunds at once when WeChat Pay answers SUCCESS, naming the real transaction total', async () => {
    emu.refundMode = 'success';
    const o = order(clock, { amountMinor: 990 });
    await provider.createCheckout(checkoutFor(o));
    emu.pay(o.outTradeNo);
    const r = await provider.refund({ order: o, outRefundNo: 'x1'.repeat(16), amountMinor: 990, reason: '' });
    expect(r).toEqual({ state: 'refunded', providerRefundId: emu.refunds.get('x1'.repeat(16))!.refundId });
    // A refund nobody asked us for (merchant platform) shows as refunded for an order without our refund number.
    expect(await provider.query(o)).toEqual({ state: 'refunded' });
  });

  it('will not refund an unpaid order, and says so as a rejection', async () => {
    const o = order(clock);
    await provider.createCheckout(checkoutFor(o));
    expect(await failureOf(provider.refund({ order: o, outRefundNo: 'n'.repeat(32), amountMinor: 990, reason: 'x' }))).toBeInstanceOf(ProviderRejectedError);
    expect(await failureOf(provider.refund({ order: order(clock), outRefundNo: 'm'.repeat(32), amountMinor: 990, reason: 'x' }))).toBeInstanceOf(
      ProviderRejectedError,
    );
    expect(emu.refunds.size).toBe(0);
  });

  it('answers webhooks the way WeChat Pay expects', () => {
    expect(provider.webhookReply('ok')).toEqual({ status: 204 });
    const retry = provider.webhookReply('retry');
    expect(retry.status).toBeGreaterThanOrEqual(500);
    expect(JSON.parse(retry.body!)).toMatchObject({ code: 'FAIL' });
  });

  describe('typed failures', () => {
    it('business errors (4xx JSON) are ProviderRejectedError carrying the code', async () => {
      const foreign = new WechatPayProvider(configFor(emu.url, { appid: 'wx0000000000000000' }), clock);
      const err = await failureOf(foreign.createCheckout(checkoutFor(order(clock))));
      expect(err).toBeInstanceOf(ProviderRejectedError);
      expect((err as ProviderRejectedError).detail).toBe('APPID_MCHID_NOT_MATCH');
      expect((err as ProviderRejectedError).method).toBe('POST /v3/pay/transactions/native');
      const zero = await failureOf(provider.createCheckout(checkoutFor(order(clock, { amountMinor: 0 }))));
      expect((zero as ProviderRejectedError).detail).toBe('PARAM_ERROR');
    });

    it('a request signed with the wrong key, serial or clock is refused with 401 SIGN_ERROR → ProviderRejectedError', async () => {
      const other = makeWechatPayTestKeys();
      try {
        const wrongKey = new WechatPayProvider(configFor(emu.url, { privateKeyPem: other.merchantPrivateKeyPem }), clock);
        const wrongSerial = new WechatPayProvider(configFor(emu.url, { serial: other.merchantSerial }), clock);
        const skewed = new FakeClock(clock.now() + 6 * MINUTE_MS);
        const late = new WechatPayProvider(configFor(emu.url), skewed);
        for (const p of [wrongKey, wrongSerial, late]) {
          const err = await failureOf(p.createCheckout(checkoutFor(order(clock))));
          expect(err).toBeInstanceOf(ProviderRejectedError);
          expect((err as ProviderRejectedError).detail).toBe('SIGN_ERROR');
        }
        expect(emu.orders.size).toBe(0);
        expect(emu.calls.map((c) => c.status)).toEqual([401, 401, 401]);
      } finally {
        other.cleanup();
      }
    });

    it('5xx and 429 are ProviderUnreachableError', async () => {
      emu.setFault({ kind: 'status', status: 500, code: 'SYSTEM_ERROR' }, 1);
      expect(await failureOf(provider.createCheckout(checkoutFor(order(clock))))).toBeInstanceOf(ProviderUnreachableError);
      emu.setFault({ kind: 'status', status: 503, code: 'SYSTEM_ERROR' }, 1);
      const down = await failureOf(provider.query(order(clock)));
      expect(down).toBeInstanceOf(ProviderUnreachableError);
      expect((down as ProviderUnreachableError).method).toBe('GET /v3/pay/transactions/out-trade-no/{out_trade_no}');
      emu.setFault({ kind: 'status', status: 429, code: 'FREQUENCY_LIMITED' }, 1);
      expect(await failureOf(provider.close(order(clock)))).toBeInstanceOf(ProviderUnreachableError);
      // Fault spent: the next call goes through.
      expect(await provider.query(order(clock))).toEqual({ state: 'unknown' });
    });

    it('a dropped connection, a hung answer and a refused connection are ProviderUnreachableError', async () => {
      emu.setFault({ kind: 'reset' }, 1);
      expect(await failureOf(provider.createCheckout(checkoutFor(order(clock))))).toBeInstanceOf(ProviderUnreachableError);

      const impatient = new WechatPayProvider(configFor(emu.url), clock, { timeoutMs: 300 });
      emu.setFault({ kind: 'hang' }, 1);
      const started = Date.now();
      const hung = await failureOf(impatient.query(order(clock)));
      expect(hung).toBeInstanceOf(ProviderUnreachableError);
      expect((hung as Error).message).toMatch(/no answer within 300 ms/);
      expect(Date.now() - started).toBeLessThan(5000);

      const port = await closedPort();
      const nobody = new WechatPayProvider(configFor(`http://127.0.0.1:${port}`), clock, { timeoutMs: 2000 });
      const refused = await failureOf(nobody.refund({ order: order(clock), outRefundNo: 'z'.repeat(32), amountMinor: 990, reason: '' }));
      expect(refused).toBeInstanceOf(ProviderUnreachableError);
      // Which call, and the network error underneath (fetch's own, with the refused connection as its cause).
      expect((refused as ProviderUnreachableError).method).toBe('GET /v3/pay/transactions/out-trade-no/{out_trade_no}');
      const cause = (refused as Error).cause as Error;
      expect(cause).toBeInstanceOf(Error);
      expect(String((cause.cause as Error | undefined)?.message ?? cause.message)).toMatch(/ECONNREFUSED|connect/i);
    });

    it('an answer we cannot verify means we do not know what happened: ProviderUnreachableError', async () => {
      for (const tamper of ['bad_signature', 'signtest', 'unsigned', 'wrong_serial', 'stale'] as const) {
        const o = order(clock);
        emu.setFault({ kind: 'answer', tamper }, 1);
        const err = await failureOf(provider.createCheckout(checkoutFor(o)));
        expect(err, tamper).toBeInstanceOf(ProviderUnreachableError);
        // The order was created there all the same: a later query finds it.
        expect(emu.orders.get(o.outTradeNo)?.state, tamper).toBe('NOTPAY');
        expect(await provider.query(o), tamper).toEqual({ state: 'pending' });
      }
      // A refusal is only trusted when its signature holds (or it is the unsigned SIGN_ERROR kind).
      const paid = order(clock);
      await provider.createCheckout(checkoutFor(paid));
      emu.pay(paid.outTradeNo);
      emu.setFault({ kind: 'answer', tamper: 'bad_signature' }, 1);
      expect(await failureOf(provider.close(paid))).toBeInstanceOf(ProviderUnreachableError);
      // And a 204 must be signed too.
      const open = order(clock);
      await provider.createCheckout(checkoutFor(open));
      emu.setFault({ kind: 'answer', tamper: 'unsigned' }, 1);
      expect(await failureOf(provider.close(open))).toBeInstanceOf(ProviderUnreachableError);
    });
  });

  describe('parseWebhook', () => {
    const headersOf = (h: Record<string, string>) => h as Record<string, string | undefined>;
    const rejection = async (p: Promise<unknown>) => {
      try {
        await p;
        return 'accepted';
      } catch (e) {
        if (e instanceof WebhookRejectedError) return e.rejection;
        throw e;
      }
    };

    it('turns TRANSACTION.SUCCESS into a paid event (id, transaction_id, total, currency, success_time, mchid)', async () => {
      const o = order(clock);
      await provider.createCheckout(checkoutFor(o));
      await clock.advance(5 * SECOND_MS);
      const n = emu.pay(o.outTradeNo);
      const at = emu.orders.get(o.outTradeNo)!;
      const event = await provider.parseWebhook(Buffer.from(n.body), headersOf(emu.signedHeaders(n.body)));
      expect(event).toEqual({
        type: 'paid',
        eventId: n.id,
        outTradeNo: o.outTradeNo,
        providerTxnId: at.transactionId,
        amountMinor: 990,
        currency: 'CNY',
        merchantId: keys.mchid,
        paidAt: Math.floor(clock.now() / 1000) * 1000,
      });
    });

    it('names a payment under another appid as a foreign merchant (so the core holds it for review)', async () => {
      const o = order(clock);
      await provider.createCheckout(checkoutFor(o));
      const n = emu.pay(o.outTradeNo, { resourceOverrides: { appid: 'wx1111111111111111' } });
      const event = await provider.parseWebhook(Buffer.from(n.body), headersOf(emu.signedHeaders(n.body)));
      expect(event).toMatchObject({ type: 'paid', merchantId: `${keys.mchid}/wx1111111111111111` });
      expect(event.type === 'paid' && event.merchantId).not.toBe(provider.merchantId);
    });

    it('turns REFUND.SUCCESS into a refunded event; other events are ignored', async () => {
      emu.refundMode = 'success';
      const o = order(clock);
      await provider.createCheckout(checkoutFor(o));
      emu.pay(o.outTradeNo);
      await provider.refund({ order: o, outRefundNo: 'q'.repeat(32), amountMinor: 990, reason: '' });
      const n = emu.outbox.at(-1)!;
      expect(n.eventType).toBe('REFUND.SUCCESS');
      const r = emu.refunds.get('q'.repeat(32))!;
      expect(await provider.parseWebhook(Buffer.from(n.body), headersOf(emu.signedHeaders(n.body)))).toEqual({
        type: 'refunded',
        eventId: n.id,
        outTradeNo: o.outTradeNo,
        providerRefundId: r.refundId,
        amountMinor: 990,
        currency: 'CNY',
        refundedAt: Date.parse(r.successTime!),
      });
      const other = emu.notification('TRANSACTION.PAY_BACK', 'transaction', { anything: 1 }, NOTIFY);
      expect(await provider.parseWebhook(Buffer.from(other.body), headersOf(emu.signedHeaders(other.body)))).toMatchObject({
        type: 'ignored',
        eventId: other.id,
      });
      const abnormal = emu.notification('REFUND.ABNORMAL', 'refund', { out_trade_no: o.outTradeNo }, NOTIFY);
      expect(await provider.parseWebhook(Buffer.from(abnormal.body), headersOf(emu.signedHeaders(abnormal.body)))).toMatchObject({
        type: 'ignored',
        eventId: abnormal.id,
      });
    });

    it('rejects before parsing: missing headers, bad or probing signatures, wrong serial, stale time', async () => {
      const o = order(clock);
      await provider.createCheckout(checkoutFor(o));
      const n = emu.pay(o.outTradeNo);
      const body = Buffer.from(n.body);
      const good = emu.signedHeaders(n.body);
      expect(await rejection(provider.parseWebhook(body, {}))).toBe('missing_signature');
      expect(await rejection(provider.parseWebhook(body, { ...good, 'wechatpay-timestamp': undefined }))).toBe('missing_signature');
      expect(await rejection(provider.parseWebhook(body, headersOf(emu.signedHeaders(n.body, { signature: 'wrong' }))))).toBe('bad_signature');
      expect(await rejection(provider.parseWebhook(body, headersOf(emu.signedHeaders(n.body, { signature: 'signtest' }))))).toBe('bad_signature');
      expect(await rejection(provider.parseWebhook(body, headersOf(emu.signedHeaders(n.body, { serial: 'PUB_KEY_ID_9999' }))))).toBe('bad_signature');
      expect(await rejection(provider.parseWebhook(body, headersOf(emu.signedHeaders(n.body, { timestampOffsetMs: -6 * MINUTE_MS }))))).toBe('bad_signature');
      expect(await rejection(provider.parseWebhook(Buffer.from(n.body.replace('"TRANSACTION.SUCCESS"', '"TRANSACTION.SUCCES"')), headersOf(good)))).toBe(
        'bad_signature',
      );
      expect(await rejection(provider.parseWebhook(body, headersOf(good)))).toBe('accepted');
    });

    it('rejects as malformed: garbage, a foreign envelope, a resource that will not decrypt or lacks fields', async () => {
      const signedBad = async (text: string) => rejection(provider.parseWebhook(Buffer.from(text), headersOf(emu.signedHeaders(text))));
      expect(await signedBad('not json at all')).toBe('malformed');
      expect(await signedBad('{"hello":"world"}')).toBe('malformed');
      const wrongKey = emu.notification('TRANSACTION.SUCCESS', 'transaction', { trade_state: 'SUCCESS' }, NOTIFY, { key: 'k'.repeat(32) });
      expect(await signedBad(wrongKey.body)).toBe('malformed');
      const notJson = JSON.parse(emu.notification('TRANSACTION.SUCCESS', 'transaction', {}, NOTIFY).body);
      notJson.resource.ciphertext = Aes.AesGcm.encrypt('plain words', keys.apiV3Key, notJson.resource.nonce, notJson.resource.associated_data);
      expect(await signedBad(JSON.stringify(notJson))).toBe('malformed');
      const lacking = emu.notification('TRANSACTION.SUCCESS', 'transaction', { trade_state: 'SUCCESS', mchid: keys.mchid }, NOTIFY);
      expect(await signedBad(lacking.body)).toBe('malformed');
      const fractional = emu.notification(
        'TRANSACTION.SUCCESS',
        'transaction',
        {
          ...emu.transactionJson({ ...sampleOrder(), transactionId: '4200', successTime: chinaTime(clock.now()), state: 'SUCCESS' }),
          amount: { total: 9.9, currency: 'CNY' },
        },
        NOTIFY,
      );
      expect(await signedBad(fractional.body)).toBe('malformed');
    });
  });
});

function sampleOrder() {
  return {
    appid: keys.appid,
    mchid: keys.mchid,
    description: 'x',
    outTradeNo: 'a'.repeat(32),
    timeExpire: null,
    expireAt: null,
    notifyUrl: NOTIFY,
    total: 990,
    currency: 'CNY',
    codeUrl: 'weixin://x',
    state: 'NOTPAY' as const,
    transactionId: null,
    successTime: null,
    createdAt: 0,
  };
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
