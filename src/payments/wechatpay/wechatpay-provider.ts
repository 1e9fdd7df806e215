// WeChat Pay API v3, Native (扫码支付): the code_url is the QR, notifications arrive signed and encrypted,
// query / close / domestic refund for reconcile, time-outs and owner refunds. Issue 21 adds the phone rails:
//
// PROTOCOL JSAPI 下单 (pay.weixin.qq.com/doc/v3/merchant/4012791856; the same body as 小程序下单 4012525182):
//   POST /v3/pay/transactions/jsapi {appid (the Official Account's, bound to mchid), mchid, description ≤127,
//   out_trade_no 6–32 [0-9A-Za-z_-*], time_expire RFC 3339, notify_url (https, no query), amount{total,currency},
//   payer{openid} (required: the openid under that appid)} → 200 {"prepay_id":"wx2…"} (valid 2 hours).
// PROTOCOL JSAPI 调起支付 (pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_1_4.shtml):
//   WeixinJSBridge.invoke('getBrandWCPayRequest', {appId, timeStamp (seconds, a string), nonceStr (≤32),
//   package: "prepay_id=…", signType: "RSA", paySign}), paySign = base64 SHA256withRSA with the merchant API
//   key over `appId\ntimeStamp\nnonceStr\npackage\n`. The page answers err_msg "get_brand_wcpay_request:ok" /
//   ":cancel" / ":fail"; only the notification (or a query) says the money arrived.
// PROTOCOL H5 下单 (pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter3_3_1.shtml):
//   POST /v3/pay/transactions/h5 {appid, mchid, description, out_trade_no, time_expire, notify_url, amount,
//   scene_info{payer_client_ip (required: the payer's own address, IPv4 or IPv6), h5_info{type (required:
//   "Wap", "iOS" or "Android")}}} → 200 {"h5_url":"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=…&package=…"}.
//   h5_url is good for 5 minutes; `&redirect_url=<urlencoded>` sends the person back after paying (the
//   domain must be the merchant's H5 支付域名). The payer's address must match the one that opens h5_url.
// Query, close and refund are the Native ones, under the attempt's own out_trade_no.
import type { Order } from '../../app/model.ts';
import type {
  Checkout,
  CheckoutRequest,
  PaymentProvider,
  PhonePay,
  PhonePayRequest,
  PhoneRail,
  ProviderEvent,
  QueryResult,
  RefundRequest,
  RefundResult,
  WebhookReply,
} from '../../app/ports.ts';
import type { WechatPayConfig } from '../../config.ts';
import { ProviderRejectedError } from '../../domain/errors.ts';
import type { Clock } from '../../domain/time.ts';
import { apiV3KeyBytes } from './aes-gcm.ts';
import { PROVIDER, rejected, unreadable, WechatPayApi } from './api-client.ts';
import { parseNotification } from './notifications.ts';
import { DEFAULT_CURRENCY, type Merchant, paidEventOf, Refund, Transaction } from './resources.ts';
import { loadPrivateKey, loadPublicKey, newNonce, type PlatformKey, signSha256Rsa } from './signing.ts';
import type { KeyObject } from 'node:crypto';
import { toChinaRfc3339 } from './time-format.ts';
import { railTakesCurrency } from '../currencies.ts';

export interface WechatPayOptions {
  /** Where refund notifications go (PUBLIC_URL/webhooks/wechatpay); without it the merchant platform's setting applies. */
  refundNotifyUrl?: string;
  /** Per-call timeout (default providerFetch's). */
  timeoutMs?: number;
  /** WECHATPAY_H5=1: the merchant has the H5 product; phone browsers pay by H5. */
  h5?: boolean;
  /** The Official Account appid JSAPI payments are made under (WECHAT_MP_APPID); absent: no JSAPI. */
  jsapiAppid?: string;
}

/** WeChat Pay's limits are in bytes of UTF-8 for Chinese text too; cut on a character boundary. */
export function truncateUtf8(s: string, maxBytes: number): string {
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

const CODE_URL = /^weixin:\/\/\S{1,500}$/;
const PREPAY_ID = /^[A-Za-z0-9_-]{1,64}$/;
const JSAPI = 'POST /v3/pay/transactions/jsapi';
const H5 = 'POST /v3/pay/transactions/h5';
const QUERY_ORDER = 'GET /v3/pay/transactions/out-trade-no/{out_trade_no}';
const REFUND = 'POST /v3/refund/domestic/refunds';

export class WechatPayProvider implements PaymentProvider {
  readonly name = PROVIDER;
  readonly merchantId: string;
  private readonly api: WechatPayApi;
  private readonly merchant: Merchant;
  private readonly platform: PlatformKey;
  private readonly apiV3Key: Buffer;
  private readonly merchantKey: KeyObject;
  readonly phoneRails: readonly PhoneRail[];

  constructor(
    config: WechatPayConfig,
    private readonly clock: Clock,
    private readonly opts: WechatPayOptions = {},
  ) {
    this.merchantId = config.mchid;
    this.merchant = { mchid: config.mchid, appid: config.appid, ...(opts.jsapiAppid ? { mpAppid: opts.jsapiAppid } : {}) };
    this.merchantKey = loadPrivateKey(config.privateKeyPem);
    this.phoneRails = [...(opts.jsapiAppid ? (['jsapi'] as const) : []), ...(opts.h5 ? (['h5'] as const) : [])];
    this.platform = { serial: config.platformSerial, publicKey: loadPublicKey(config.platformPublicKeyPem) };
    this.apiV3Key = apiV3KeyBytes(config.apiV3Key);
    this.api = new WechatPayApi({
      apiBase: config.apiBase,
      cred: { mchid: config.mchid, serial: config.serial, privateKey: this.merchantKey },
      platform: this.platform,
      clock,
      timeoutMs: opts.timeoutMs,
    });
  }

  supportsCurrency(currency: string): boolean {
    return railTakesCurrency('wechatpay', currency);
  }

  async createCheckout(req: CheckoutRequest): Promise<Checkout> {
    const { order } = req;
    if (!this.supportsCurrency(order.currency))
      throw new ProviderRejectedError(PROVIDER, `cannot take payments in ${order.currency}`, undefined, { method: 'POST /v3/pay/transactions/native' });
    const answer = await this.api.call('POST', '/v3/pay/transactions/native', {
      appid: this.merchant.appid,
      mchid: this.merchant.mchid,
      description: truncateUtf8(req.plan.name, 127) || 'Gatekeeper',
      out_trade_no: order.outTradeNo,
      time_expire: toChinaRfc3339(order.expiresAt),
      notify_url: req.notifyUrl,
      amount: { total: order.amountMinor, currency: order.currency },
    });
    if (!answer.ok) throw rejected(answer, 'create order');
    const codeUrl = (answer.json as { code_url?: unknown } | null)?.code_url;
    if (typeof codeUrl !== 'string' || !CODE_URL.test(codeUrl)) throw unreadable('the create-order answer', 'POST /v3/pay/transactions/native');
    // Our own page shows the QR with the order's live status; the code_url itself only opens inside WeChat.
    return { qrContent: codeUrl, payUrl: req.payPageUrl };
  }

  async startPhonePay(req: PhonePayRequest): Promise<PhonePay> {
    const { order } = req;
    const common = {
      mchid: this.merchant.mchid,
      description: truncateUtf8(req.plan.name, 127) || 'Gatekeeper',
      out_trade_no: req.tradeNo,
      time_expire: toChinaRfc3339(order.expiresAt),
      notify_url: req.notifyUrl,
      amount: { total: order.amountMinor, currency: order.currency },
    };
    if (req.rail === 'jsapi') {
      const appId = this.opts.jsapiAppid;
      if (!appId || !req.openid) throw new ProviderRejectedError(PROVIDER, 'JSAPI is not configured or the openid is missing', undefined, { method: JSAPI });
      let prepayId = req.prepay?.prepay_id;
      if (!prepayId) {
        const answer = await this.api.call('POST', '/v3/pay/transactions/jsapi', { appid: appId, ...common, payer: { openid: req.openid } });
        if (!answer.ok) throw rejected(answer, 'create JSAPI order');
        const id = (answer.json as { prepay_id?: unknown } | null)?.prepay_id;
        if (typeof id !== 'string' || !PREPAY_ID.test(id)) throw unreadable('the JSAPI create-order answer', JSAPI);
        prepayId = id;
      }
      // Signed afresh each time the page is shown: the prepay_id itself lives 2 hours.
      const timeStamp = String(Math.floor(this.clock.now() / 1000));
      const nonceStr = newNonce();
      const pkg = `prepay_id=${prepayId}`;
      const paySign = signSha256Rsa(`${appId}\n${timeStamp}\n${nonceStr}\n${pkg}\n`, this.merchantKey);
      return { kind: 'jsapi', params: { appId, timeStamp, nonceStr, package: pkg, signType: 'RSA', paySign }, prepay: { prepay_id: prepayId } };
    }
    if (req.rail === 'h5') {
      let h5Url = req.prepay?.h5_url;
      if (!h5Url) {
        if (!req.payerIp) throw new ProviderRejectedError(PROVIDER, 'H5 needs the payer address', undefined, { method: H5 });
        const answer = await this.api.call('POST', '/v3/pay/transactions/h5', {
          appid: this.merchant.appid,
          ...common,
          scene_info: { payer_client_ip: req.payerIp, h5_info: { type: 'Wap' } },
        });
        if (!answer.ok) throw rejected(answer, 'create H5 order');
        const url = (answer.json as { h5_url?: unknown } | null)?.h5_url;
        if (typeof url !== 'string' || !/^https?:\/\/\S{1,1000}$/.test(url)) throw unreadable('the H5 create-order answer', H5);
        h5Url = url;
      }
      const sep = h5Url.includes('?') ? '&' : '?';
      return { kind: 'redirect', url: `${h5Url}${sep}redirect_url=${encodeURIComponent(req.payPageUrl)}`, prepay: { h5_url: h5Url } };
    }
    throw new ProviderRejectedError(PROVIDER, `WeChat Pay has no ${req.rail} rail`);
  }

  async parseWebhook(rawBody: Buffer, headers: Record<string, string | undefined>): Promise<ProviderEvent> {
    return parseNotification(rawBody, headers, { platform: this.platform, apiV3Key: this.apiV3Key, merchant: this.merchant, now: this.clock.now() });
  }

  webhookReply(result: 'ok' | 'retry'): WebhookReply {
    // 200/204 = received. Anything else (with code FAIL) makes WeChat Pay send it again later.
    return result === 'ok'
      ? { status: 204 }
      : { status: 500, body: JSON.stringify({ code: 'FAIL', message: 'temporary failure, please retry' }), contentType: 'application/json' };
  }

  private async transaction(outTradeNo: string): Promise<Transaction | null> {
    const answer = await this.api.call(
      'GET',
      `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}?mchid=${encodeURIComponent(this.merchant.mchid)}`,
    );
    if (!answer.ok) {
      // Never created there (the create call did not get through): nothing to find.
      if (answer.code === 'ORDER_NOT_EXIST' || answer.code === 'ORDERNOTEXIST') return null;
      throw rejected(answer, 'query order');
    }
    const t = Transaction.safeParse(answer.json);
    if (!t.success || t.data.out_trade_no !== outTradeNo) throw unreadable('the query answer', QUERY_ORDER);
    return t.data;
  }

  async query(order: Order): Promise<QueryResult> {
    const t = await this.transaction(order.outTradeNo);
    if (!t) return { state: 'unknown' };
    switch (t.trade_state) {
      case 'SUCCESS': {
        const event = paidEventOf(t, `query:${t.transaction_id ?? ''}`, this.merchant);
        if (!event) throw unreadable('the query answer for a paid order', QUERY_ORDER);
        return { state: 'paid', event };
      }
      case 'NOTPAY':
      case 'USERPAYING':
        return { state: 'pending' };
      case 'CLOSED':
      case 'REVOKED':
      case 'PAYERROR':
        return { state: 'closed' };
      case 'REFUND':
        return this.refundState(order);
      default:
        return { state: 'unknown' };
    }
  }

  /**
   * `REFUND` only says a refund was started. For our own refund, ask about it: only a SUCCESS refund is
   * `refunded`; one still processing (or abnormal) is `unknown` so nothing is revoked too early. A refund
   * we did not ask for (made in the merchant platform) is `refunded`: the core puts that order in review.
   */
  private async refundState(order: Order): Promise<QueryResult> {
    if (!order.outRefundNo) return { state: 'refunded' };
    const answer = await this.api.call('GET', `/v3/refund/domestic/refunds/${encodeURIComponent(order.outRefundNo)}`);
    if (!answer.ok) {
      if (answer.status === 404) return { state: 'refunded' };
      throw rejected(answer, 'query refund');
    }
    const r = Refund.safeParse(answer.json);
    if (!r.success || r.data.out_refund_no !== order.outRefundNo)
      throw unreadable('the refund query answer', 'GET /v3/refund/domestic/refunds/{out_refund_no}');
    return r.data.status === 'SUCCESS' ? { state: 'refunded' } : { state: 'unknown' };
  }

  async close(order: Order): Promise<void> {
    const answer = await this.api.call('POST', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(order.outTradeNo)}/close`, {
      mchid: this.merchant.mchid,
    });
    if (answer.ok) return;
    // Nothing to close there, or already closed: the QR is dead either way.
    if (answer.code === 'ORDER_NOT_EXIST' || answer.code === 'ORDERNOTEXIST' || answer.code === 'ORDER_CLOSED' || answer.code === 'ORDERCLOSED') return;
    // ORDERPAID and the like: the core asks again (reconcile) and honours the payment.
    throw rejected(answer, 'close order');
  }

  async refund(req: RefundRequest): Promise<RefundResult> {
    // The refund must name the transaction's real total, which can differ from the order's price when a
    // mismatched payment was held for review: ask WeChat Pay rather than assume.
    const t = await this.transaction(req.order.outTradeNo);
    if (!t) throw new ProviderRejectedError(PROVIDER, 'refund: WeChat Pay has no such order', 'ORDER_NOT_EXIST', { method: QUERY_ORDER });
    if (t.trade_state !== 'SUCCESS' && t.trade_state !== 'REFUND')
      throw new ProviderRejectedError(PROVIDER, `refund: the order is ${t.trade_state} at WeChat Pay, not paid`, t.trade_state, { method: QUERY_ORDER });
    const body: Record<string, unknown> = {
      out_trade_no: req.order.outTradeNo,
      out_refund_no: req.outRefundNo,
      reason: truncateUtf8(req.reason, 80) || undefined,
      amount: { refund: req.amountMinor, total: t.amount.total, currency: t.amount.currency ?? DEFAULT_CURRENCY },
    };
    if (this.opts.refundNotifyUrl) body.notify_url = this.opts.refundNotifyUrl;
    const answer = await this.api.call('POST', '/v3/refund/domestic/refunds', body);
    if (!answer.ok) throw rejected(answer, 'refund');
    const r = Refund.safeParse(answer.json);
    if (!r.success || r.data.out_refund_no !== req.outRefundNo) throw unreadable('the refund answer', REFUND);
    switch (r.data.status) {
      case 'SUCCESS':
        return { state: 'refunded', providerRefundId: r.data.refund_id };
      case 'PROCESSING':
        return { state: 'processing' };
      default:
        // ABNORMAL (the payer's card refused it) or CLOSED: a person has to act in the merchant platform.
        throw new ProviderRejectedError(
          PROVIDER,
          `refund ${r.data.status ?? 'in an unknown state'}: handle it in the WeChat Pay merchant platform`,
          r.data.status,
          { method: REFUND },
        );
    }
  }
}

export function createWechatPayProvider(config: WechatPayConfig, clock: Clock, opts: WechatPayOptions = {}): WechatPayProvider {
  return new WechatPayProvider(config, clock, opts);
}
