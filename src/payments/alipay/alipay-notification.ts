// Alipay's asynchronous notification (form-urlencoded POST to notify_url) → one ProviderEvent.
// Verification first, on the decoded fields of the raw body: without `sign` and `sign_type`, sorted,
// checked with the Alipay public key. Nothing is looked up or stored before that has passed.
//
// What each verified notification means:
//   - refund_fee > 0 (with gmt_refund / out_biz_no): money went back → `refunded`. A partial refund keeps
//     trade_status TRADE_SUCCESS, a full one turns it TRADE_CLOSED; either way the refund fields decide.
//     refund_fee is the trade's *total* refunded so far (总退款金额), not this refund's amount, so it goes
//     out as `cumulativeMinor` and the core books the part its ledger does not show yet; out_biz_no (the
//     refund's out_request_no) makes the id stable per refund; without it, trade_no plus that running total does.
//   - TRADE_SUCCESS and TRADE_FINISHED: paid → `paid`. Both arrive for one trade (FINISHED when the refund
//     window ends) under different notify_ids; they share trade_no, so the core books the money once.
//   - TRADE_CLOSED without a refund: the trade timed out or was closed unpaid → `failed` (the core notes it
//     against the order and leaves the order to its own time-out; nothing is granted or taken away).
//   - WAIT_BUYER_PAY and anything else → `ignored`.
// app_id goes into the paid event's merchantId, so a payment to another app lands in review; a refund or
// close for another app is ignored (it cannot be about our order). A configured seller_id is checked too.
import type { KeyObject } from 'node:crypto';
import { type ProviderEvent, WebhookRejectedError } from '../../app/ports.ts';
import { decodeForm, FormDecodeError, fromYuan, parseAlipayTime } from './alipay-format.ts';
import { notificationSignContent, rsa2Verify } from './alipay-signing.ts';

export interface NotificationContext {
  appId: string;
  sellerId: string | null;
  alipayKey: KeyObject;
  now: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Verifies and decodes the raw body; throws WebhookRejectedError when it is not a genuine notification. */
export function verifyNotification(raw: Buffer, alipayKey: KeyObject): Record<string, string> {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new WebhookRejectedError('malformed', 'body is not UTF-8');
  }
  let fields: Record<string, string>;
  try {
    fields = decodeForm(text);
  } catch (e) {
    throw new WebhookRejectedError('malformed', e instanceof FormDecodeError ? e.message : 'body is not form-urlencoded');
  }
  const sign = fields.sign;
  if (!sign) throw new WebhookRejectedError('missing_signature', 'notification has no sign field');
  if (fields.sign_type !== undefined && fields.sign_type !== 'RSA2') throw new WebhookRejectedError('bad_signature', 'only RSA2 notifications are accepted');
  if (!rsa2Verify(notificationSignContent(fields), sign, alipayKey))
    throw new WebhookRejectedError('bad_signature', 'notification signature does not verify with the Alipay public key');
  return fields;
}

export function parseNotification(raw: Buffer, ctx: NotificationContext): ProviderEvent {
  const f = verifyNotification(raw, ctx.alipayKey);
  for (const key of ['notify_id', 'app_id', 'out_trade_no', 'trade_no'] as const) {
    if (!f[key]) throw new WebhookRejectedError('malformed', `notification has no ${key}`);
  }
  const eventId = f.notify_id!;
  const outTradeNo = f.out_trade_no!;
  const tradeNo = f.trade_no!;
  const appId = f.app_id!;
  if (f.notify_type !== undefined && f.notify_type !== 'trade_status_sync')
    return { type: 'ignored', eventId, reason: `notify_type ${f.notify_type.slice(0, 40)}` };
  const ours = appId === ctx.appId;

  const refundFee = f.refund_fee === undefined ? 0 : fromYuan(f.refund_fee);
  if (refundFee === null) throw new WebhookRejectedError('malformed', 'refund_fee is not an amount');
  if (refundFee > 0) {
    if (!ours) return { type: 'ignored', eventId, reason: `refund for another app (${appId.slice(0, 40)})` };
    return {
      type: 'refunded',
      eventId,
      outTradeNo,
      // The same id our refund call and the reconcile job use, so one refund is one ledger row. Without
      // out_biz_no the running total tells the refunds of one trade apart (a second partial refund has a
      // larger refund_fee) and stays the same when Alipay retries that notification.
      providerRefundId: f.out_biz_no ? `refund:${f.out_biz_no}` : `refund:${tradeNo}:${refundFee}`,
      amountMinor: refundFee,
      cumulativeMinor: refundFee,
      currency: 'CNY',
      refundedAt: parseAlipayTime(f.gmt_refund) ?? parseAlipayTime(f.notify_time) ?? ctx.now,
    };
  }

  switch (f.trade_status) {
    case 'TRADE_SUCCESS':
    case 'TRADE_FINISHED': {
      const amount = fromYuan(f.total_amount);
      if (amount === null) throw new WebhookRejectedError('malformed', 'total_amount is missing or not an amount');
      const sellerOk = ctx.sellerId === null || f.seller_id === ctx.sellerId;
      return {
        type: 'paid',
        eventId,
        outTradeNo,
        providerTxnId: tradeNo,
        amountMinor: amount,
        currency: 'CNY',
        // Anything but our app id (or a seller that is not ours) makes the core hold the order for review.
        merchantId: sellerOk ? appId : `${appId} (seller ${f.seller_id ?? 'unknown'})`,
        paidAt: parseAlipayTime(f.gmt_payment) ?? parseAlipayTime(f.notify_time) ?? ctx.now,
      };
    }
    case 'TRADE_CLOSED':
      if (!ours) return { type: 'ignored', eventId, reason: `close for another app (${appId.slice(0, 40)})` };
      return { type: 'failed', eventId, outTradeNo, reason: 'trade closed without payment' };
    case undefined:
      throw new WebhookRejectedError('malformed', 'notification has no trade_status');
    default:
      return { type: 'ignored', eventId, reason: `trade_status ${f.trade_status.slice(0, 40)}` };
  }
}
