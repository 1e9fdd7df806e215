// Alipay face-to-face precreate (当面付 扫码): the member scans our QR with the Alipay app.
//
// Facts the mapping rests on:
//   - precreate only reserves a QR code; the trade exists at Alipay from the moment the buyer scans it.
//     Until then alipay.trade.query and alipay.trade.close answer 40004 ACQ.TRADE_NOT_EXIST.
//   - timeout_express makes the QR (and an unpaid trade) die with our order; on our time-out we also
//     ask Alipay to close, and an already-paid trade refuses (ACQ.TRADE_STATUS_ERROR) → the core queries.
//   - alipay.trade.refund is idempotent per out_request_no: asking again with the same number never
//     refunds twice, it answers with fund_change=N. So fund_change=N is not "not refunded": we then ask
//     alipay.trade.fastpay.refund.query, whose refund_status=REFUND_SUCCESS is the definite answer.
import type { KeyObject } from 'node:crypto';
//
// Issue 21, the phone rail:
// PROTOCOL alipay.trade.wap.pay 手机网站支付 (opendocs.alipay.com/open/203/107090, api_1/alipay.trade.wap.pay):
//   a page-redirect API, not a server call: the merchant signs the request (the common parameters app_id,
//   method, format, return_url, charset, sign_type=RSA2, timestamp, version=1.0, notify_url, biz_content; the
//   signature as for every gateway call: sorted k=v&… without sign, SHA256withRSA) and the browser GETs it
//   from gateway.do, which shows Alipay's cashier (or opens the Alipay app). biz_content: out_trade_no ≤64,
//   total_amount (yuan, 2 decimals), subject ≤256, product_code "QUICK_WAP_WAY", quit_url (where "back" goes
//   when the person gives up), timeout_express. After paying, the browser returns to return_url (its query
//   is informational: only the notification, handled as for the QR, says the money arrived).
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
import type { AlipayConfig } from '../../config.ts';
import { ProviderRejectedError, ProviderUnreachableError } from '../../domain/errors.ts';
import { MINUTE_MS, type Clock } from '../../domain/time.ts';
import { fromYuan, parseAlipayTime, timeoutExpress, toYuan } from './alipay-format.ts';
import { AlipayBusinessError, AlipayGateway, type AlipayGatewayOptions, PROVIDER, type ResponseNode } from './alipay-gateway.ts';
import { parseNotification } from './alipay-notification.ts';
import { publicKey } from './alipay-signing.ts';
import { railTakesCurrency } from '../currencies.ts';

/**
 * How long after the order's own expiry an ACQ.TRADE_NOT_EXIST still means "not scanned yet": timeout_express
 * is rounded up to a whole minute, so the QR may outlive the order by that much.
 */
export const NOT_EXIST_SLACK_MS = MINUTE_MS;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const isNotExist = (e: unknown) => e instanceof AlipayBusinessError && e.subCode === 'ACQ.TRADE_NOT_EXIST';

export class AlipayProvider implements PaymentProvider {
  readonly name = PROVIDER;
  readonly merchantId: string;
  private readonly gateway: AlipayGateway;
  private readonly alipayKey: KeyObject;
  readonly phoneRails: readonly PhoneRail[];

  constructor(
    private readonly config: AlipayConfig,
    private readonly clock: Clock,
    opts: AlipayGatewayOptions & { wap?: boolean } = {},
  ) {
    this.merchantId = config.appId;
    this.phoneRails = opts.wap ? ['alipay_wap'] : [];
    this.gateway = new AlipayGateway(config, clock, opts);
    this.alipayKey = publicKey(config.alipayPublicKeyPem);
  }

  supportsCurrency(currency: string): boolean {
    return railTakesCurrency('alipay', currency);
  }

  async createCheckout(req: CheckoutRequest): Promise<Checkout> {
    const { order } = req;
    const biz: Record<string, unknown> = {
      out_trade_no: order.outTradeNo,
      total_amount: toYuan(order.amountMinor),
      subject: req.plan.name.slice(0, 256),
      product_code: 'FACE_TO_FACE_PAYMENT',
      timeout_express: timeoutExpress(this.clock.now(), order.expiresAt),
    };
    if (this.config.sellerId) biz.seller_id = this.config.sellerId;
    const node = await this.gateway.call('alipay.trade.precreate', biz, { notifyUrl: req.notifyUrl });
    const qr = str(node.qr_code);
    // Signed, but not an answer to this order: we cannot show it to anyone.
    if (str(node.out_trade_no) !== order.outTradeNo || !qr)
      throw new ProviderUnreachableError(PROVIDER, 'precreate answered without a QR code for this order', { method: 'alipay.trade.precreate' });
    return { qrContent: qr, payUrl: req.payPageUrl };
  }

  async startPhonePay(req: PhonePayRequest): Promise<PhonePay> {
    if (req.rail !== 'alipay_wap' || !this.phoneRails.includes('alipay_wap')) throw new ProviderRejectedError(PROVIDER, `Alipay has no ${req.rail} rail here`);
    const biz: Record<string, unknown> = {
      out_trade_no: req.tradeNo,
      total_amount: toYuan(req.order.amountMinor),
      subject: req.plan.name.slice(0, 256),
      product_code: 'QUICK_WAP_WAY',
      quit_url: req.payPageUrl,
      timeout_express: timeoutExpress(this.clock.now(), req.order.expiresAt),
    };
    if (this.config.sellerId) biz.seller_id = this.config.sellerId;
    // Signed afresh each time: the same out_trade_no with the same contents is the same trade at Alipay.
    const url = this.gateway.pageRedirectUrl('alipay.trade.wap.pay', biz, { notifyUrl: req.notifyUrl, returnUrl: req.payPageUrl });
    return { kind: 'redirect', url, prepay: {} };
  }

  /** Alipay puts everything (signature included) in the form body; no header is read. */
  async parseWebhook(rawBody: Buffer, _headers: Record<string, string | undefined> = {}): Promise<ProviderEvent> {
    return parseNotification(rawBody, { appId: this.config.appId, sellerId: this.config.sellerId, alipayKey: this.alipayKey, now: this.clock.now() });
  }

  webhookReply(result: 'ok' | 'retry'): WebhookReply {
    // Alipay stops resending only on the exact text `success`; anything else is retried (~8 times over 25 h).
    return result === 'ok' ? { status: 200, body: 'success', contentType: 'text/plain' } : { status: 500, body: 'fail', contentType: 'text/plain' };
  }

  async query(order: Order): Promise<QueryResult> {
    if (order.outRefundNo && (await this.refundSucceeded(order.outTradeNo, order.outRefundNo))) return { state: 'refunded' };
    let node: ResponseNode;
    try {
      node = await this.gateway.call('alipay.trade.query', { out_trade_no: order.outTradeNo });
    } catch (e) {
      if (!isNotExist(e)) throw e;
      // Not scanned (yet). While the QR can still be scanned that is plain "pending"; after that it is
      // most likely never, but a wrong app id or environment answers the same, so we do not claim "closed".
      return this.clock.now() <= order.expiresAt + NOT_EXIST_SLACK_MS ? { state: 'pending' } : { state: 'unknown' };
    }
    switch (str(node.trade_status)) {
      case 'WAIT_BUYER_PAY':
        return { state: 'pending' };
      case 'TRADE_CLOSED':
        // Closed unpaid, or paid and then fully refunded (the refund check above covers our own refunds).
        return { state: 'closed' };
      case 'TRADE_SUCCESS':
      case 'TRADE_FINISHED':
        return { state: 'paid', event: this.paidFromQuery(order, node) };
      default:
        return { state: 'unknown' };
    }
  }

  private paidFromQuery(order: Order, node: ResponseNode): Extract<ProviderEvent, { type: 'paid' }> {
    const tradeNo = str(node.trade_no);
    const amount = fromYuan(str(node.total_amount));
    if (!tradeNo || amount === null || str(node.out_trade_no) !== order.outTradeNo)
      throw new ProviderUnreachableError(PROVIDER, 'trade.query answered paid without trade_no/total_amount for this order', { method: 'alipay.trade.query' });
    return {
      type: 'paid',
      eventId: `query:${tradeNo}`,
      outTradeNo: order.outTradeNo,
      providerTxnId: tradeNo,
      amountMinor: amount,
      currency: 'CNY',
      // A signed answer to our own app's query: the money went to this app.
      merchantId: this.merchantId,
      paidAt: parseAlipayTime(str(node.send_pay_date)) ?? this.clock.now(),
    };
  }

  async close(order: Order): Promise<void> {
    try {
      await this.gateway.call('alipay.trade.close', { out_trade_no: order.outTradeNo });
    } catch (e) {
      // Never scanned: nothing to close, and the QR dies with timeout_express anyway.
      if (isNotExist(e)) return;
      // ACQ.TRADE_STATUS_ERROR (paid or finished) and every other refusal propagate as ProviderRejectedError.
      throw e;
    }
  }

  async refund(req: RefundRequest): Promise<RefundResult> {
    const node = await this.gateway.call('alipay.trade.refund', {
      out_trade_no: req.order.outTradeNo,
      refund_amount: toYuan(req.amountMinor),
      out_request_no: req.outRefundNo,
      refund_reason: req.reason.slice(0, 256),
    });
    const providerRefundId = `refund:${req.outRefundNo}`;
    if (str(node.fund_change) === 'Y') return { state: 'refunded', providerRefundId };
    // N: this number was refunded before (we are asking again), or the money has not moved yet.
    return (await this.refundSucceeded(req.order.outTradeNo, req.outRefundNo)) ? { state: 'refunded', providerRefundId } : { state: 'processing' };
  }

  private async refundSucceeded(outTradeNo: string, outRefundNo: string): Promise<boolean> {
    let node: ResponseNode;
    try {
      node = await this.gateway.call('alipay.trade.fastpay.refund.query', {
        out_trade_no: outTradeNo,
        out_request_no: outRefundNo,
        query_options: ['gmt_refund_pay'],
      });
    } catch (e) {
      if (isNotExist(e)) return false;
      throw e;
    }
    return str(node.refund_status) === 'REFUND_SUCCESS' && str(node.out_request_no) === outRefundNo;
  }
}
