// Read-only aggregates for owners (stats) and for /metrics. Money is summed per currency, never mixed.
import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.ts';

export async function countMembersByStatus(db: Kysely<Database>): Promise<Array<{ status: string; count: number }>> {
  const rows = await db.selectFrom('memberships').select('status').select((eb) => eb.fn.countAll<number>().as('count')).groupBy('status').execute();
  return rows.map((r) => ({ status: r.status, count: Number(r.count) }));
}

/** People (not memberships) with access now: active or in grace in at least one group. */
export async function countActiveMembers(db: Kysely<Database>, groupId?: number): Promise<number> {
  let q = db.selectFrom('memberships').select((eb) => eb.fn.count<number>('account_id').distinct().as('n')).where('status', 'in', ['active', 'grace']);
  if (groupId !== undefined) q = q.where('group_id', '=', groupId);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

/** Net revenue (charges minus refunds) per currency for money that moved in [from, to). */
export async function revenueByCurrency(db: Kysely<Database>, from?: number, to?: number): Promise<Array<{ currency: string; chargesMinor: number; refundsMinor: number; netMinor: number }>> {
  let q = db
    .selectFrom('payments')
    .select('currency')
    .select(sql<number>`COALESCE(SUM(CASE WHEN kind = 'charge' THEN amount_minor ELSE 0 END), 0)`.as('charges'))
    .select(sql<number>`COALESCE(SUM(CASE WHEN kind = 'refund' THEN amount_minor ELSE 0 END), 0)`.as('refunds'))
    .groupBy('currency')
    .orderBy('currency');
  if (from !== undefined) q = q.where('occurred_at', '>=', from);
  if (to !== undefined) q = q.where('occurred_at', '<', to);
  const rows = await q.execute();
  return rows.map((r) => ({ currency: r.currency, chargesMinor: Number(r.charges), refundsMinor: Number(r.refunds), netMinor: Number(r.charges) - Number(r.refunds) }));
}

/** Paid periods created in [from, to) that followed an earlier period of the same membership. */
export async function countRenewals(db: Kysely<Database>, from: number, to: number): Promise<number> {
  const r = await sql<{ n: number }>`
    SELECT COUNT(DISTINCT p.order_id) AS n FROM membership_periods p
     WHERE p.kind = 'paid' AND p.created_at >= ${from} AND p.created_at < ${to}
       AND EXISTS (SELECT 1 FROM membership_periods q WHERE q.membership_id = p.membership_id AND q.id < p.id)`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

/** Memberships that lapsed (expired after grace) in [from, to). */
export async function countChurn(db: Kysely<Database>, from: number, to: number): Promise<number> {
  const r = await db.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).where('action', '=', 'membership.expire').where('at', '>=', from).where('at', '<', to).executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function countOrdersByStatus(db: Kysely<Database>): Promise<Array<{ status: string; count: number }>> {
  const rows = await db.selectFrom('orders').select('status').select((eb) => eb.fn.countAll<number>().as('count')).groupBy('status').execute();
  return rows.map((r) => ({ status: r.status, count: Number(r.count) }));
}

export async function countWebhookOutcomes(db: Kysely<Database>): Promise<Array<{ provider: string; outcome: string; count: number }>> {
  const rows = await db.selectFrom('webhook_events').select(['provider', 'outcome']).select((eb) => eb.fn.countAll<number>().as('count')).groupBy(['provider', 'outcome']).execute();
  return rows.map((r) => ({ provider: r.provider, outcome: r.outcome, count: Number(r.count) }));
}
