// Frozen: never import app code here, never edit after release — add a new migration instead.
import { type CreateTableBuilder, type Kysely, PostgresAdapter } from 'kysely';

const isPg = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

// Issue 18 parts 2 and 4: auto-renewal. `plans.recurring` (0/1) marks a plan the payment rail may renew by
// itself (Telegram Stars: 30-day plans; Stripe: 7, 30, 365). `subscriptions` is the membership model's
// renewal side, one row per subscription a provider runs for a member: the provider and its subscription id
// (Stars: the first charge's telegram_payment_charge_id; Stripe: the sub_… id), unique together; the plan and
// account it renews (so it covers every group of the plan), the order that started it, the price each
// renewal must charge, when the next charge is due, its state (active | canceled | failed) with who
// canceled, the failed renewals counted, and the next charge a "renews on …" notice was queued for.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('plans')
    .addColumn('recurring', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable('subscriptions')
    .$call((t: CreateTableBuilder<any, any>) =>
      isPg(db) ? t.addColumn('id', 'serial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()),
    )
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('subscription_id', 'text', (c) => c.notNull())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('plan_id', 'integer', (c) => c.notNull().references('plans.id'))
    .addColumn('first_order_id', 'text', (c) => c.notNull().references('orders.id'))
    .addColumn('amount_minor', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('canceled_by', 'text')
    .addColumn('next_charge_at', 'bigint', (c) => c.notNull())
    .addColumn('failed_renewals', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('renewal_notice_for', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('subscriptions_provider_sub_uq', ['provider', 'subscription_id'])
    .addUniqueConstraint('subscriptions_first_order_uq', ['first_order_id'])
    .execute();
  await db.schema.createIndex('subscriptions_account_idx').on('subscriptions').column('account_id').execute();
  await db.schema.createIndex('subscriptions_state_next_idx').on('subscriptions').columns(['state', 'next_charge_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('subscriptions').execute();
  await db.schema.alterTable('plans').dropColumn('recurring').execute();
}
