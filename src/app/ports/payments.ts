// The payment provider port: checkout, verified notifications, queries and refunds. src/payments/*
// (and bots/telegram's Stars) implement it; app/ sees only this.
import type { Account, Order, Plan, Platform, Rail, Subscription, SubscriptionState } from '../model.ts';

export interface CheckoutRequest {
  order: Order;
  plan: Plan;
  /** Where the provider must send notifications (PUBLIC_URL/webhooks/<provider>). */
  notifyUrl: string;
  /** Our own checkout page for this order (PUBLIC_URL/pay/<orderId>). */
  payPageUrl: string;
}

export interface Checkout {
  /** What the QR code encodes (a `weixin://` code_url, an Alipay qr_code, a Stripe URL, our pay page). */
  qrContent: string;
  /** A link a person can open instead of scanning. */
  payUrl: string;
}

/** The closed set of things a verified notification can mean. */
export type ProviderEvent =
  | {
      type: 'paid';
      eventId: string;
      outTradeNo: string;
      providerTxnId: string;
      amountMinor: number;
      currency: string;
      merchantId: string | null;
      paidAt: number;
      /** Who paid, when the rail knows (Telegram Stars): a charge by anyone but the order's buyer is held for review. */
      payer?: { platform: Platform; platformUserId: string };
      /**
       * A charge of a subscription the rail renews by itself (src/app/subscriptions.ts): `first` for the payment
       * that started it (the order's own), else a renewal, which has no order of its own yet (`outTradeNo` names
       * the first order). `id`: the rail's subscription id when it differs from this charge's id; `expiresAt`:
       * the end of the period this charge pays for, as the rail says (authoritative), or null.
       */
      subscription?: { first: boolean; id?: string; expiresAt: number | null };
    }
  | { type: 'failed'; eventId: string; outTradeNo: string; reason: string }
  /**
   * The rail reports a change of a subscription it renews (Stripe: customer.subscription.updated|deleted,
   * invoice.payment_failed; src/app/subscriptions.ts). `outTradeNo` names the subscription's first order,
   * `subscriptionId` the rail's id for it; `at` when the rail made the change (an older report than our own
   * last change of the subscription is stale). `fixUrl`: where a member whose renewal failed can pay it
   * with another card. Access is never touched by these.
   */
  | {
      type: 'subscription';
      eventId: string;
      outTradeNo: string;
      subscriptionId: string;
      state: SubscriptionState;
      /** Who ended renewal, when `state` is canceled: the member (cancel at period end) or the rail (it ended). */
      canceledBy?: 'member' | 'provider';
      /**
       * A failed renewal: its charge as the ledger keys it (Stripe: the invoice id). A failure of a charge booked
       * already (paid meanwhile, the reports delivered out of order) is stale.
       */
      chargeTxnId?: string;
      at: number;
      fixUrl?: string | null;
    }
  | {
      type: 'refunded';
      eventId: string;
      outTradeNo: string;
      /**
       * The refunded charge as the ledger keys it, when the rail knows the charge but not the order's own number
       * (Stripe: a subscription's charge carries no order number; its invoice id is the ledger key of the first
       * order's charge and of each renewal's). The order is then the one whose charge that is, and `outTradeNo`
       * names the subscription's first order, whose account and plan it must share.
       */
      chargeTxnId?: string;
      /** Stable per refund (not per order): one refund is one ledger row however often it is reported. */
      providerRefundId: string;
      /** The amount of this one refund (not the order's total). */
      amountMinor: number;
      /**
       * When the provider reports only its running total (Alipay's refund_fee, Stripe's amount_refunded):
       * everything refunded on the charge so far. The core then books the part not yet in the ledger, so
       * one refund reported under two ids is never counted twice.
       */
      cumulativeMinor?: number;
      currency: string;
      refundedAt: number;
    }
  | { type: 'ignored'; eventId: string | null; reason: string };

export type WebhookRejection = 'missing_signature' | 'bad_signature' | 'malformed';

/** A notification that did not pass verification: answered 4xx, logged, and never recorded as an event. */
export class WebhookRejectedError extends Error {
  constructor(
    readonly rejection: WebhookRejection,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookRejectedError';
  }
}

export interface WebhookReply {
  status: number;
  body?: string;
  contentType?: string;
}

export type QueryResult =
  | { state: 'paid'; event: Extract<ProviderEvent, { type: 'paid' }> }
  | { state: 'pending' }
  | { state: 'closed' }
  | { state: 'refunded' }
  | { state: 'unknown' };

export interface RefundRequest {
  order: Order;
  outRefundNo: string;
  amountMinor: number;
  reason: string;
}
export type RefundResult = { state: 'refunded'; providerRefundId: string } | { state: 'processing' };

/** The rails a phone can pay on in place (issue 21): WeChat Pay JSAPI and H5, Alipay WAP. */
export type PhoneRail = Extract<Rail, 'jsapi' | 'h5' | 'alipay_wap'>;

export interface PhonePayRequest {
  rail: PhoneRail;
  /** The order, as stored. */
  order: Order;
  plan: Plan;
  /** This attempt's own provider-facing trade number (not the order's out_trade_no). */
  tradeNo: string;
  notifyUrl: string;
  payPageUrl: string;
  /** H5: the payer's address, as the request that asked for it came from (scene_info.payer_client_ip). */
  payerIp?: string;
  /** JSAPI: the payer's openid under the Official Account appid. */
  openid?: string;
  /** What an earlier call answered for this trade number (re-shown without a new prepay when it is still good). */
  prepay: Record<string, string> | null;
}

export type PhonePay =
  /** Send the browser there (H5's h5_url with redirect_url, Alipay's signed WAP request). */
  | { kind: 'redirect'; url: string; prepay: Record<string, string> }
  /** The arguments of WeixinJSBridge.invoke('getBrandWCPayRequest', …), signed with the merchant key. */
  | {
      kind: 'jsapi';
      params: { appId: string; timeStamp: string; nonceStr: string; package: string; signType: 'RSA'; paySign: string };
      prepay: Record<string, string>;
    };

export interface PaymentProvider {
  readonly name: string;
  /** Our merchant id at this provider; a paid event naming another merchant is a mismatch. */
  readonly merchantId: string | null;
  /** A rail paid inside one chat platform (Telegram Stars): offered only to that platform's members. */
  readonly chatPlatform?: Platform;
  supportsCurrency(currency: string): boolean;
  createCheckout(req: CheckoutRequest): Promise<Checkout>;
  /** Verify the signature over the raw bytes, then parse. Throws WebhookRejectedError before touching anything. */
  parseWebhook(rawBody: Buffer, headers: Record<string, string | undefined>): Promise<ProviderEvent>;
  /** The exact answer this provider expects: `ok` = received (stop retrying), `retry` = please send again. */
  webhookReply(result: 'ok' | 'retry'): WebhookReply;
  query(order: Order): Promise<QueryResult>;
  close(order: Order): Promise<void>;
  refund(req: RefundRequest): Promise<RefundResult>;
  /** The phone rails this provider has switched on (issue 21); absent or empty: the QR only. */
  readonly phoneRails?: readonly PhoneRail[];
  /** Opens (or re-shows) one phone rail's attempt of an order under its own trade number. */
  startPhonePay?(req: PhonePayRequest): Promise<PhonePay>;
  /** A rail that renews subscriptions by itself: stop (`renew` false) or restart renewal of one. Never inside a transaction. */
  setRenewal?(sub: Subscription, account: Account, renew: boolean): Promise<void>;
  /**
   * Ends the subscription at the rail at once, not at the period's end (a ban, or /cancel during a failed renewal: no
   * further charge at all, and an unpaid renewal of it can no longer be paid). Rails
   * without it (Telegram Stars, whose cancel already stops every later charge) get setRenewal(…, false).
   */
  endSubscription?(sub: Subscription, account: Account): Promise<void>;
  /** A rail with a self-service page for a subscription's payment details (Stripe's Customer Portal): a short-lived link to it. */
  billingPortalUrl?(sub: Subscription, returnUrl: string): Promise<string>;
}
