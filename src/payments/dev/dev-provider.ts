// The in-tree provider for trying Gatekeeper out: no money moves. Its notifications are signed like a
// real provider's (HMAC-SHA256 over `timestamp.rawBody`, 5-minute tolerance) and go through the same
// webhook verifier and handler, so the dev path exercises the production path.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Order } from '../../app/model.ts';
import {
  type Checkout,
  type CheckoutRequest,
  type PaymentProvider,
  type ProviderEvent,
  type QueryResult,
  type RefundRequest,
  type RefundResult,
  WebhookRejectedError,
  type WebhookReply,
} from '../../app/ports.ts';
import type { Clock } from '../../domain/time.ts';
import { hmacSha256Hex, safeEqual } from '../signing.ts';

export const DEV_SIGNATURE_HEADER = 'x-gatekeeper-dev-signature';
export const DEV_TOLERANCE_MS = 5 * 60 * 1000;
export const DEV_MERCHANT_ID = 'dev-merchant';

const Notification = z.object({
  id: z.string().min(1).max(100),
  type: z.string().min(1).max(100),
  created: z.number().int(),
  data: z.object({
    out_trade_no: z.string().min(1).max(64),
    txn_id: z.string().min(1).max(100).optional(),
    amount_minor: z.number().int().nonnegative().optional(),
    currency: z.string().length(3).optional(),
    merchant_id: z.string().max(100).optional(),
    paid_at: z.number().int().optional(),
    refund_id: z.string().max(100).optional(),
    reason: z.string().max(500).optional(),
  }),
});
export type DevNotification = z.infer<typeof Notification>;

interface Charge {
  event: Extract<ProviderEvent, { type: 'paid' }> | null;
  closed: boolean;
  refunded: boolean;
}

export class DevProvider implements PaymentProvider {
  readonly name = 'dev';
  readonly merchantId = DEV_MERCHANT_ID;
  /** What this pretend provider knows about each order, so `query` answers like a real one would. */
  private readonly charges = new Map<string, Charge>();

  constructor(
    private readonly secret: string,
    private readonly clock: Clock,
  ) {}

  supportsCurrency(): boolean {
    return true;
  }

  async createCheckout(req: CheckoutRequest): Promise<Checkout> {
    this.charges.set(req.order.outTradeNo, { event: null, closed: false, refunded: false });
    return { qrContent: req.payPageUrl, payUrl: req.payPageUrl };
  }

  /** Signs a notification exactly as the webhook verifier expects. */
  sign(body: string, at = this.clock.now()): string {
    return `t=${at},v1=${hmacSha256Hex(this.secret, `${at}.${body}`)}`;
  }

  /** The "pay" button: takes the money (pretend) and builds the provider's notification for it. */
  pay(order: Order, overrides: Partial<DevNotification['data']> = {}): { body: Buffer; headers: Record<string, string> } {
    const paidAt = this.clock.now();
    const txnId = `devtxn_${randomBytes(12).toString('hex')}`;
    const notification: DevNotification = {
      id: `evt_${randomBytes(12).toString('hex')}`,
      type: 'payment.paid',
      created: paidAt,
      data: {
        out_trade_no: order.outTradeNo,
        txn_id: txnId,
        amount_minor: order.amountMinor,
        currency: order.currency,
        merchant_id: DEV_MERCHANT_ID,
        paid_at: paidAt,
        ...overrides,
      },
    };
    const charge = this.charges.get(order.outTradeNo) ?? { event: null, closed: false, refunded: false };
    charge.event = this.toEvent(notification) as Extract<ProviderEvent, { type: 'paid' }>;
    this.charges.set(order.outTradeNo, charge);
    const body = JSON.stringify(notification);
    return { body: Buffer.from(body), headers: { 'content-type': 'application/json', [DEV_SIGNATURE_HEADER]: this.sign(body) } };
  }

  async parseWebhook(rawBody: Buffer, headers: Record<string, string | undefined>): Promise<ProviderEvent> {
    const sig = headers[DEV_SIGNATURE_HEADER];
    if (!sig) throw new WebhookRejectedError('missing_signature', `missing ${DEV_SIGNATURE_HEADER} header`);
    const m = /^t=(\d{1,16}),v1=([0-9a-f]{64})$/.exec(sig.trim());
    if (!m) throw new WebhookRejectedError('bad_signature', 'malformed signature header');
    const at = Number(m[1]);
    if (Math.abs(this.clock.now() - at) > DEV_TOLERANCE_MS)
      throw new WebhookRejectedError('bad_signature', 'signature timestamp outside the 5-minute tolerance');
    const expected = hmacSha256Hex(this.secret, Buffer.concat([Buffer.from(`${at}.`), rawBody]));
    if (!safeEqual(expected, m[2]!)) throw new WebhookRejectedError('bad_signature', 'signature does not match');
    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw new WebhookRejectedError('malformed', 'body is not JSON');
    }
    const parsed = Notification.safeParse(json);
    if (!parsed.success) throw new WebhookRejectedError('malformed', 'body is not a dev notification');
    return this.toEvent(parsed.data);
  }

  private toEvent(n: DevNotification): ProviderEvent {
    const d = n.data;
    switch (n.type) {
      case 'payment.paid':
        if (!d.txn_id || d.amount_minor === undefined || !d.currency)
          throw new WebhookRejectedError('malformed', 'payment.paid needs txn_id, amount_minor and currency');
        return {
          type: 'paid',
          eventId: n.id,
          outTradeNo: d.out_trade_no,
          providerTxnId: d.txn_id,
          amountMinor: d.amount_minor,
          currency: d.currency,
          merchantId: d.merchant_id ?? null,
          paidAt: d.paid_at ?? n.created,
        };
      case 'payment.failed':
        return { type: 'failed', eventId: n.id, outTradeNo: d.out_trade_no, reason: d.reason ?? 'failed' };
      case 'refund.succeeded':
        if (!d.refund_id || d.amount_minor === undefined || !d.currency)
          throw new WebhookRejectedError('malformed', 'refund.succeeded needs refund_id, amount_minor and currency');
        return {
          type: 'refunded',
          eventId: n.id,
          outTradeNo: d.out_trade_no,
          providerRefundId: d.refund_id,
          amountMinor: d.amount_minor,
          currency: d.currency,
          refundedAt: n.created,
        };
      default:
        return { type: 'ignored', eventId: n.id, reason: `event type ${n.type}` };
    }
  }

  webhookReply(result: 'ok' | 'retry'): WebhookReply {
    return result === 'ok'
      ? { status: 200, body: '{"received":true}', contentType: 'application/json' }
      : { status: 500, body: '{"received":false}', contentType: 'application/json' };
  }

  async query(order: Order): Promise<QueryResult> {
    const c = this.charges.get(order.outTradeNo);
    if (!c) return { state: 'unknown' };
    if (c.refunded) return { state: 'refunded' };
    if (c.event) return { state: 'paid', event: c.event };
    return c.closed ? { state: 'closed' } : { state: 'pending' };
  }

  async close(order: Order): Promise<void> {
    const c = this.charges.get(order.outTradeNo);
    if (c && !c.event) c.closed = true;
  }

  async refund(req: RefundRequest): Promise<RefundResult> {
    const c = this.charges.get(req.order.outTradeNo);
    if (c) c.refunded = true;
    return { state: 'refunded', providerRefundId: `devrefund_${req.outRefundNo}` };
  }
}
