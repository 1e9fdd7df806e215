// The money ledger and the webhook audit trail: both append-only, both keyed so a duplicate cannot land.
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

export async function insertPaymentIfAbsent(
  db: Kysely<Database>,
  p: { orderId: string; provider: string; providerTxnId: string; kind: 'charge' | 'refund'; amountMinor: number; currency: string; occurredAt: number },
  now: number,
): Promise<boolean> {
  const r = await db
    .insertInto('payments')
    .values({
      order_id: p.orderId,
      provider: p.provider,
      provider_txn_id: p.providerTxnId,
      kind: p.kind,
      amount_minor: p.amountMinor,
      currency: p.currency,
      occurred_at: p.occurredAt,
      created_at: now,
    })
    .onConflict((oc) => oc.columns(['provider', 'provider_txn_id', 'kind']).doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export async function insertWebhookEventIfAbsent(
  db: Kysely<Database>,
  e: { provider: string; eventId: string; orderId: string | null; outcome: string; payload: string },
  now: number,
): Promise<boolean> {
  const r = await db
    .insertInto('webhook_events')
    .values({ provider: e.provider, event_id: e.eventId, order_id: e.orderId, outcome: e.outcome, payload: e.payload, received_at: now })
    .onConflict((oc) => oc.columns(['provider', 'event_id']).doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export async function setWebhookOutcome(db: Kysely<Database>, provider: string, eventId: string, outcome: string, orderId: string | null): Promise<void> {
  await db.updateTable('webhook_events').set({ outcome, order_id: orderId }).where('provider', '=', provider).where('event_id', '=', eventId).execute();
}

/**
 * Raw bodies older than the retention are emptied ('' marks a purged body; the row stays). Bounded:
 * the oldest `limit` kept bodies, found through the partial index on kept bodies (migration 0008).
 */
export async function purgeWebhookPayloads(db: Kysely<Database>, before: number, limit: number): Promise<number> {
  const due = db.selectFrom('webhook_events').select('id').where('payload', '<>', '').where('received_at', '<', before).orderBy('received_at').limit(limit);
  const r = await db.updateTable('webhook_events').set({ payload: '' }).where('id', 'in', due).executeTakeFirst();
  return Number(r.numUpdatedRows);
}

export async function listPaymentsForOrder(db: Kysely<Database>, orderId: string) {
  const rows = await db.selectFrom('payments').selectAll().where('order_id', '=', orderId).orderBy('id').execute();
  return rows.map((r) => ({
    kind: r.kind as 'charge' | 'refund',
    providerTxnId: r.provider_txn_id,
    amountMinor: r.amount_minor,
    currency: r.currency,
    occurredAt: r.occurred_at,
  }));
}

/** The order a charge is booked for, by its ledger key (provider, provider_txn_id, 'charge'); null when none is. */
export async function orderOfCharge(db: Kysely<Database>, provider: string, providerTxnId: string): Promise<string | null> {
  const r = await db
    .selectFrom('payments')
    .select('order_id')
    .where('provider', '=', provider)
    .where('provider_txn_id', '=', providerTxnId)
    .where('kind', '=', 'charge')
    .executeTakeFirst();
  return r?.order_id ?? null;
}

export async function refundedByOrder(db: Kysely<Database>, orderIds: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (orderIds.length === 0) return out;
  const rows = await db
    .selectFrom('payments')
    .select(['order_id', (eb) => eb.fn.sum<number | string>('amount_minor').as('total')])
    .where('kind', '=', 'refund')
    .where('order_id', 'in', orderIds)
    .groupBy('order_id')
    .execute();
  // PostgreSQL's SUM over BIGINT is NUMERIC, which the driver hands back as a string.
  for (const r of rows) out.set(r.order_id, Number(r.total));
  return out;
}
