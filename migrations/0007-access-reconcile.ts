// Frozen: never import app code here, never edit after release — add a new migration instead.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // The access sweep (issue 13 part 3): whether the person was last seen in the group (an add the
  // platform confirmed, or the sweep saw them), when the sweep last looked, and how many fresh invites
  // it has sent since the person was last seen in. Updating these never touches updated_at.
  await db.schema.alterTable('memberships').addColumn('access_confirmed_at', 'bigint').execute();
  await db.schema.alterTable('memberships').addColumn('access_checked_at', 'bigint').execute();
  await db.schema
    .alterTable('memberships')
    .addColumn('access_reinvites', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('memberships_access_idx').on('memberships').columns(['status', 'access_confirmed_at', 'access_checked_at']).execute();

  // Owner alerts (part 4): at most one per kind per window per owner; the ones held back are counted
  // and the count rides with the next one sent.
  await db.schema
    .createTable('owner_alerts')
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('last_sent_at', 'bigint', (c) => c.notNull())
    .addColumn('coalesced', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('owner_alerts_pk', ['account_id', 'kind'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('owner_alerts').execute();
  await db.schema.dropIndex('memberships_access_idx').execute();
  await db.schema.alterTable('memberships').dropColumn('access_reinvites').execute();
  await db.schema.alterTable('memberships').dropColumn('access_checked_at').execute();
  await db.schema.alterTable('memberships').dropColumn('access_confirmed_at').execute();
}
