import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Order } from '../app/model.ts';
import type { Checkout, OrderPatch } from '../app/ports.ts';
import type { OrderStatus } from '../domain/order.ts';
import { pickDue } from './due-rows.ts';
import { toOrder } from './mappers.ts';
import type { Dialect } from './database.ts';
import type { Database, OrderRow, OrderUpdate } from './schema.ts';

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
      list_price_minor: o.listPriceMinor ?? null,
      discount_minor: o.discountMinor ?? 0,
      coupon_id: o.couponId ?? null,
    })
    .execute();
}

export async function getOrder(db: Kysely<Database>, id: string): Promise<Order | null> {
  const r = await db.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toOrder(r) : null;
}

export async function getOrderForUpdate(db: Kysely<Database>, dialect: Dialect, id: string): Promise<Order | null> {
  let q = db.selectFrom('orders').selectAll().where('id', '=', id);
  // SQLite has one writer at a time, so the transaction already excludes everyone else.
  if (dialect === 'postgres') q = q.forUpdate();
  const r = await q.executeTakeFirst();
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
  patch: OrderPatch,
  now: number,
): Promise<boolean> {
  const set: OrderUpdate = { status: to, updated_at: now };
  if (patch.paidAt !== undefined) set.paid_at = patch.paidAt;
  if (patch.providerTxnId !== undefined) set.provider_txn_id = patch.providerTxnId;
  if (patch.reviewReason !== undefined) set.review_reason = patch.reviewReason;
  if (patch.outRefundNo !== undefined) set.out_refund_no = patch.outRefundNo;
  if (patch.refundReason !== undefined) set.refund_reason = patch.refundReason;
  if (patch.refundedAt !== undefined) set.refunded_at = patch.refundedAt;
  const r = await db.updateTable('orders').set(set).where('id', '=', id).where('status', 'in', from).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** See Repos.orders.payIfExpected: the fast path's one conditional update, returning the row. */
export async function payOrderIfExpected(
  db: Kysely<Database>,
  q: { outTradeNo: string; provider: string; from: OrderStatus[]; amountMinor: number; currency: string },
  patch: { paidAt: number; providerTxnId: string },
  now: number,
): Promise<Order | null> {
  const r = await db
    .updateTable('orders')
    .set({ status: 'paid', paid_at: patch.paidAt, provider_txn_id: patch.providerTxnId, updated_at: now })
    .where('out_trade_no', '=', q.outTradeNo)
    .where('provider', '=', q.provider)
    .where('status', 'in', q.from)
    .where('amount_minor', '=', q.amountMinor)
    .where('currency', '=', q.currency)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('payments').select('payments.id').whereRef('payments.order_id', '=', 'orders.id').where('payments.kind', '=', 'refund'))),
    )
    // Issue 21: an order with phone attempts goes the careful way (its other attempts must be closed).
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('payment_attempts').select('payment_attempts.trade_no').whereRef('payment_attempts.order_id', '=', 'orders.id'))),
    )
    .returningAll()
    .executeTakeFirst();
  return r ? toOrder(r) : null;
}

export async function setOrderCheckout(db: Kysely<Database>, id: string, c: Checkout, now: number): Promise<void> {
  await db.updateTable('orders').set({ checkout_qr: c.qrContent, checkout_url: c.payUrl, updated_at: now }).where('id', '=', id).execute();
}

/** pending → expired for orders past their window; returns the ones that moved (for closing at the provider). */
export async function expireDueOrders(db: Kysely<Database>, dialect: Dialect, now: number, limit: number): Promise<Order[]> {
  const r = await expireDueOrdersStatement(dialect, now, limit).execute(db);
  return r.rows.map(toOrder);
}

export function expireDueOrdersStatement(dialect: Dialect, now: number, limit: number): RawBuilder<OrderRow> {
  const pick = pickDue(
    dialect,
    sql`status = 'pending'`,
    sql`SELECT id FROM orders WHERE status = 'pending' AND expires_at <= ${now} ORDER BY expires_at LIMIT ${limit}`,
  );
  return sql<OrderRow>`
    UPDATE orders SET status = 'expired', updated_at = ${now}
     WHERE ${pick}
    RETURNING *`;
}

/** Orders whose truth is at the provider: pending ones past `pendingBefore`, expired ones that expired after `expiredAfter`, and refunds in flight. */
export async function ordersToReconcile(db: Kysely<Database>, q: { pendingCreatedBefore: number; expiredAfter: number; limit: number }): Promise<Order[]> {
  const rows = await db
    .selectFrom('orders')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb.and([eb('status', '=', 'pending'), eb('created_at', '<=', q.pendingCreatedBefore)]),
        eb.and([eb('status', '=', 'expired'), eb('expires_at', '>', q.expiredAfter)]),
        eb('status', '=', 'refund_pending'),
      ]),
    )
    .orderBy('expires_at')
    .limit(q.limit)
    .execute();
  return rows.map(toOrder);
}

export interface OrderPageQuery {
  status?: OrderStatus;
  accountId?: number;
  after?: { createdAt: number; id: string };
  /** Only orders whose plan opens one of these groups (an owner's scope); an empty list matches nothing. */
  groupIds?: number[];
  provider?: string;
  /** Created in [createdFrom, createdTo). */
  createdFrom?: number;
  createdTo?: number;
  limit: number;
}

/** Newest first, keyset-paged on (created_at, id). */
export async function pageOrders(db: Kysely<Database>, q: OrderPageQuery): Promise<Order[]> {
  let query = db.selectFrom('orders').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit);
  if (q.status) query = query.where('status', '=', q.status);
  if (q.accountId !== undefined) query = query.where('account_id', '=', q.accountId);
  if (q.provider !== undefined) query = query.where('provider', '=', q.provider);
  if (q.createdFrom !== undefined) query = query.where('created_at', '>=', q.createdFrom);
  if (q.createdTo !== undefined) query = query.where('created_at', '<', q.createdTo);
  if (q.groupIds !== undefined) {
    if (q.groupIds.length === 0) return [];
    query = query.where('plan_id', 'in', db.selectFrom('plan_groups').select('plan_groups.plan_id').where('plan_groups.group_id', 'in', q.groupIds));
  }
  if (q.after) {
    const { createdAt, id } = q.after;
    query = query.where((eb) => eb.or([eb('created_at', '<', createdAt), eb.and([eb('created_at', '=', createdAt), eb('id', '<', id)])]));
  }
  return (await query.execute()).map(toOrder);
}
