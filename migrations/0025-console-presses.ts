// Frozen: never import app code here, never edit after release — add a new migration instead.
//
// The owner console's confirmations pressed (issue 15): each confirmation page carries a one-time key; the
// first POST with it records the key's hash here and is carried out, a second one (a double click, a second
// tab, a retry after a lost answer) finds it and is not. Rows older than a day are deleted as new ones come.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('console_presses')
    .addColumn('key_hash', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('console_presses_created_idx').on('console_presses').column('created_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('console_presses').execute();
}
