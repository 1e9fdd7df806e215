import { type ExpressionBuilder, type Kysely, type RawBuilder, sql } from 'kysely';
import type { Membership, MembershipPeriod, Platform } from '../app/model.ts';
import type { MembershipView } from '../app/ports.ts';
import type { MembershipStatus } from '../domain/membership.ts';
import type { Dialect } from './database.ts';
import { fromIndexed, pickDue } from './due-rows.ts';
import { toMembership, toPeriod } from './mappers.ts';
import type { Database } from './schema.ts';

export async function getMembershipForUpdate(db: Kysely<Database>, dialect: Dialect, accountId: number, groupId: number): Promise<Membership | null> {
  let q = db.selectFrom('memberships').selectAll().where('account_id', '=', accountId).where('group_id', '=', groupId);
  // SQLite has one writer at a time, so the transaction already excludes everyone else.
  if (dialect === 'postgres') q = q.forUpdate();
  const r = await q.executeTakeFirst();
  return r ? toMembership(r) : null;
}

export async function getMembership(db: Kysely<Database>, id: number): Promise<Membership | null> {
  const r = await db.selectFrom('memberships').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? toMembership(r) : null;
}

export async function insertMembership(
  db: Kysely<Database>,
  m: { accountId: number; groupId: number; status: MembershipStatus; expiresAt: number },
  now: number,
): Promise<Membership> {
  const r = await db
    .insertInto('memberships')
    .values({ account_id: m.accountId, group_id: m.groupId, status: m.status, expires_at: m.expiresAt, grace_until: null, created_at: now, updated_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toMembership(r);
}

export async function insertMembershipIfAbsent(
  db: Kysely<Database>,
  m: { accountId: number; groupId: number; status: MembershipStatus; expiresAt: number },
  now: number,
): Promise<Membership | null> {
  const r = await db
    .insertInto('memberships')
    .values({ account_id: m.accountId, group_id: m.groupId, status: m.status, expires_at: m.expiresAt, grace_until: null, created_at: now, updated_at: now })
    .onConflict((oc) => oc.columns(['account_id', 'group_id']).doNothing())
    .returningAll()
    .executeTakeFirst();
  return r ? toMembership(r) : null;
}

export async function updateMembership(
  db: Kysely<Database>,
  id: number,
  patch: { status: MembershipStatus; expiresAt: number; graceUntil: number | null },
  now: number,
): Promise<void> {
  // Any change of the paid period starts its reminders afresh.
  await db
    .updateTable('memberships')
    .set({ status: patch.status, expires_at: patch.expiresAt, grace_until: patch.graceUntil, reminded_offset_ms: null, updated_at: now })
    .where('id', '=', id)
    .execute();
}

/**
 * Memberships of one group whose expiry falls in (fromMs, toMs], in one of `statuses`, and not yet
 * reminded at `offsetMs` or closer. Reads only the window near expiry through (group_id, status).
 */
export async function remindersDue(
  db: Kysely<Database>,
  q: { groupId: number; statuses: MembershipStatus[]; fromMs: number; toMs: number; offsetMs: number; limit: number; renewalSettleMs?: number },
): Promise<Membership[]> {
  const renewedByActiveSubscription = ({ exists, selectFrom }: ExpressionBuilder<Database, 'memberships'>) =>
    exists(
      selectFrom('subscriptions as s')
        .innerJoin('plan_groups as pg', 'pg.plan_id', 's.plan_id')
        .select('s.id')
        .whereRef('s.account_id', '=', 'memberships.account_id')
        .whereRef('pg.group_id', '=', 'memberships.group_id')
        .where('s.state', '=', 'active'),
    );
  const rows = await db
    .selectFrom('memberships')
    .selectAll()
    .where('group_id', '=', q.groupId)
    .where('status', 'in', q.statuses)
    .where('expires_at', '>', q.fromMs)
    .where('expires_at', '<=', q.toMs)
    .where((eb) => eb.or([eb('reminded_offset_ms', 'is', null), eb('reminded_offset_ms', '>', q.offsetMs)]))
    // Before expiry, a membership an active subscription renews gets the one "renews on …" notice instead
    // (app/subscriptions.ts). At expiry (offset 0, in grace) the rail charges a little after the period ends
    // (Stripe about an hour later), so the usual "renew now" goes only once the renewal is `renewalSettleMs`
    // late: sent earlier, it would invite a second, manual payment next to the one the rail is taking.
    .$if(q.offsetMs > 0, (qb) => qb.where((eb) => eb.not(renewedByActiveSubscription(eb))))
    .$if(q.offsetMs === 0 && (q.renewalSettleMs ?? 0) > 0, (qb) =>
      qb.where((eb) => eb.or([eb.not(renewedByActiveSubscription(eb)), eb('expires_at', '<=', q.toMs - q.renewalSettleMs!)])),
    )
    .orderBy('expires_at')
    .limit(q.limit)
    .execute();
  return rows.map(toMembership);
}

export async function markReminded(db: Kysely<Database>, ids: number[], offsetMs: number, now: number): Promise<void> {
  if (ids.length === 0) return;
  for (let i = 0; i < ids.length; i += 500) {
    await db
      .updateTable('memberships')
      .set({ reminded_offset_ms: offsetMs, updated_at: now })
      .where('id', 'in', ids.slice(i, i + 500))
      .execute();
  }
}

export interface MembershipPageQuery {
  groupId?: number;
  status?: MembershipStatus;
  accountId?: number;
  /** Only memberships whose expiry is before this instant (e.g. "expiring within 3 days"). */
  expiresBefore?: number;
  /** Only memberships whose expiry is at or after this instant. */
  expiresFrom?: number;
  /** Soonest expiry first (one page only: paging with afterId follows id order). */
  soonestFirst?: boolean;
  /** Only these groups (an owner's scope); an empty list matches nothing. */
  groupIds?: number[];
  /** Display name or platform user id containing this text (any case; % and _ match themselves). */
  search?: string;
  afterId?: number;
  limit: number;
}

export async function pageMemberships(db: Kysely<Database>, q: MembershipPageQuery): Promise<MembershipView[]> {
  let query = db
    .selectFrom('memberships as m')
    .innerJoin('accounts as a', 'a.id', 'm.account_id')
    .selectAll('m')
    .select(['a.platform', 'a.platform_user_id', 'a.display_name'])
    .limit(q.limit);
  query = q.soonestFirst ? query.orderBy('m.expires_at').orderBy('m.id') : query.orderBy('m.id');
  if (q.groupId !== undefined) query = query.where('m.group_id', '=', q.groupId);
  if (q.status !== undefined) query = query.where('m.status', '=', q.status);
  if (q.accountId !== undefined) query = query.where('m.account_id', '=', q.accountId);
  if (q.expiresBefore !== undefined) query = query.where('m.expires_at', '<', q.expiresBefore);
  if (q.expiresFrom !== undefined) query = query.where('m.expires_at', '>=', q.expiresFrom);
  if (q.afterId !== undefined) query = query.where('m.id', '>', q.afterId);
  if (q.groupIds !== undefined) {
    if (q.groupIds.length === 0) return [];
    query = query.where('m.group_id', 'in', q.groupIds);
  }
  if (q.search !== undefined && q.search !== '') {
    // LIKE with the wildcards in the text escaped, so "50%" finds "50%" and not everything.
    const like = `%${q.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) =>
      eb.or([eb(sql`LOWER(a.display_name)`, 'like', sql`${like} ESCAPE '\\'`), eb(sql`LOWER(a.platform_user_id)`, 'like', sql`${like} ESCAPE '\\'`)]),
    );
  }
  const rows = await query.execute();
  return rows.map((r) => ({ ...toMembership(r), platform: r.platform as Platform, platformUserId: r.platform_user_id, displayName: r.display_name }));
}

export async function listPeriodsForOrder(db: Kysely<Database>, orderId: string): Promise<MembershipPeriod[]> {
  const rows = await db.selectFrom('membership_periods').selectAll().where('order_id', '=', orderId).orderBy('id').execute();
  return rows.map(toPeriod);
}

/** Marks a period revoked (kept for the ledger); false if it already was. */
export async function revokePeriod(db: Kysely<Database>, id: number, now: number): Promise<boolean> {
  const r = await db.updateTable('membership_periods').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function reschedulePeriod(db: Kysely<Database>, id: number, startsAt: number, endsAt: number): Promise<void> {
  await db.updateTable('membership_periods').set({ starts_at: startsAt, ends_at: endsAt }).where('id', '=', id).where('revoked_at', 'is', null).execute();
}

export async function listMemberships(
  db: Kysely<Database>,
  filter: { groupId?: number; status?: MembershipStatus; accountId?: number },
): Promise<MembershipView[]> {
  // Unpaged: for small result sets (one account, tests); lists shown to people use pageMemberships.
  let q = db
    .selectFrom('memberships as m')
    .innerJoin('accounts as a', 'a.id', 'm.account_id')
    .selectAll('m')
    .select(['a.platform', 'a.platform_user_id', 'a.display_name'])
    .orderBy('m.id');
  if (filter.groupId !== undefined) q = q.where('m.group_id', '=', filter.groupId);
  if (filter.status !== undefined) q = q.where('m.status', '=', filter.status);
  if (filter.accountId !== undefined) q = q.where('m.account_id', '=', filter.accountId);
  const rows = await q.execute();
  return rows.map((r) => ({ ...toMembership(r), platform: r.platform as Platform, platformUserId: r.platform_user_id, displayName: r.display_name }));
}

/**
 * active → grace for up to `limit` due rows, or straight to expired when the group's grace is over too
 * (no grace, or a sweep that ran late): one write per row instead of two, since every row write lands
 * on a random page of a big table (issue 14 part 7). Returns the rows that moved, in their new state.
 * The sub-select reads only due rows through the partial index on active expiries; on PostgreSQL it
 * skips rows another instance is sweeping, and the outer `status = 'active'` re-check makes a row that
 * changed meanwhile fall out (see due-rows.ts). Exported so the store test can check its query plan.
 */
/**
 * active → grace (or straight to expired when the group has no grace left) for up to `limit` due rows.
 * `subscriberMinGraceMs`: a membership an active subscription renews keeps at least this much grace, whatever the
 * group's, because the rail charges at or a little after the period's end: without it a group with no grace
 * would remove a subscriber an hour before their renewal lands.
 */
export function lapseDueStatement(
  dialect: Dialect,
  now: number,
  limit: number,
  subscriberMinGraceMs = 0,
): RawBuilder<Database['memberships'] & { id: number }> {
  const pick = pickDue(
    dialect,
    sql`status = 'active'`,
    sql`SELECT id FROM ${fromIndexed(dialect, 'memberships', 'memberships_active_expires_idx')} WHERE status = 'active' AND expires_at <= ${now} ORDER BY expires_at LIMIT ${limit}`,
  );
  const grace =
    subscriberMinGraceMs > 0
      ? sql`CASE WHEN g.grace_ms < ${subscriberMinGraceMs} AND EXISTS (
               SELECT 1 FROM subscriptions s JOIN plan_groups pg ON pg.plan_id = s.plan_id
                WHERE s.account_id = memberships.account_id AND pg.group_id = memberships.group_id AND s.state = 'active')
             THEN ${subscriberMinGraceMs} ELSE g.grace_ms END`
      : sql`g.grace_ms`;
  const graceUntil = sql`expires_at + (SELECT ${grace} FROM groups g WHERE g.id = memberships.group_id)`;
  return sql<Database['memberships'] & { id: number }>`
    UPDATE memberships
       SET status = CASE WHEN ${graceUntil} <= ${now} THEN 'expired' ELSE 'grace' END,
           grace_until = ${graceUntil},
           updated_at = ${now}
     WHERE ${pick}
    RETURNING *`;
}

export async function lapseDueMemberships(
  db: Kysely<Database>,
  dialect: Dialect,
  now: number,
  limit: number,
  subscriberMinGraceMs?: number,
): Promise<Membership[]> {
  const r = await lapseDueStatement(dialect, now, limit, subscriberMinGraceMs).execute(db);
  return r.rows.map((row) => toMembership(row as never));
}

/** grace → expired for up to `limit` rows whose grace is over; returns them (same locking as lapse). */
export function expireDueStatement(dialect: Dialect, now: number, limit: number): RawBuilder<Database['memberships'] & { id: number }> {
  const pick = pickDue(
    dialect,
    sql`status = 'grace'`,
    sql`SELECT id FROM ${fromIndexed(dialect, 'memberships', 'memberships_grace_until_idx')} WHERE status = 'grace' AND grace_until <= ${now} ORDER BY grace_until LIMIT ${limit}`,
  );
  return sql<Database['memberships'] & { id: number }>`
    UPDATE memberships
       SET status = 'expired', updated_at = ${now}
     WHERE ${pick}
    RETURNING *`;
}

export async function expireDueMemberships(db: Kysely<Database>, dialect: Dialect, now: number, limit: number): Promise<Membership[]> {
  const r = await expireDueStatement(dialect, now, limit).execute(db);
  return r.rows.map((row) => toMembership(row as never));
}

const periodRow = (p: Omit<MembershipPeriod, 'id' | 'revokedAt'>, now: number) => ({
  membership_id: p.membershipId,
  group_id: p.groupId,
  order_id: p.orderId,
  kind: p.kind,
  starts_at: p.startsAt,
  ends_at: p.endsAt,
  days: p.days,
  created_at: now,
});

export async function insertPeriod(db: Kysely<Database>, p: Omit<MembershipPeriod, 'id' | 'revokedAt'>, now: number): Promise<number> {
  const r = await db.insertInto('membership_periods').values(periodRow(p, now)).returning('id').executeTakeFirstOrThrow();
  return r.id;
}

export async function insertPeriodIfAbsent(db: Kysely<Database>, p: Omit<MembershipPeriod, 'id' | 'revokedAt'>, now: number): Promise<boolean> {
  const r = await db
    .insertInto('membership_periods')
    .values(periodRow(p, now))
    .onConflict((oc) => oc.columns(['order_id', 'group_id']).doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export async function listPeriods(db: Kysely<Database>, membershipId: number): Promise<MembershipPeriod[]> {
  const rows = await db.selectFrom('membership_periods').selectAll().where('membership_id', '=', membershipId).orderBy('id').execute();
  return rows.map(toPeriod);
}
