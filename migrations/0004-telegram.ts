// Frozen: never import app code here, never edit after release — add a new migration instead.
import { type CreateTableBuilder, type Kysely, PostgresAdapter } from 'kysely';

const isPg = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

const serialId =
  (db: Kysely<any>) =>
  (t: CreateTableBuilder<any, any>): CreateTableBuilder<any, any> =>
    isPg(db) ? t.addColumn('id', 'serial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());

export async function up(db: Kysely<any>): Promise<void> {
  // What the bot knows about a bound Telegram group: its own status and admin rights there (so the owner is
  // told only when they change) and when the owner last saw the dry-run intruder report.
  await db.schema
    .createTable('telegram_groups')
    .addColumn('group_id', 'integer', (c) => c.primaryKey().references('groups.id'))
    .addColumn('bot_status', 'text', (c) => c.notNull())
    .addColumn('missing_rights', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('dry_run_at', 'bigint')
    .addColumn('dry_run_by', 'integer', (c) => c.references('accounts.id'))
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  // Join-request invite links made for one membership: revoked once used or when the membership ends.
  await db.schema
    .createTable('telegram_invite_links')
    .$call(serialId(db))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('membership_id', 'integer', (c) => c.notNull().references('memberships.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('invite_link', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema.createIndex('telegram_invite_links_group_user_idx').on('telegram_invite_links').columns(['group_id', 'user_id']).execute();

  // The latest join request of a person for a group, so the invite job can approve it (durably, with retries).
  await db.schema
    .createTable('telegram_join_requests')
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('user_chat_id', 'text')
    .addColumn('invite_link', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('requested_at', 'bigint', (c) => c.notNull())
    .addColumn('decided_at', 'bigint')
    .addPrimaryKeyConstraint('telegram_join_requests_pk', ['group_id', 'user_id'])
    .execute();

  // The roster as chat_member updates tell it (the Bot API cannot list members), with the intruder state of
  // people seen joining without a membership after the group was bound.
  await db.schema
    .createTable('telegram_chat_members')
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text')
    .addColumn('is_bot', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('joined_at', 'bigint')
    .addColumn('intruder_state', 'text')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('telegram_chat_members_pk', ['group_id', 'user_id'])
    .execute();
  await db.schema.createIndex('telegram_chat_members_intruder_idx').on('telegram_chat_members').columns(['group_id', 'intruder_state']).execute();

  // People an owner lets stay in a group without a membership.
  await db.schema
    .createTable('telegram_whitelist')
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('added_by', 'integer', (c) => c.references('accounts.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('telegram_whitelist_pk', ['group_id', 'user_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['telegram_whitelist', 'telegram_chat_members', 'telegram_join_requests', 'telegram_invite_links', 'telegram_groups']) {
    await db.schema.dropTable(t).execute();
  }
}
