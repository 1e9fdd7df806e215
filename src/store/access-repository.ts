// Facts the access sweep keeps per membership (last seen in the group, last looked at, fresh invites sent)
// and the per-owner alert rate limit. Neither ever touches memberships.updated_at, which marks status changes.
import { type Kysely, sql } from 'kysely';
import type { Platform } from '../app/model.ts';
import type { AccessCheck, AccessCheckQuery, AccessPatch, MembershipAccess } from '../app/ports.ts';
import type { MembershipStatus } from '../domain/membership.ts';
import type { Dialect } from './database.ts';
import { pickDue } from './due-rows.ts';
import type { Database } from './schema.ts';

/**
 * Takes up to `limit` memberships due a look by the access sweep and stamps them (access_checked_at = now),
 * so another instance running the same sweep skips them (SKIP LOCKED on PostgreSQL; one writer on SQLite).
 *   active, paid time left, never seen in the group, fewer than `maxReinvites` fresh invites, neither
 *     changed nor looked at since `recheckBefore` (the platform's own invitation gets its time first);
 *   expired / revoked / banned (ever paid) and not looked at since the status changed, or last seen still
 *     in the group, fewer than `maxReinvites` repeated removals, and not looked at since `recheckBefore`.
 * Lapsed rows changed after `settledBefore` wait: their own removal job goes first.
 */
export async function claimAccessChecks(db: Kysely<Database>, dialect: Dialect, q: AccessCheckQuery): Promise<AccessCheck[]> {
  if (q.platforms.length === 0 || q.limit <= 0) return [];
  const platforms = sql.join(q.platforms.map((p) => sql`${p}`));
  const due = sql`(
      (status = 'active' AND expires_at > ${q.now} AND access_confirmed_at IS NULL AND access_reinvites < ${q.maxReinvites}
        AND updated_at <= ${q.recheckBefore} AND (access_checked_at IS NULL OR access_checked_at <= ${q.recheckBefore}))
   OR (status IN ('expired', 'revoked', 'banned') AND expires_at > 0 AND updated_at <= ${q.settledBefore}
        AND (access_checked_at IS NULL OR access_checked_at < updated_at
             OR (access_confirmed_at IS NOT NULL AND access_reinvites < ${q.maxReinvites} AND access_checked_at <= ${q.recheckBefore})))
    )
      AND group_id IN (SELECT id FROM groups WHERE platform IN (${platforms}))`;
  const pick = pickDue(dialect, due, sql`SELECT id FROM memberships WHERE ${due} ORDER BY id LIMIT ${q.limit}`);
  const claimed = await sql<{ id: number }>`UPDATE memberships SET access_checked_at = ${q.now} WHERE ${pick} RETURNING id`.execute(db);
  const ids = claimed.rows.map((r) => Number(r.id));
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('memberships as m')
    .innerJoin('groups as g', 'g.id', 'm.group_id')
    .innerJoin('accounts as a', 'a.id', 'm.account_id')
    .select([
      'm.id',
      'm.account_id',
      'm.group_id',
      'm.status',
      'm.expires_at',
      'm.updated_at',
      'm.access_confirmed_at',
      'm.access_reinvites',
      'g.platform',
      'g.platform_chat_id',
      'a.platform_user_id',
    ])
    .where('m.id', 'in', ids)
    .orderBy('m.id')
    .execute();
  return rows.map((r) => ({
    membershipId: r.id,
    accountId: r.account_id,
    groupId: r.group_id,
    status: r.status as MembershipStatus,
    expiresAt: r.expires_at,
    updatedAt: r.updated_at,
    confirmedAt: r.access_confirmed_at,
    reinvites: r.access_reinvites,
    platform: r.platform as Platform,
    chatId: r.platform_chat_id,
    userId: r.platform_user_id,
  }));
}

export async function setMembershipAccess(db: Kysely<Database>, id: number, patch: AccessPatch): Promise<void> {
  const set: Record<string, unknown> = {};
  if (patch.confirmedAt !== undefined) set.access_confirmed_at = patch.confirmedAt;
  if (patch.checkedAt !== undefined) set.access_checked_at = patch.checkedAt;
  if (patch.reinvites === 'increment') set.access_reinvites = sql`access_reinvites + 1`;
  else if (patch.reinvites !== undefined) set.access_reinvites = patch.reinvites;
  if (Object.keys(set).length === 0) return;
  await db
    .updateTable('memberships')
    .set(set as never)
    .where('id', '=', id)
    .execute();
}

export async function getMembershipAccess(db: Kysely<Database>, id: number): Promise<MembershipAccess | null> {
  const r = await db.selectFrom('memberships').select(['access_confirmed_at', 'access_checked_at', 'access_reinvites']).where('id', '=', id).executeTakeFirst();
  return r ? { confirmedAt: r.access_confirmed_at, checkedAt: r.access_checked_at, reinvites: r.access_reinvites } : null;
}

/**
 * One owner alert of one kind per window: true (with how many were held back since the last one) when
 * this one may go out; otherwise it is counted and false. Run inside a transaction.
 */
export async function takeOwnerAlert(
  db: Kysely<Database>,
  accountId: number,
  kind: string,
  now: number,
  windowMs: number,
): Promise<{ send: boolean; coalesced: number }> {
  const inserted = await db
    .insertInto('owner_alerts')
    .values({ account_id: accountId, kind, last_sent_at: now, coalesced: 0 })
    .onConflict((oc) => oc.columns(['account_id', 'kind']).doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1) return { send: true, coalesced: 0 };
  const held = await db
    .updateTable('owner_alerts')
    .set((eb) => ({ coalesced: eb('coalesced', '+', 1) }))
    .where('account_id', '=', accountId)
    .where('kind', '=', kind)
    .where('last_sent_at', '>', now - windowMs)
    .executeTakeFirst();
  if (Number(held.numUpdatedRows) === 1) return { send: false, coalesced: 0 };
  const row = await db.selectFrom('owner_alerts').select('coalesced').where('account_id', '=', accountId).where('kind', '=', kind).executeTakeFirst();
  const sent = await db
    .updateTable('owner_alerts')
    .set({ last_sent_at: now, coalesced: 0 })
    .where('account_id', '=', accountId)
    .where('kind', '=', kind)
    .where('last_sent_at', '<=', now - windowMs)
    .executeTakeFirst();
  if (Number(sent.numUpdatedRows) !== 1) return { send: false, coalesced: 0 };
  return { send: true, coalesced: Number(row?.coalesced ?? 0) };
}
