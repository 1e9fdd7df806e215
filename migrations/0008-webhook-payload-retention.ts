// Frozen: never import app code here, never edit after release — add a new migration instead.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Raw webhook bodies are kept WEBHOOK_PAYLOAD_RETENTION_DAYS; a purged body is the empty string (the row,
  // its provider, event id, order and outcome stay for the audit and idempotency). This partial index holds
  // only the bodies still kept, so the purge sweep reads the oldest of them without walking purged rows.
  await db.schema.createIndex('webhook_events_payload_kept_idx').on('webhook_events').column('received_at').where(sql.ref('payload'), '<>', '').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('webhook_events_payload_kept_idx').execute();
}
