// Frozen: never import app code here, never edit after release — add a new migration instead.
import { type CreateTableBuilder, type Kysely, PostgresAdapter, sql } from 'kysely';

const isPg = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

const serialId =
  (db: Kysely<any>) =>
  (t: CreateTableBuilder<any, any>): CreateTableBuilder<any, any> =>
    isPg(db) ? t.addColumn('id', 'serial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());

export async function up(db: Kysely<any>): Promise<void> {
  // The groups an owner acts on: one row per group, or one row with group_id NULL for every group (an
  // operator). A group an owner bound in chat is theirs through groups.owner_account_id as well.
  await db.schema
    .createTable('owner_scopes')
    .$call(serialId(db))
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('group_id', 'integer', (c) => c.references('groups.id'))
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('owner_scopes_account_group_uq').on('owner_scopes').columns(['account_id', 'group_id']).unique().execute();
  // NULLs are distinct in a unique index, so "every group" gets a partial index of its own.
  await db.schema.createIndex('owner_scopes_operator_uq').on('owner_scopes').column('account_id').unique().where(sql.ref('group_id'), 'is', null).execute();

  // A claim's scope, fixed when the code is printed: a JSON array of group ids, or NULL for every group.
  await db.schema.alterTable('owner_claims').addColumn('group_ids', 'text').execute();

  // Owners from before this migration acted on every group: they stay operators.
  const owners = await db.selectFrom('accounts').select('id').where('is_owner', '=', 1).execute();
  const now = Date.now();
  if (owners.length > 0) {
    await db
      .insertInto('owner_scopes')
      .values(owners.map((o: { id: number }) => ({ account_id: o.id, group_id: null, source: 'migration', created_at: now })))
      .execute();
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('owner_claims').dropColumn('group_ids').execute();
  await db.schema.dropIndex('owner_scopes_operator_uq').execute();
  await db.schema.dropIndex('owner_scopes_account_group_uq').execute();
  await db.schema.dropTable('owner_scopes').execute();
}
