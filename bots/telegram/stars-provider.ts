// Telegram Stars (`XTR`) as the payment provider `stars`.
//
// How it fits the PaymentProvider shape: Stars are paid inside Telegram, so there is no QR to scan and no
// HTTP notification. `createCheckout` (called by the core after the order row is committed) sends the
// invoice into the buyer's private chat (`sendInvoice`, Pay button) and also makes an invoice link
// (`createInvoiceLink`), which becomes the checkout's `payUrl`/`qrContent`: the chat shows it as a
// "pay" button instead of a QR code, and a QR of it still opens the invoice on another device. The
// invoice payload is the order's out_trade_no.
// Confirmation arrives as Telegram updates, not on /webhooks/stars: `pre_checkout_query` is answered
// (within Telegram's 10 s) only after checking that the order is still payable, and `successful_payment`
// goes through handleProviderEvent — the same exactly-once path as every webhook — keyed by
// `telegram_payment_charge_id`. `query` reads getStarTransactions (so reconcile finds a payment whose
// update was lost), `refund` is refundStarPayment, and `close` has nothing to close: an expired order
// simply fails the pre-checkout check.
import { handleProviderEvent } from '../../src/app/confirm-payment.ts';
import type { Account, Order, Subscription } from '../../src/app/model.ts';
import { subscriptionReported } from '../../src/app/subscriptions.ts';
import { STARS_SUBSCRIPTION_PERIOD_S, starsRenews } from '../../src/domain/renewal.ts';
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
} from '../../src/app/ports.ts';
import { ProviderRejectedError, ProviderUnreachableError } from '../../src/domain/errors.ts';
import { isApiError, withRetries } from './bot-api-client.ts';
import { render, type TelegramContext } from './context.ts';
import type { TgMessage, TgPreCheckoutQuery, TgSubscriptionUpdated } from './updates.ts';

export const STARS = 'XTR';
/** getStarTransactions pages read by one `query` at most (100 transactions each). */
const MAX_PAGES = 20;

interface StarTransaction {
  id: string;
  amount: number;
  date: number;
  source?: { type: string; user?: { id: number }; invoice_payload?: string };
  receiver?: { type: string; user?: { id: number }; invoice_payload?: string };
}

export class StarsProvider implements PaymentProvider {
  readonly name = 'stars';
  readonly chatPlatform = 'telegram' as const;
  readonly merchantId = null;

  constructor(private readonly c: TelegramContext) {}

  supportsCurrency(currency: string): boolean {
    return currency === STARS;
  }

  async createCheckout(req: CheckoutRequest): Promise<Checkout> {
    const { store } = this.c.deps;
    const account = await store.accounts.get(req.order.accountId);
    if (!account || account.platform !== 'telegram')
      throw new ProviderRejectedError('stars', 'Telegram Stars can only be paid from a Telegram account', undefined, { method: 'createInvoiceLink' });
    const groups = (await Promise.all(req.plan.groupIds.map((id) => store.groups.get(id)))).filter((g) => g !== null).map((g) => g.title);
    const invoice = {
      title: req.plan.name.slice(0, 32),
      description: render(this.c, account.locale, 'telegram.stars_description', {
        plan: req.plan.name,
        groups: groups.join(', '),
        days: req.plan.durationDays,
      }).slice(0, 255),
      payload: req.order.outTradeNo,
      currency: STARS,
      prices: [{ label: req.plan.name.slice(0, 32), amount: req.order.amountMinor }],
      provider_token: '',
    };
    // A recurring 30-day plan is sold as a Stars subscription: createInvoiceLink's `subscription_period`
    // (seconds; "must always be 2592000 (30 days) if specified", currency XTR; core.telegram.org/bots/api#createinvoicelink).
    // sendInvoice has no such parameter, so a subscription invoice is only the link, shown as the pay button.
    const renews = starsRenews(req.plan);
    const link = await this.c.client.call<string>('createInvoiceLink', renews ? { ...invoice, subscription_period: STARS_SUBSCRIPTION_PERIOD_S } : invoice, {
      lane: 'notice',
    });
    if (typeof link !== 'string' || !link.startsWith('https://'))
      throw new ProviderUnreachableError('stars', 'createInvoiceLink returned no link', { method: 'createInvoiceLink' });
    if (!renews) await this.c.client.call('sendInvoice', { chat_id: account.platformUserId, ...invoice }, { lane: 'notice' });
    return { qrContent: link, payUrl: link };
  }

  async parseWebhook(): Promise<ProviderEvent> {
    throw new WebhookRejectedError('malformed', 'Telegram Stars payments arrive as Telegram updates, not on this URL');
  }

  webhookReply(result: 'ok' | 'retry'): WebhookReply {
    return result === 'ok' ? { status: 200, body: 'ok', contentType: 'text/plain' } : { status: 500, body: 'retry', contentType: 'text/plain' };
  }

  /** Why this order cannot be paid now (a catalogue key), or null when it can. */
  private async notPayable(q: TgPreCheckoutQuery, order: Order | null): Promise<string | null> {
    const { store, clock } = this.c.deps;
    if (!order || order.provider !== this.name) return 'telegram.stars_not_payable';
    if (order.status === 'paid') return 'telegram.stars_already_paid';
    if (order.status !== 'pending' || order.expiresAt <= clock.now()) return 'telegram.stars_not_payable';
    if (q.currency !== order.currency || q.total_amount !== order.amountMinor) return 'telegram.stars_not_payable';
    const account = await store.accounts.get(order.accountId);
    if (!account || account.platform !== 'telegram' || account.platformUserId !== String(q.from.id)) return 'telegram.stars_wrong_payer';
    const plan = await store.plans.get(order.planId);
    if (!plan) return 'telegram.stars_not_payable';
    for (const groupId of plan.groupIds) {
      const m = (await store.memberships.list({ accountId: account.id, groupId }))[0];
      if (m?.status === 'banned') return 'telegram.stars_not_payable';
    }
    return null;
  }

  /** Telegram asks before it takes the Stars: yes only for a pending, unexpired order of this payer, amount and currency. */
  async onPreCheckoutQuery(q: TgPreCheckoutQuery): Promise<void> {
    const order = await this.c.deps.store.orders.findByOutTradeNo(q.invoice_payload);
    const reason = await this.notPayable(q, order);
    const answer = reason
      ? { pre_checkout_query_id: q.id, ok: false, error_message: render(this.c, q.from.language_code ?? null, reason) }
      : { pre_checkout_query_id: q.id, ok: true };
    try {
      await withRetries(() => this.c.client.call('answerPreCheckoutQuery', answer, { lane: 'invite', timeoutMs: 8_000 }), this.c.clock, {
        attempts: 3,
        baseMs: 300,
        stop: this.c.stopping,
      });
    } catch (err) {
      // Unanswered, Telegram cancels the payment itself: no money moves.
      this.c.logger.warn({ err: (err as Error).message, ok: !reason }, 'telegram: could not answer a pre-checkout query');
    }
    if (reason) this.c.logger.info({ reason }, 'stars: pre-checkout refused');
  }

  /** The Stars were taken: the same exactly-once path as every provider notification. */
  async onSuccessfulPayment(msg: TgMessage): Promise<void> {
    const sp = msg.successful_payment!;
    const event: ProviderEvent = {
      type: 'paid',
      eventId: `charge:${sp.telegram_payment_charge_id}`,
      outTradeNo: sp.invoice_payload,
      providerTxnId: sp.telegram_payment_charge_id,
      amountMinor: sp.total_amount,
      currency: sp.currency,
      merchantId: null,
      paidAt: msg.date * 1000,
      // Pre-checkout refused anyone but the buyer; a successful_payment from someone else is held for review.
      ...(msg.from ? { payer: { platform: 'telegram' as const, platformUserId: String(msg.from.id) } } : {}),
      // A subscription's charges: the first starts it (its charge id is the subscription's id, which
      // editUserStarSubscription takes); each renewal has its own charge id and names the first invoice's payload.
      ...(sp.is_recurring || sp.is_first_recurring
        ? {
            subscription: { first: sp.is_first_recurring === true, expiresAt: sp.subscription_expiration_date ? sp.subscription_expiration_date * 1000 : null },
          }
        : {}),
    };
    await handleProviderEvent(
      this.c.deps,
      this,
      event,
      JSON.stringify({ update: 'successful_payment', from: msg.from?.id ?? null, date: msg.date, successful_payment: sp }),
    );
  }

  /** Telegram's `subscription` update: the member canceled or re-enabled it in Telegram, or its payment failed. */
  async onSubscriptionUpdated(u: TgSubscriptionUpdated): Promise<void> {
    const order = await this.c.deps.store.orders.findByOutTradeNo(u.invoice_payload);
    const account = order ? await this.c.deps.store.accounts.get(order.accountId) : null;
    if (!account || account.platform !== 'telegram' || account.platformUserId !== String(u.user.id)) {
      this.c.logger.warn({ state: u.state }, 'stars: subscription update for no subscription of that user');
      return;
    }
    await subscriptionReported(this.c.deps, this, u.invoice_payload, u.state);
  }

  /**
   * editUserStarSubscription(user_id, telegram_payment_charge_id, is_canceled): "Pass True to cancel extension of
   * the user subscription; the subscription must be active up to the end of the current subscription period. Pass
   * False to allow the user to re-enable a subscription that was previously canceled by the bot."
   * (core.telegram.org/bots/api#edituserstarsubscription, via docs.aiogram.dev methods/edit_user_star_subscription)
   */
  async setRenewal(sub: Subscription, account: Account, renew: boolean): Promise<void> {
    if (account.platform !== 'telegram')
      throw new ProviderRejectedError('stars', `subscription ${sub.id} was not paid from a Telegram account`, undefined, {
        method: 'editUserStarSubscription',
      });
    await this.c.client.call(
      'editUserStarSubscription',
      { user_id: Number(account.platformUserId), telegram_payment_charge_id: sub.subscriptionId, is_canceled: !renew },
      { lane: 'system' },
    );
  }

  /** Reads the bot's Star transactions for this order's payload (and a refund of it). */
  async query(order: Order): Promise<QueryResult> {
    const matches = (t: StarTransaction) => t.source?.invoice_payload === order.outTradeNo || t.receiver?.invoice_payload === order.outTradeNo;
    const seen: StarTransaction[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const r = await this.c.client.call<{ transactions?: StarTransaction[] }>('getStarTransactions', { offset: page * 100, limit: 100 }, { lane: 'system' });
      const list = Array.isArray(r?.transactions) ? r.transactions : [];
      seen.push(...list.filter((t) => t && typeof t.id === 'string' && Number.isSafeInteger(t.amount)));
      if (list.length < 100) break;
    }
    const charge = seen.find((t) => matches(t) && t.source?.type === 'user' && t.amount > 0) ?? null;
    // A refund carries the id of the charge it returns, with the user as receiver.
    const refunded = seen.some((t) => t.receiver?.type === 'user' && (matches(t) || (charge !== null && t.id === charge.id)));
    if (!charge) return refunded ? { state: 'refunded' } : { state: order.expiresAt <= this.c.clock.now() ? 'closed' : 'pending' };
    if (refunded) return { state: 'refunded' };
    return {
      state: 'paid',
      event: {
        type: 'paid',
        eventId: `charge:${charge.id}`,
        outTradeNo: order.outTradeNo,
        providerTxnId: charge.id,
        amountMinor: charge.amount,
        currency: STARS,
        merchantId: null,
        paidAt: charge.date * 1000,
      },
    };
  }

  /** Nothing to close at Telegram: an expired order fails the pre-checkout check, so it cannot be paid. */
  async close(): Promise<void> {}

  async refund(req: RefundRequest): Promise<RefundResult> {
    const chargeId = req.order.providerTxnId;
    if (!chargeId)
      throw new ProviderRejectedError('stars', `order ${req.order.id} has no Telegram charge to refund`, undefined, { method: 'refundStarPayment' });
    const account = await this.c.deps.store.accounts.get(req.order.accountId);
    if (!account || account.platform !== 'telegram')
      throw new ProviderRejectedError('stars', `order ${req.order.id} was not paid from a Telegram account`, undefined, { method: 'refundStarPayment' });
    try {
      await this.c.client.call('refundStarPayment', { user_id: Number(account.platformUserId), telegram_payment_charge_id: chargeId }, { lane: 'system' });
    } catch (err) {
      // A retry after our own crash: the Stars already went back.
      if (!isApiError(err, 'CHARGE_ALREADY_REFUNDED')) throw err;
    }
    return { state: 'refunded', providerRefundId: `refund:${chargeId}` };
  }
}
