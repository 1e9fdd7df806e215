// Read-only aggregates for owners (stats) and for /metrics. Money is summed per currency, never mixed.
import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.ts';

export async function countMembersByStatus(db: Kysely<Database>): Promise<Array<{ status: string; count: number }>> {
  const rows = await db
    .selectFrom('memberships')
    .select('status')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .groupBy('status')
    .execute();
  return rows.map((r) => ({ status: r.status, count: Number(r.count) }));
}

// `groupIds` below: only what concerns those groups (an owner's scope); absent: every group.

/** People (not memberships) with access now: active or in grace in at least one group. */
export async function countActiveMembers(db: Kysely<Database>, groupIds?: number[]): Promise<number> {
  if (groupIds?.length === 0) return 0;
  let q = db
    .selectFrom('memberships')
    .select((eb) => eb.fn.count<number>('account_id').distinct().as('n'))
    .where('status', 'in', ['active', 'grace']);
  if (groupIds !== undefined) q = q.where('group_id', 'in', groupIds);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

/**
 * Net revenue (charges minus refunds) per currency for money that moved in [from, to). With `groupIds`:
 * the money of orders whose plan opens at least one of those groups.
 */
export async function revenueByCurrency(
  db: Kysely<Database>,
  from?: number,
  to?: number,
  groupIds?: number[],
): Promise<Array<{ currency: string; chargesMinor: number; refundsMinor: number; netMinor: number }>> {
  if (groupIds?.length === 0) return [];
  let q = db
    .selectFrom('payments')
    .select('currency')
    .select(sql<number>`COALESCE(SUM(CASE WHEN kind = 'charge' THEN amount_minor ELSE 0 END), 0)`.as('charges'))
    .select(sql<number>`COALESCE(SUM(CASE WHEN kind = 'refund' THEN amount_minor ELSE 0 END), 0)`.as('refunds'))
    .groupBy('currency')
    .orderBy('currency');
  if (from !== undefined) q = q.where('occurred_at', '>=', from);
  if (to !== undefined) q = q.where('occurred_at', '<', to);
  if (groupIds !== undefined) {
    const plans = db.selectFrom('plan_groups').select('plan_groups.plan_id').where('plan_groups.group_id', 'in', groupIds);
    q = q.where('order_id', 'in', db.selectFrom('orders').select('orders.id').where('orders.plan_id', 'in', plans));
  }
  const rows = await q.execute();
  return rows.map((r) => ({
    currency: r.currency,
    chargesMinor: Number(r.charges),
    refundsMinor: Number(r.refunds),
    netMinor: Number(r.charges) - Number(r.refunds),
  }));
}

/**
 * Paid periods created in [from, to) that were the first period of their membership: new members (the
 * complement of countRenewals, so new members + renewals = paid orders that opened a period). Orders counted once.
 */
export async function countNewMembers(db: Kysely<Database>, from: number, to: number, groupIds?: number[]): Promise<number> {
  if (groupIds?.length === 0) return 0;
  const inGroups = groupIds === undefined ? sql`` : sql`AND p.group_id IN (${sql.join(groupIds)})`;
  const r = await sql<{ n: number }>`
    SELECT COUNT(DISTINCT p.order_id) AS n FROM membership_periods p
     WHERE p.kind = 'paid' AND p.created_at >= ${from} AND p.created_at < ${to} ${inGroups}
       AND NOT EXISTS (SELECT 1 FROM membership_periods q WHERE q.membership_id = p.membership_id AND q.id < p.id)`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

/** Paid periods created in [from, to) that followed an earlier period of the same membership. */
export async function countRenewals(db: Kysely<Database>, from: number, to: number, groupIds?: number[]): Promise<number> {
  if (groupIds?.length === 0) return 0;
  const inGroups = groupIds === undefined ? sql`` : sql`AND p.group_id IN (${sql.join(groupIds)})`;
  const r = await sql<{ n: number }>`
    SELECT COUNT(DISTINCT p.order_id) AS n FROM membership_periods p
     WHERE p.kind = 'paid' AND p.created_at >= ${from} AND p.created_at < ${to} ${inGroups}
       AND EXISTS (SELECT 1 FROM membership_periods q WHERE q.membership_id = p.membership_id AND q.id < p.id)`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

/** Memberships that lapsed (expired after grace) in [from, to). */
export async function countChurn(db: Kysely<Database>, from: number, to: number, groupIds?: number[]): Promise<number> {
  if (groupIds?.length === 0) return 0;
  let q = db
    .selectFrom('audit_log')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('action', '=', 'membership.expire')
    .where('at', '>=', from)
    .where('at', '<', to);
  if (groupIds !== undefined) {
    q = q.where('subject_type', '=', 'membership').where(
      'subject_id',
      'in',
      db
        .selectFrom('memberships')
        .select(sql<string>`CAST(id AS TEXT)`.as('sid'))
        .where('group_id', 'in', groupIds),
    );
  }
  const r = await q.executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function countOrdersByStatus(db: Kysely<Database>): Promise<Array<{ status: string; count: number }>> {
  const rows = await db
    .selectFrom('orders')
    .select('status')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .groupBy('status')
    .execute();
  return rows.map((r) => ({ status: r.status, count: Number(r.count) }));
}

export async function countWebhookOutcomes(db: Kysely<Database>): Promise<Array<{ provider: string; outcome: string; count: number }>> {
  const rows = await db
    .selectFrom('webhook_events')
    .select(['provider', 'outcome'])
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .groupBy(['provider', 'outcome'])
    .execute();
  return rows.map((r) => ({ provider: r.provider, outcome: r.outcome, count: Number(r.count) }));
}

/**
 * Refunds members asked for within a refund window (refund_requests, migration 0014), made in [from, to),
 * per currency: how many and how much. A request covering several groups (a plan opening more than one)
 * counts once. With `groupIds`: requests in those groups.
 */
export async function refundsOnRequest(
  db: Kysely<Database>,
  from?: number,
  to?: number,
  groupIds?: number[],
): Promise<Array<{ currency: string; count: number; amountMinor: number }>> {
  if (groupIds?.length === 0) return [];
  let orders = db.selectFrom('refund_requests').select(['order_id', 'currency', 'amount_minor']).distinct();
  if (from !== undefined) orders = orders.where('requested_at', '>=', from);
  if (to !== undefined) orders = orders.where('requested_at', '<', to);
  if (groupIds !== undefined) orders = orders.where('group_id', 'in', groupIds);
  const rows = await db
    .selectFrom(orders.as('o'))
    .select('o.currency')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .select(sql<number>`COALESCE(SUM(o.amount_minor), 0)`.as('amount'))
    .groupBy('o.currency')
    .orderBy('o.currency')
    .execute();
  return rows.map((r) => ({ currency: r.currency, count: Number(r.count), amountMinor: Number(r.amount) }));
}

/** Active memberships whose paid time ends in [from, to). */
export async function countExpiring(db: Kysely<Database>, from: number, to: number, groupIds?: number[]): Promise<number> {
  if (groupIds?.length === 0) return 0;
  let q = db
    .selectFrom('memberships')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', '=', 'active')
    .where('expires_at', '>=', from)
    .where('expires_at', '<', to);
  if (groupIds !== undefined) q = q.where('group_id', 'in', groupIds);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

/** Orders held for review (status `review`); with `groupIds`, those whose plan opens one of them. */
export async function countHeldOrders(db: Kysely<Database>, groupIds?: number[]): Promise<number> {
  if (groupIds?.length === 0) return 0;
  let q = db
    .selectFrom('orders')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', '=', 'review');
  if (groupIds !== undefined)
    q = q.where('plan_id', 'in', db.selectFrom('plan_groups').select('plan_groups.plan_id').where('plan_groups.group_id', 'in', groupIds));
  return Number((await q.executeTakeFirstOrThrow()).n);
}

/**
 * Sales per plan and currency from the ledger (the same rows as revenueByCurrency): paid orders counted once,
 * charges and refunds summed. With `groupIds`: plans opening at least one of those groups.
 */
export async function planSales(
  db: Kysely<Database>,
  groupIds?: number[],
): Promise<Array<{ planId: number; currency: string; orders: number; chargesMinor: number; refundsMinor: number; netMinor: number }>> {
  if (groupIds?.length === 0) return [];
  let q = db
    .selectFrom('payments')
    .innerJoin('orders', 'orders.id', 'payments.order_id')
    .select(['orders.plan_id', 'payments.currency'])
    .select(sql<number>`COUNT(DISTINCT CASE WHEN payments.kind = 'charge' THEN payments.order_id END)`.as('orders'))
    .select(sql<number>`COALESCE(SUM(CASE WHEN payments.kind = 'charge' THEN payments.amount_minor ELSE 0 END), 0)`.as('charges'))
    .select(sql<number>`COALESCE(SUM(CASE WHEN payments.kind = 'refund' THEN payments.amount_minor ELSE 0 END), 0)`.as('refunds'))
    .groupBy(['orders.plan_id', 'payments.currency'])
    .orderBy('orders.plan_id');
  if (groupIds !== undefined)
    q = q.where('orders.plan_id', 'in', db.selectFrom('plan_groups').select('plan_groups.plan_id').where('plan_groups.group_id', 'in', groupIds));
  const rows = await q.execute();
  return rows.map((r) => ({
    planId: Number(r.plan_id),
    currency: r.currency,
    orders: Number(r.orders),
    chargesMinor: Number(r.charges),
    refundsMinor: Number(r.refunds),
    netMinor: Number(r.charges) - Number(r.refunds),
  }));
}
