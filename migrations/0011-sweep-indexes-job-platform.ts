// Frozen: never import app code here, never edit after release — add a new migration instead.
import { type Kysely, sql } from 'kysely';

// Issue 14 part 7: the expiry sweep's cost follows the due rows, not the table. The sweeps read
// `status = 'active' AND expires_at <= now` and `status = 'grace' AND grace_until <= now`; indexes on
// (status, expires_at) and (status, grace_until) held every member, so each status change moved an entry
// inside two indexes as big as the table. Partial indexes hold only the rows a sweep can pick: the grace
// index stays as small as the grace backlog, and a lapse or expiry touches one big index entry less.
//
// Issue 14 part 5: jobs.platform, the chat platform whose adapter a job needs, so a worker claims only
// jobs it can run (a WeChat job is never claimed by an instance that does not hold the WeChat lock).
// Backfilled for jobs still to run from the payload's membership (its group's platform), account or group;
// a job whose platform cannot be known keeps null and is claimed by any worker, as before.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('platform', 'text').execute();
  const open = await db.selectFrom('jobs').select(['id', 'payload']).where('status', 'in', ['queued', 'running']).execute();
  for (const job of open as Array<{ id: number; payload: string }>) {
    const p = parsed(job.payload);
    let platform: string | undefined;
    if (typeof p?.membershipId === 'number') {
      const r = await db
        .selectFrom('memberships as m')
        .innerJoin('groups as g', 'g.id', 'm.group_id')
        .select('g.platform')
        .where('m.id', '=', p.membershipId)
        .executeTakeFirst();
      platform = r?.platform as string | undefined;
    } else if (typeof p?.accountId === 'number') {
      const r = await db.selectFrom('accounts').select('platform').where('id', '=', p.accountId).executeTakeFirst();
      platform = r?.platform as string | undefined;
    } else if (typeof p?.groupId === 'number') {
      const r = await db.selectFrom('groups').select('platform').where('id', '=', p.groupId).executeTakeFirst();
      platform = r?.platform as string | undefined;
    }
    if (platform !== undefined) await db.updateTable('jobs').set({ platform }).where('id', '=', job.id).execute();
  }

  await db.schema.dropIndex('memberships_status_expires_idx').execute();
  await db.schema.dropIndex('memberships_status_grace_idx').execute();
  await db.schema.createIndex('memberships_active_expires_idx').on('memberships').column('expires_at').where(sql.ref('status'), '=', 'active').execute();
  await db.schema.createIndex('memberships_grace_until_idx').on('memberships').column('grace_until').where(sql.ref('status'), '=', 'grace').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('jobs').dropColumn('platform').execute();
  await db.schema.dropIndex('memberships_grace_until_idx').execute();
  await db.schema.dropIndex('memberships_active_expires_idx').execute();
  await db.schema.createIndex('memberships_status_expires_idx').on('memberships').columns(['status', 'expires_at']).execute();
  await db.schema.createIndex('memberships_status_grace_idx').on('memberships').columns(['status', 'grace_until']).execute();
}

function parsed(payload: string): { membershipId?: unknown; accountId?: unknown; groupId?: unknown } | null {
  try {
    return JSON.parse(payload) as { membershipId?: unknown; accountId?: unknown; groupId?: unknown } | null;
  } catch {
    return null;
  }
}
