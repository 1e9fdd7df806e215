// Frozen: never import app code here, never edit after release — add a new migration instead.
//
// Join review (issue 17): a group in `review` join mode holds a paid order until its rules and its owner
// decide. One application per order; the group's review settings; the blacklist its first rule reads; the
// owner's questions and a person's answers to them; the Telegram username the profile rule may require.
import { type CreateTableBuilder, type Kysely, PostgresAdapter } from 'kysely';

const isPg = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

const serialId =
  (db: Kysely<any>) =>
  (t: CreateTableBuilder<any, any>): CreateTableBuilder<any, any> =>
    isPg(db) ? t.addColumn('id', 'serial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());

export async function up(db: Kysely<any>): Promise<void> {
  // The group's review settings (join_mode itself exists since 0001). NULL window: the REVIEW_WINDOW_HOURS default.
  await db.schema.alterTable('groups').addColumn('review_window_hours', 'integer').execute();
  await db.schema
    .alterTable('groups')
    .addColumn('review_timeout_action', 'text', (c) => c.notNull().defaultTo('refund'))
    .execute();
  await db.schema
    .alterTable('groups')
    .addColumn('auto_approve_when_rules_pass', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('groups')
    .addColumn('require_username', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // The platform's public handle (Telegram @username), refreshed on every message; NULL when it has none.
  await db.schema.alterTable('accounts').addColumn('username', 'text').execute();

  // One application per paid order that waits for review. `answers` and `verdicts` are JSON arrays: the
  // answers as they stood (and as amended while waiting), the rules' verdicts in the order they ran.
  await db.schema
    .createTable('review_applications')
    .$call(serialId(db))
    .addColumn('order_id', 'text', (c) => c.notNull().unique().references('orders.id'))
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('answers', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('verdicts', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('bio', 'text')
    .addColumn('appeal', 'text')
    .addColumn('appealed_at', 'bigint')
    .addColumn('deadline', 'bigint', (c) => c.notNull())
    .addColumn('reminders_sent', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('owner_told', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('decided_at', 'bigint')
    .addColumn('decided_by', 'text')
    .addColumn('reason', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('review_applications_status_deadline_idx').on('review_applications').columns(['status', 'deadline']).execute();
  await db.schema.createIndex('review_applications_account_idx').on('review_applications').columns(['account_id', 'status']).execute();

  // Who may not join: by platform user id, by account, or by a display-name pattern (a JavaScript regular
  // expression, case-insensitive). group_id NULL: every group (an operator's entry).
  await db.schema
    .createTable('review_blacklist')
    .$call(serialId(db))
    .addColumn('group_id', 'integer', (c) => c.references('groups.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('platform', 'text')
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('added_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  // The owner's questions (at most 5 per group, the app says), asked in chat before the plan is paid.
  await db.schema
    .createTable('group_questions')
    .$call(serialId(db))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('group_questions_group_idx').on('group_questions').columns(['group_id']).execute();

  // A person's answer to a question, the latest one.
  await db.schema
    .createTable('review_answers')
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('question_id', 'integer', (c) => c.notNull().references('group_questions.id'))
    .addColumn('answer', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('review_answers_pk', ['account_id', 'question_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('review_answers').execute();
  await db.schema.dropTable('group_questions').execute();
  await db.schema.dropTable('review_blacklist').execute();
  await db.schema.dropTable('review_applications').execute();
  await db.schema.alterTable('accounts').dropColumn('username').execute();
  await db.schema.alterTable('groups').dropColumn('require_username').execute();
  await db.schema.alterTable('groups').dropColumn('auto_approve_when_rules_pass').execute();
  await db.schema.alterTable('groups').dropColumn('review_timeout_action').execute();
  await db.schema.alterTable('groups').dropColumn('review_window_hours').execute();
}
