// Frozen: never import app code here, never edit after release — add a new migration instead.
import { type CreateTableBuilder, type Kysely, PostgresAdapter } from 'kysely';

const isPg = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

// Issue 17 part 6: refunds on request within a window. `groups.refund_window_hours` (0: off) is how long
// after a paid period starts its member may ask for their money back; `refund_requests` holds one row per
// request that went through, unique per (account, group), which is the "once per person per group" rule
// and what the stats count.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('groups')
    .addColumn('refund_window_hours', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable('refund_requests')
    .$call((t: CreateTableBuilder<any, any>) =>
      isPg(db) ? t.addColumn('id', 'serial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()),
    )
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('order_id', 'text', (c) => c.notNull().references('orders.id'))
    .addColumn('amount_minor', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('requested_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('refund_requests_account_group_uq', ['account_id', 'group_id'])
    .execute();
  await db.schema.createIndex('refund_requests_requested_at_idx').on('refund_requests').column('requested_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('refund_requests').execute();
  await db.schema.alterTable('groups').dropColumn('refund_window_hours').execute();
}
