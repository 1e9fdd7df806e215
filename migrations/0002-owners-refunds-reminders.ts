// Frozen: never import app code here, never edit after release — add a new migration instead.
import { type CreateTableBuilder, type Kysely, PostgresAdapter } from 'kysely';

const isPg = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

export async function up(db: Kysely<any>): Promise<void> {
  // Owners: only an account that redeemed a claim code is one.
  await db.schema
    .alterTable('accounts')
    .addColumn('is_owner', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable('owner_claims')
    .$call((t: CreateTableBuilder<any, any>) =>
      isPg(db) ? t.addColumn('id', 'serial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()),
    )
    .addColumn('code_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('redeemed_at', 'bigint')
    .addColumn('redeemed_by', 'integer', (c) => c.references('accounts.id'))
    .execute();

  // Refunds: the refund number is stored before the provider is asked, and never reissued.
  await db.schema.alterTable('orders').addColumn('out_refund_no', 'text').execute();
  await db.schema.alterTable('orders').addColumn('refund_reason', 'text').execute();
  await db.schema.alterTable('orders').addColumn('refunded_at', 'bigint').execute();
  await db.schema.createIndex('orders_out_refund_no_uq').on('orders').column('out_refund_no').unique().execute();

  // A refunded order's periods stay for the ledger, marked revoked.
  await db.schema.alterTable('membership_periods').addColumn('revoked_at', 'bigint').execute();

  // Reminders: the smallest offset already reminded for the current expires_at (reset on every renewal).
  await db.schema.alterTable('memberships').addColumn('reminded_offset_ms', 'bigint').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('memberships').dropColumn('reminded_offset_ms').execute();
  await db.schema.alterTable('membership_periods').dropColumn('revoked_at').execute();
  await db.schema.dropIndex('orders_out_refund_no_uq').execute();
  await db.schema.alterTable('orders').dropColumn('refunded_at').execute();
  await db.schema.alterTable('orders').dropColumn('refund_reason').execute();
  await db.schema.alterTable('orders').dropColumn('out_refund_no').execute();
  await db.schema.dropTable('owner_claims').execute();
  await db.schema.alterTable('accounts').dropColumn('is_owner').execute();
}
