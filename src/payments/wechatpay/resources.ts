// The shapes WeChat Pay sends us (a transaction, a refund) and what they mean as ProviderEvents. Shared by
// notifications (decrypted `resource`) and API answers (query, refund).
import { z } from 'zod';
import type { ProviderEvent } from '../../app/ports.ts';
import { parseRfc3339 } from './time-format.ts';

export type PaidEvent = Extract<ProviderEvent, { type: 'paid' }>;
export type RefundedEvent = Extract<ProviderEvent, { type: 'refunded' }>;

const id = z.string().min(1).max(128);
const fen = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const Transaction = z.object({
  appid: id,
  mchid: id,
  out_trade_no: id,
  transaction_id: id.optional(),
  trade_state: z.string().min(1).max(32),
  success_time: z.string().max(64).optional(),
  amount: z.object({ total: fen, currency: z.string().length(3).optional(), payer_total: fen.optional(), payer_currency: z.string().optional() }),
});
export type Transaction = z.infer<typeof Transaction>;

export const Refund = z.object({
  mchid: id.optional(),
  out_trade_no: id,
  transaction_id: id.optional(),
  out_refund_no: id,
  refund_id: id,
  /** `status` in API answers, `refund_status` in notifications. */
  status: z.string().max(32).optional(),
  refund_status: z.string().max(32).optional(),
  success_time: z.string().max(64).optional(),
  amount: z.object({ total: fen, refund: fen, currency: z.string().length(3).optional() }),
});
export type Refund = z.infer<typeof Refund>;

/** WeChat Pay only settles CNY for domestic merchants and sometimes leaves `currency` out. */
export const DEFAULT_CURRENCY = 'CNY';

export interface Merchant {
  mchid: string;
  appid: string;
  /** The Official Account appid JSAPI payments are made under, when it is not `appid` (issue 21). */
  mpAppid?: string;
}

/**
 * The merchant a payment was made to, as the core compares it with `provider.merchantId` (= our mchid).
 * A payment under our mchid but another appid names `mchid/appid`, so the core sees a mismatch and holds
 * the order for review: the money did arrive (WeChat Pay signed it), so rejecting the notification would
 * only make WeChat Pay retry for a day while nobody is told.
 */
export function merchantOf(t: { mchid: string; appid: string }, ours: Merchant): string {
  return t.mchid === ours.mchid && (t.appid === ours.appid || t.appid === ours.mpAppid) ? ours.mchid : `${t.mchid}/${t.appid}`;
}

/** A SUCCESS transaction as a paid event; null when a field the core needs is missing or unreadable. */
export function paidEventOf(t: Transaction, eventId: string, ours: Merchant): PaidEvent | null {
  if (t.trade_state !== 'SUCCESS' || !t.transaction_id || !t.success_time) return null;
  const paidAt = parseRfc3339(t.success_time);
  if (paidAt === null) return null;
  return {
    type: 'paid',
    eventId,
    outTradeNo: t.out_trade_no,
    providerTxnId: t.transaction_id,
    amountMinor: t.amount.total,
    currency: t.amount.currency ?? DEFAULT_CURRENCY,
    merchantId: merchantOf(t, ours),
    paidAt,
  };
}

/** A SUCCESS refund as a refunded event; null when it is not one or a needed field is unreadable. */
export function refundedEventOf(r: Refund, eventId: string, fallbackAt: number): RefundedEvent | null {
  if ((r.refund_status ?? r.status) !== 'SUCCESS') return null;
  const at = r.success_time ? parseRfc3339(r.success_time) : fallbackAt;
  if (at === null) return null;
  return {
    type: 'refunded',
    eventId,
    outTradeNo: r.out_trade_no,
    providerRefundId: r.refund_id,
    amountMinor: r.amount.refund,
    currency: r.amount.currency ?? DEFAULT_CURRENCY,
    refundedAt: at,
  };
}
