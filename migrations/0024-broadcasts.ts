// Frozen: never import app code here, never edit after release — add a new migration instead.
//
// Issue 15 part 6: an owner's broadcast gets an id, and the notify jobs it queued carry it, so the console
// can count a broadcast's progress (sent, waiting, failed) by job status as the outbound queue delivers.
// `broadcasts` keeps what was sent to whom in figures only (the text's length, not the text). jobs.broadcast_id
// is null for every other job; the partial index holds only broadcast jobs, so counting one broadcast reads
// its own rows and every other insert pays nothing.
import { type Kysely, PostgresAdapter, sql } from 'kysely';

const isPg = (db: Kysely<any>) => db.getExecutor().adapter instanceof PostgresAdapter;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('broadcasts')
    .$call((t) => (isPg(db) ? t.addColumn('id', 'serial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('text_length', 'integer', (c) => c.notNull())
    .addColumn('recipients', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('broadcasts_group_idx').on('broadcasts').columns(['group_id', 'id']).execute();
  await db.schema.alterTable('jobs').addColumn('broadcast_id', 'integer').execute();
  await db.schema
    .createIndex('jobs_broadcast_status_idx')
    .on('jobs')
    .columns(['broadcast_id', 'status'])
    .where(sql.ref('broadcast_id'), 'is not', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('jobs_broadcast_status_idx').execute();
  await db.schema.alterTable('jobs').dropColumn('broadcast_id').execute();
  await db.schema.dropIndex('broadcasts_group_idx').execute();
  await db.schema.dropTable('broadcasts').execute();
}
