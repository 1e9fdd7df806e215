// Frozen: never import app code here, never edit after release — add a new migration instead.
import { type CreateTableBuilder, type Kysely, PostgresAdapter } from 'kysely';

const isPg = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

// Issue 16 parts 3 and 5: referral rewards (one level) and the owner's daily digest.
//   - accounts.referral_code: the person's own invite code (NULL until first asked for; unique), and
//     accounts.referred_at: when referred_by was recorded (a person who had a membership or an order in a
//     group before that is an existing member there, and their referral gives nothing).
//   - accounts.digest_off: 1 when an owner turned the daily digest off (`/digest off`).
//   - groups.referral_reward_days: days a referrer earns per referred payer (NULL: REFERRAL_REWARD_DAYS; 0: off).
//   - referral_rewards: one row per (referrer, referred, group), unique: whatever became of that referral
//     (booked, canceled by a refund before booking, skipped and why, clawed back). The unique key is what
//     makes a reward exactly-once across instances and repeated sweeps.
//   - owner_digests: one row per owner and local day once that day's digest was decided (sent or nothing to
//     say): the sweep looks only at owners without one, and two instances cannot both take the same day.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('accounts').addColumn('referral_code', 'text').execute();
  await db.schema.alterTable('accounts').addColumn('referred_at', 'bigint').execute();
  await db.schema
    .alterTable('accounts')
    .addColumn('digest_off', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('accounts_referral_code_uq').unique().on('accounts').column('referral_code').execute();
  await db.schema.createIndex('accounts_referred_by_idx').on('accounts').column('referred_by').execute();
  await db.schema.alterTable('groups').addColumn('referral_reward_days', 'integer').execute();
  await db.schema
    .createTable('referral_rewards')
    .$call((t: CreateTableBuilder<any, any>) =>
      isPg(db) ? t.addColumn('id', 'serial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()),
    )
    .addColumn('referrer_account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('referred_account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('order_id', 'text', (c) => c.references('orders.id'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('days', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('period_id', 'integer')
    .addColumn('clawed_back_ms', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('referral_rewards_uq', ['referrer_account_id', 'referred_account_id', 'group_id'])
    .execute();
  await db.schema.createIndex('referral_rewards_referred_idx').on('referral_rewards').columns(['referred_account_id', 'group_id']).execute();
  await db.schema.createIndex('referral_rewards_order_idx').on('referral_rewards').column('order_id').execute();
  await db.schema
    .createTable('owner_digests')
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('sent', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('owner_digests_pk', ['account_id', 'day'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('owner_digests').execute();
  await db.schema.dropTable('referral_rewards').execute();
  await db.schema.alterTable('groups').dropColumn('referral_reward_days').execute();
  await db.schema.dropIndex('accounts_referred_by_idx').execute();
  await db.schema.dropIndex('accounts_referral_code_uq').execute();
  await db.schema.alterTable('accounts').dropColumn('digest_off').execute();
  await db.schema.alterTable('accounts').dropColumn('referred_at').execute();
  await db.schema.alterTable('accounts').dropColumn('referral_code').execute();
}
