// Frozen: never import app code here, never edit after release — add a new migration instead.
import { type CreateTableBuilder, type Kysely, PostgresAdapter } from 'kysely';

const isPg = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

const serialId =
  (db: Kysely<any>) =>
  (t: CreateTableBuilder<any, any>): CreateTableBuilder<any, any> =>
    isPg(db) ? t.addColumn('id', 'serial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());

export async function up(db: Kysely<any>): Promise<void> {
  // A WeChat room bound by an owner with /bind, and the owner's confirmation of a dry-run intruder report
  // (until then the roster audit only reports).
  await db.schema
    .createTable('wechat_rooms')
    .addColumn('group_id', 'integer', (c) => c.primaryKey().references('groups.id'))
    .addColumn('room_id', 'text', (c) => c.notNull())
    .addColumn('bound_by', 'integer', (c) => c.references('accounts.id'))
    .addColumn('bound_at', 'bigint', (c) => c.notNull())
    .addColumn('confirmed_report_id', 'integer')
    .addColumn('confirmed_by', 'integer', (c) => c.references('accounts.id'))
    .addColumn('confirmed_at', 'bigint')
    .execute();

  // An add to a room waiting for its room-join event (the only proof WeChat gives), one row per membership.
  await db.schema
    .createTable('wechat_pending_adds')
    .addColumn('membership_id', 'integer', (c) => c.primaryKey().references('memberships.id'))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('contact_id', 'text', (c) => c.notNull())
    .addColumn('room_id', 'text', (c) => c.notNull())
    .addColumn('mode', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('requested_at', 'bigint', (c) => c.notNull())
    .addColumn('deadline_at', 'bigint', (c) => c.notNull())
    .addColumn('resolved_at', 'bigint')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema.createIndex('wechat_pending_adds_state_deadline_idx').on('wechat_pending_adds').columns(['state', 'deadline_at']).execute();

  // People the roster audit never removes from a room, although they have no paid membership.
  await db.schema
    .createTable('wechat_whitelist')
    .$call(serialId(db))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('contact_id', 'text', (c) => c.notNull())
    .addColumn('handle', 'text')
    .addColumn('name', 'text')
    .addColumn('added_by', 'integer', (c) => c.references('accounts.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('wechat_whitelist_group_contact_uq', ['group_id', 'contact_id'])
    .execute();

  // Dry-run reports of people in a room without a paid membership, as sent to the owner.
  await db.schema
    .createTable('wechat_audit_reports')
    .$call(serialId(db))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('intruders', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('wechat_audit_reports_group_idx').on('wechat_audit_reports').columns(['group_id', 'id']).execute();

  // Fields that survive a puppet re-login (the WeChat ID, the remark the bot set), to find an account
  // again when its contact id changes.
  await db.schema
    .createTable('wechat_identities')
    .addColumn('account_id', 'integer', (c) => c.primaryKey().references('accounts.id'))
    .addColumn('handle', 'text')
    .addColumn('alias_tag', 'text')
    .addColumn('name', 'text')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('wechat_identities_handle_idx').on('wechat_identities').column('handle').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['wechat_identities', 'wechat_audit_reports', 'wechat_whitelist', 'wechat_pending_adds', 'wechat_rooms']) {
    await db.schema.dropTable(t).execute();
  }
}
