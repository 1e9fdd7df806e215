// Frozen: never import app code here, never edit after release — add a new migration instead.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Per-person dialogue state, so a restart mid-conversation loses nothing (e.g. "reply 1" after a menu).
  await db.schema
    .createTable('dialogue_state')
    .addColumn('account_id', 'integer', (c) => c.primaryKey().references('accounts.id'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('dialogue_state').execute();
}
