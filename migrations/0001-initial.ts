// Frozen: never import app code here, never edit after release — add a new migration instead.
import { type CreateTableBuilder, type Kysely, PostgresAdapter } from 'kysely';

const isPg = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

function id(db: Kysely<any>, big = false) {
  return (t: CreateTableBuilder<any, any>): CreateTableBuilder<any, any> =>
    isPg(db) ? t.addColumn('id', big ? 'bigserial' : 'serial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('accounts')
    .$call(id(db))
    .addColumn('platform', 'text', (c) => c.notNull())
    .addColumn('platform_user_id', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text')
    .addColumn('locale', 'text')
    .addColumn('referred_by', 'integer', (c) => c.references('accounts.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('accounts_platform_user_uq', ['platform', 'platform_user_id'])
    .execute();

  await db.schema
    .createTable('groups')
    .$call(id(db))
    .addColumn('platform', 'text', (c) => c.notNull())
    .addColumn('platform_chat_id', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('owner_account_id', 'integer', (c) => c.references('accounts.id'))
    .addColumn('join_mode', 'text', (c) => c.notNull().defaultTo('auto'))
    .addColumn('grace_ms', 'bigint', (c) => c.notNull())
    .addColumn('reminder_offsets', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('intruder_policy', 'text', (c) => c.notNull().defaultTo('report'))
    .addColumn('default_locale', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('groups_platform_chat_uq', ['platform', 'platform_chat_id'])
    .execute();

  await db.schema
    .createTable('plans')
    .$call(id(db))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('price_minor', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('duration_days', 'integer', (c) => c.notNull())
    .addColumn('trial_days', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('plan_groups')
    .addColumn('plan_id', 'integer', (c) => c.notNull().references('plans.id'))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addPrimaryKeyConstraint('plan_groups_pk', ['plan_id', 'group_id'])
    .execute();
  await db.schema.createIndex('plan_groups_group_idx').on('plan_groups').column('group_id').execute();

  await db.schema
    .createTable('orders')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('out_trade_no', 'text', (c) => c.notNull().unique())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('plan_id', 'integer', (c) => c.notNull().references('plans.id'))
    .addColumn('amount_minor', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('paid_at', 'bigint')
    .addColumn('provider_txn_id', 'text')
    .addColumn('review_reason', 'text')
    .addColumn('checkout_qr', 'text')
    .addColumn('checkout_url', 'text')
    .execute();
  await db.schema.createIndex('orders_status_expires_idx').on('orders').columns(['status', 'expires_at']).execute();
  await db.schema.createIndex('orders_account_idx').on('orders').columns(['account_id', 'created_at']).execute();

  await db.schema
    .createTable('payments')
    .$call(id(db))
    .addColumn('order_id', 'text', (c) => c.notNull().references('orders.id'))
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('provider_txn_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('amount_minor', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('payments_provider_txn_kind_uq', ['provider', 'provider_txn_id', 'kind'])
    .execute();
  await db.schema.createIndex('payments_order_idx').on('payments').column('order_id').execute();
  await db.schema.createIndex('payments_occurred_idx').on('payments').columns(['kind', 'occurred_at']).execute();

  await db.schema
    .createTable('webhook_events')
    .$call(id(db))
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('order_id', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('webhook_events_provider_event_uq', ['provider', 'event_id'])
    .execute();

  await db.schema
    .createTable('memberships')
    .$call(id(db))
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('grace_until', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('memberships_account_group_uq', ['account_id', 'group_id'])
    .execute();
  // The sweeps read only due rows: cost grows with what is due, not with all members.
  await db.schema.createIndex('memberships_status_expires_idx').on('memberships').columns(['status', 'expires_at']).execute();
  await db.schema.createIndex('memberships_status_grace_idx').on('memberships').columns(['status', 'grace_until']).execute();
  await db.schema.createIndex('memberships_group_status_idx').on('memberships').columns(['group_id', 'status']).execute();

  await db.schema
    .createTable('membership_periods')
    .$call(id(db))
    .addColumn('membership_id', 'integer', (c) => c.notNull().references('memberships.id'))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('order_id', 'text', (c) => c.references('orders.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('starts_at', 'bigint', (c) => c.notNull())
    .addColumn('ends_at', 'bigint', (c) => c.notNull())
    .addColumn('days', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('membership_periods_order_group_uq', ['order_id', 'group_id'])
    .execute();
  await db.schema.createIndex('membership_periods_membership_idx').on('membership_periods').column('membership_id').execute();

  await db.schema
    .createTable('jobs')
    .$call(id(db, true))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('lane', 'text', (c) => c.notNull())
    .addColumn('priority', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('run_at', 'bigint', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_attempts', 'integer', (c) => c.notNull())
    .addColumn('lease_until', 'bigint')
    .addColumn('locked_by', 'text')
    .addColumn('last_error', 'text')
    .addColumn('dedupe_key', 'text', (c) => c.unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('jobs_claim_idx').on('jobs').columns(['status', 'priority', 'run_at']).execute();
  await db.schema.createIndex('jobs_lease_idx').on('jobs').columns(['status', 'lease_until']).execute();

  await db.schema
    .createTable('audit_log')
    .$call(id(db, true))
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('subject_type', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('detail', 'text')
    .execute();
  await db.schema.createIndex('audit_log_subject_idx').on('audit_log').columns(['subject_type', 'subject_id']).execute();
  await db.schema.createIndex('audit_log_at_idx').on('audit_log').column('at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    'audit_log',
    'jobs',
    'membership_periods',
    'memberships',
    'webhook_events',
    'payments',
    'orders',
    'plan_groups',
    'plans',
    'groups',
    'accounts',
  ]) {
    await db.schema.dropTable(t).execute();
  }
}
