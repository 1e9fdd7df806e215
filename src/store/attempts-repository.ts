// Payment attempts of an order (issue 21 part 5), the Official Account authorization states, and the
// openids accounts pay with. See migrations/0015-payment-attempts.ts.
import type { Kysely, Selectable } from 'kysely';
import type { PaymentAttempt, Rail } from '../app/model.ts';
import type { Database, PaymentAttemptsTable } from './schema.ts';

const toAttempt = (r: Selectable<PaymentAttemptsTable>): PaymentAttempt => ({
  tradeNo: r.trade_no,
  orderId: r.order_id,
  rail: r.rail as Rail,
  payer: r.payer,
  prepay: r.prepay ? (JSON.parse(r.prepay) as Record<string, string>) : null,
  createdAt: Number(r.created_at),
  closedAt: r.closed_at === null ? null : Number(r.closed_at),
  paidTxnId: r.paid_txn_id,
  paidAt: r.paid_at === null ? null : Number(r.paid_at),
  amountMinor: r.amount_minor === null ? null : Number(r.amount_minor),
  outRefundNo: r.out_refund_no,
  refundId: r.refund_id,
  refundedAt: r.refunded_at === null ? null : Number(r.refunded_at),
});

/** False when the trade number is taken already. */
export async function insertAttemptIfAbsent(
  db: Kysely<Database>,
  a: { tradeNo: string; orderId: string; rail: Rail; payer: string | null },
  now: number,
): Promise<boolean> {
  const r = await db
    .insertInto('payment_attempts')
    .values({ trade_no: a.tradeNo, order_id: a.orderId, rail: a.rail, payer: a.payer, prepay: null, created_at: now })
    .onConflict((oc) => oc.column('trade_no').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export async function getAttempt(db: Kysely<Database>, tradeNo: string): Promise<PaymentAttempt | null> {
  const r = await db.selectFrom('payment_attempts').selectAll().where('trade_no', '=', tradeNo).executeTakeFirst();
  return r ? toAttempt(r) : null;
}

export async function listAttempts(db: Kysely<Database>, orderId: string): Promise<PaymentAttempt[]> {
  const rows = await db.selectFrom('payment_attempts').selectAll().where('order_id', '=', orderId).orderBy('created_at').orderBy('trade_no').execute();
  return rows.map(toAttempt);
}

export async function setAttemptPrepay(db: Kysely<Database>, tradeNo: string, prepay: Record<string, string>): Promise<void> {
  await db
    .updateTable('payment_attempts')
    .set({ prepay: JSON.stringify(prepay) })
    .where('trade_no', '=', tradeNo)
    .execute();
}

export async function closeAttempt(db: Kysely<Database>, tradeNo: string, now: number): Promise<void> {
  await db.updateTable('payment_attempts').set({ closed_at: now }).where('trade_no', '=', tradeNo).where('closed_at', 'is', null).execute();
}

/** Conditional: true only for the first report of this attempt's money. */
export async function markAttemptPaid(
  db: Kysely<Database>,
  tradeNo: string,
  p: { txnId: string; paidAt: number; amountMinor: number; outRefundNo: string | null },
): Promise<boolean> {
  const r = await db
    .updateTable('payment_attempts')
    .set({ paid_txn_id: p.txnId, paid_at: p.paidAt, amount_minor: p.amountMinor, out_refund_no: p.outRefundNo })
    .where('trade_no', '=', tradeNo)
    .where('paid_txn_id', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Conditional: true only for the first confirmation of the attempt's own refund. */
export async function markAttemptRefunded(db: Kysely<Database>, tradeNo: string, refundId: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('payment_attempts')
    .set({ refund_id: refundId, refunded_at: now })
    .where('trade_no', '=', tradeNo)
    .where('out_refund_no', 'is not', null)
    .where('refunded_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function insertOauthState(db: Kysely<Database>, s: { state: string; orderId: string; expiresAt: number }, now: number): Promise<void> {
  await db.insertInto('oauth_states').values({ state: s.state, order_id: s.orderId, created_at: now, expires_at: s.expiresAt, used_at: null }).execute();
}

export async function getOauthState(db: Kysely<Database>, state: string): Promise<{ orderId: string; expiresAt: number; usedAt: number | null } | null> {
  const r = await db.selectFrom('oauth_states').selectAll().where('state', '=', state).executeTakeFirst();
  return r ? { orderId: r.order_id, expiresAt: Number(r.expires_at), usedAt: r.used_at === null ? null : Number(r.used_at) } : null;
}

/** Conditional: true only for the one request that used an unused, unexpired state. */
export async function consumeOauthState(db: Kysely<Database>, state: string, orderId: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('oauth_states')
    .set({ used_at: now })
    .where('state', '=', state)
    .where('order_id', '=', orderId)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function getPayerOpenid(db: Kysely<Database>, accountId: number, appid: string): Promise<string | null> {
  const r = await db.selectFrom('payer_openids').select('openid').where('account_id', '=', accountId).where('appid', '=', appid).executeTakeFirst();
  return r?.openid ?? null;
}

export async function setPayerOpenid(db: Kysely<Database>, accountId: number, appid: string, openid: string, now: number): Promise<void> {
  await db
    .insertInto('payer_openids')
    .values({ account_id: accountId, appid, openid, updated_at: now })
    .onConflict((oc) => oc.columns(['account_id', 'appid']).doUpdateSet({ openid, updated_at: now }))
    .execute();
}
