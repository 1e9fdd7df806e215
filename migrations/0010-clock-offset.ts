// Frozen: never import app code here, never edit after release — add a new migration instead.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // The playground's time travel: how far its clock runs ahead of real time. One row (id 1) at most;
  // the service and the CLI both read it, so `member extend` after a jump counts from the same "now".
  await db.schema
    .createTable('clock_offset')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('offset_ms', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('clock_offset').execute();
}
