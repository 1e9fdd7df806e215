import type { Kysely } from 'kysely';
import type { Order } from '../app/model.ts';
import type { Checkout } from '../app/ports.ts';
import type { OrderStatus } from '../domain/order.ts';
import { toOrder } from './mappers.ts';
import type { Database, OrderUpdate } from './schema.ts';

export async function insertOrder(db: Kysely<Database>, o: Order): Promise<void> {
  await db
    .insertInto('orders')
    .values({
      id: o.id,
      out_trade_no: o.outTradeNo,
      account_id: o.accountId,
      plan_id: o.planId,
      amount_minor: o.amountMinor,
      currency: o.currency,
      provider: o.provider,
      status: o.status,
      created_at: o.createdAt,
      updated_at: o.updatedAt,
      expires_at: o.expiresAt,
      paid_at: o.paidAt,
      provider_txn_id: o.providerTxnId,
      review_reason: o.reviewReason,
      checkout_qr: o.checkoutQr,
      checkout_url: o.checkoutUrl,
    })
    .execute();
}

export async function getOrder(db: Kysely<Database>, id: string): Promise<Order | null> {
  const r = await db.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toOrder(r) : null;
}

export async function findOrderByOutTradeNo(db: Kysely<Database>, outTradeNo: string): Promise<Order | null> {
  const r = await db.selectFrom('orders').selectAll().where('out_trade_no', '=', outTradeNo).executeTakeFirst();
  return r ? toOrder(r) : null;
}

/** The conditional update the exactly-once rule rests on: `… WHERE id = ? AND status IN (from)`. */
export async function transitionOrder(
  db: Kysely<Database>,
  id: string,
  from: OrderStatus[],
  to: OrderStatus,
  patch: Partial<Pick<Order, 'paidAt' | 'providerTxnId' | 'reviewReason'>>,
  now: number,
): Promise<boolean> {
  const set: OrderUpdate = { status: to, updated_at: now };
  if (patch.paidAt !== undefined) set.paid_at = patch.paidAt;
  if (patch.providerTxnId !== undefined) set.provider_txn_id = patch.providerTxnId;
  if (patch.reviewReason !== undefined) set.review_reason = patch.reviewReason;
  const r = await db.updateTable('orders').set(set).where('id', '=', id).where('status', 'in', from).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function setOrderCheckout(db: Kysely<Database>, id: string, c: Checkout, now: number): Promise<void> {
  await db.updateTable('orders').set({ checkout_qr: c.qrContent, checkout_url: c.payUrl, updated_at: now }).where('id', '=', id).execute();
}
