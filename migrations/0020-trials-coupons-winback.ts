// Frozen: never import app code here, never edit after release — add a new migration instead.
import { type CreateTableBuilder, type Kysely, PostgresAdapter } from 'kysely';

const isPg = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;
const serialId = (db: Kysely<any>) => (t: CreateTableBuilder<any, any>) =>
  isPg(db) ? t.addColumn('id', 'serial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());

// Issue 16 parts 1, 2 and 4: free trials, coupons (and 100 % access codes), win-back offers.
// - `trials`: one row per person and plan, ever (the unique key is the "once per person per plan" rule).
// - `coupons`: a code (stored upper-case, unique), a percent or a fixed amount in one currency, the plans it is
//   for (JSON array, NULL: any), limits (max uses, uses per person, validity window), and for a personal
//   coupon (win-back) the one account that may use it. `uses` is only ever raised by the conditional
//   `uses = uses + 1 WHERE uses < max_uses` inside the payment's confirm transaction; `overshoot` counts the
//   payments honoured after the last use was taken (the money was already taken). `winback_key` (unique) is
//   the "never twice per lapse" dedupe key of a win-back coupon.
// - `coupon_redemptions`: one row per order that redeemed a coupon (unique order_id).
// - orders: the list price, the discount and the coupon of an order bought with a code.
// - groups: win-back settings (0 days: off).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('trials')
    .$call(serialId(db))
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('plan_id', 'integer', (c) => c.notNull().references('plans.id'))
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('ends_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('trials_account_plan_uq', ['account_id', 'plan_id'])
    .execute();
  await db.schema.createIndex('trials_started_at_idx').on('trials').column('started_at').execute();

  await db.schema
    .createTable('coupons')
    .$call(serialId(db))
    .addColumn('code', 'text', (c) => c.notNull().unique())
    .addColumn('percent', 'integer')
    .addColumn('amount_minor', 'bigint')
    .addColumn('currency', 'text')
    .addColumn('plan_ids', 'text')
    .addColumn('max_uses', 'integer')
    .addColumn('per_person', 'integer')
    .addColumn('valid_from', 'bigint')
    .addColumn('valid_until', 'bigint')
    .addColumn('account_id', 'integer', (c) => c.references('accounts.id'))
    .addColumn('uses', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('overshoot', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('winback_key', 'text', (c) => c.unique())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('coupon_redemptions')
    .$call(serialId(db))
    .addColumn('coupon_id', 'integer', (c) => c.notNull().references('coupons.id'))
    .addColumn('order_id', 'text', (c) => c.notNull().unique().references('orders.id'))
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('discount_minor', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('overshoot', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('redeemed_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('coupon_redemptions_coupon_account_idx').on('coupon_redemptions').columns(['coupon_id', 'account_id']).execute();
  await db.schema.createIndex('coupon_redemptions_redeemed_at_idx').on('coupon_redemptions').column('redeemed_at').execute();

  await db.schema.alterTable('orders').addColumn('list_price_minor', 'bigint').execute();
  await db.schema
    .alterTable('orders')
    .addColumn('discount_minor', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('orders').addColumn('coupon_id', 'integer').execute();

  await db.schema
    .alterTable('groups')
    .addColumn('winback_days', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('groups')
    .addColumn('winback_percent', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('groups').dropColumn('winback_percent').execute();
  await db.schema.alterTable('groups').dropColumn('winback_days').execute();
  await db.schema.alterTable('orders').dropColumn('coupon_id').execute();
  await db.schema.alterTable('orders').dropColumn('discount_minor').execute();
  await db.schema.alterTable('orders').dropColumn('list_price_minor').execute();
  await db.schema.dropTable('coupon_redemptions').execute();
  await db.schema.dropTable('coupons').execute();
  await db.schema.dropTable('trials').execute();
}
