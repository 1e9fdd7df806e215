// Frozen: never import app code here, never edit after release — add a new migration instead.
import type { Kysely } from 'kysely';

// When a subscription's state (active | canceled | failed, and who canceled) last changed here: a /cancel, a
// /resume, a stop for a ban, removal or refund, or a rail's report applied. The guard against late reports
// compares a report's time with this, not with updated_at, which a renewal or a "renews on …" notice also
// bumps (a cancel the member made at the rail just before such a write would otherwise be taken for stale).
// Existing rows start from updated_at: no later than their last state change.
// last_report_at: the rail's time of the newest report about the subscription taken in, whether it changed anything
// or not (a resume that arrives before the cancel it undoes changes nothing here, yet makes that cancel old news).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('subscriptions')
    .addColumn('state_changed_at', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('subscriptions')
    .addColumn('last_report_at', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db
    .updateTable('subscriptions')
    .set((eb) => ({ state_changed_at: eb.ref('updated_at') }))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('subscriptions').dropColumn('last_report_at').execute();
  await db.schema.alterTable('subscriptions').dropColumn('state_changed_at').execute();
}
