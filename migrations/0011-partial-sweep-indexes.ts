// Frozen: never import app code here, never edit after release — add a new migration instead.
import { type Kysely, sql } from 'kysely';

// Issue 14 part 7: the expiry sweep's cost follows the due rows, not the table. The sweeps read
// `status = 'active' AND expires_at <= now` and `status = 'grace' AND grace_until <= now`; indexes on
// (status, expires_at) and (status, grace_until) held every member, so each status change moved an entry
// inside two indexes as big as the table. Partial indexes hold only the rows a sweep can pick: the grace
// index stays as small as the grace backlog, and a lapse or expiry touches one big index entry less.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('memberships_status_expires_idx').execute();
  await db.schema.dropIndex('memberships_status_grace_idx').execute();
  await db.schema.createIndex('memberships_active_expires_idx').on('memberships').column('expires_at').where(sql.ref('status'), '=', 'active').execute();
  await db.schema.createIndex('memberships_grace_until_idx').on('memberships').column('grace_until').where(sql.ref('status'), '=', 'grace').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('memberships_grace_until_idx').execute();
  await db.schema.dropIndex('memberships_active_expires_idx').execute();
  await db.schema.createIndex('memberships_status_expires_idx').on('memberships').columns(['status', 'expires_at']).execute();
  await db.schema.createIndex('memberships_status_grace_idx').on('memberships').columns(['status', 'grace_until']).execute();
}
