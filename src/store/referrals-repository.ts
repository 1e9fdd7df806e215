// Referral codes and rewards (issue 16 part 3, migration 0021) and the owners' daily digest markers
// (part 5). The rules live in src/app/referrals.ts and src/app/digest.ts; here are the statements.
// Exactly once: the unique (referrer, referred, group) of referral_rewards and the primary key (owner, day)
// of owner_digests; both inserts do nothing on conflict and say whether they wrote.
import { type Kysely, sql } from 'kysely';
import type { Account } from '../app/model.ts';
import type { ReferralReward, ReferralRewardStatus, Repos } from '../app/ports.ts';
import { toAccount } from './mappers.ts';
import type { Database } from './schema.ts';

const HOUR_MS = 3_600_000;

type RewardRow = Database['referral_rewards'];

const toReward = (r: {
  id: number;
  referrer_account_id: number;
  referred_account_id: number;
  group_id: number;
  order_id: string | null;
  status: string;
  reason: string | null;
  days: number;
  period_id: number | null;
  clawed_back_ms: number;
  created_at: number;
  updated_at: number;
}): ReferralReward => ({
  id: r.id,
  referrerId: r.referrer_account_id,
  referredId: r.referred_account_id,
  groupId: r.group_id,
  orderId: r.order_id,
  status: r.status as ReferralRewardStatus,
  reason: r.reason,
  days: Number(r.days),
  periodId: r.period_id,
  clawedBackMs: Number(r.clawed_back_ms),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

export function referralsRepo(db: Kysely<Database>): Repos['referrals'] {
  return {
    async setCode(accountId, code) {
      // Only an account without a code, and only a code nobody has (the unique index is the last word).
      const r = await db
        .updateTable('accounts')
        .set({ referral_code: code })
        .where('id', '=', accountId)
        .where('referral_code', 'is', null)
        .where((eb) => eb.not(eb.exists(eb.selectFrom('accounts as other').select('other.id').where('other.referral_code', '=', code))))
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async findByCode(code) {
      const r = await db.selectFrom('accounts').selectAll().where('referral_code', '=', code).executeTakeFirst();
      return r ? toAccount(r) : null;
    },
    async setReferrer(accountId, referrerId, now) {
      const r = await db
        .updateTable('accounts')
        .set({ referred_by: referrerId, referred_at: now })
        .where('id', '=', accountId)
        .where('referred_by', 'is', null)
        .where('id', '!=', referrerId)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async hasPaidOrder(accountId) {
      const r = await db.selectFrom('orders').select('id').where('account_id', '=', accountId).where('paid_at', 'is not', null).limit(1).executeTakeFirst();
      return r !== undefined;
    },
    async isBannedAnywhere(accountId) {
      const r = await db.selectFrom('memberships').select('id').where('account_id', '=', accountId).where('status', '=', 'banned').limit(1).executeTakeFirst();
      return r !== undefined;
    },
    async due(now, limit, after) {
      // Referred people with a paid period (revoked ones too: a refund before booking cancels the reward,
      // and that is decided here as well) whose group's refund window has passed since the period began, in
      // a group with no reward row for them yet. The app decides from the first paid period.
      const rows = await db
        .selectFrom('accounts as a')
        .innerJoin('memberships as m', 'm.account_id', 'a.id')
        .innerJoin('membership_periods as p', 'p.membership_id', 'm.id')
        .innerJoin('groups as g', 'g.id', 'm.group_id')
        .select(['a.id as referred', 'a.referred_by as referrer', 'm.group_id as group_id'])
        .where('a.referred_by', 'is not', null)
        .where('p.kind', '=', 'paid')
        .where('p.order_id', 'is not', null)
        .where(sql<boolean>`p.starts_at + g.refund_window_hours * ${HOUR_MS} <= ${now}`)
        .where((eb) =>
          eb.not(
            eb.exists(
              eb.selectFrom('referral_rewards as r').select('r.id').whereRef('r.referred_account_id', '=', 'a.id').whereRef('r.group_id', '=', 'm.group_id'),
            ),
          ),
        )
        .$if(after !== undefined, (qb) =>
          qb.where((eb) => eb.or([eb('a.id', '>', after!.referredId), eb.and([eb('a.id', '=', after!.referredId), eb('m.group_id', '>', after!.groupId)])])),
        )
        .groupBy(['a.id', 'a.referred_by', 'm.group_id'])
        .orderBy('a.id')
        .orderBy('m.group_id')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ referredId: r.referred, referrerId: r.referrer!, groupId: r.group_id }));
    },
    async insertReward(r, now) {
      const row = await db
        .insertInto('referral_rewards')
        .values({
          referrer_account_id: r.referrerId,
          referred_account_id: r.referredId,
          group_id: r.groupId,
          order_id: r.orderId,
          status: r.status,
          reason: r.reason,
          days: r.days,
          period_id: null,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.columns(['referrer_account_id', 'referred_account_id', 'group_id']).doNothing())
        .returning('id')
        .executeTakeFirst();
      return row?.id ?? null;
    },
    async updateReward(id, patch, now) {
      const set: Partial<{ [K in keyof RewardRow]: unknown }> = { updated_at: now };
      if (patch.status !== undefined) set.status = patch.status;
      if (patch.periodId !== undefined) set.period_id = patch.periodId;
      if (patch.clawedBackMs !== undefined) set.clawed_back_ms = patch.clawedBackMs;
      if (patch.reason !== undefined) set.reason = patch.reason;
      await db
        .updateTable('referral_rewards')
        .set(set as never)
        .where('id', '=', id)
        .execute();
    },
    async bookedForOrder(orderId) {
      const rows = await db.selectFrom('referral_rewards').selectAll().where('order_id', '=', orderId).where('status', '=', 'booked').orderBy('id').execute();
      return rows.map(toReward);
    },
    async list(q) {
      let s = db.selectFrom('referral_rewards').selectAll();
      if (q.referrerId !== undefined) s = s.where('referrer_account_id', '=', q.referrerId);
      if (q.referredId !== undefined) s = s.where('referred_account_id', '=', q.referredId);
      return (await s.orderBy('id').execute()).map(toReward);
    },
    async summary(referrerId) {
      // One statement: people this account referred, rewards booked for them and the days those still give.
      const r = await sql<{ referred: number; rewarded: number; days: number }>`
        SELECT (SELECT COUNT(*) FROM accounts WHERE referred_by = ${referrerId}) AS referred,
               COUNT(r.id) AS rewarded,
               COALESCE(SUM(r.days), 0) AS days
          FROM referral_rewards r
         WHERE r.referrer_account_id = ${referrerId} AND r.status = 'booked'`.execute(db);
      const row = r.rows[0];
      return { referred: Number(row?.referred ?? 0), rewarded: Number(row?.rewarded ?? 0), daysEarned: Number(row?.days ?? 0) };
    },
    async top(groupIds, limit) {
      if (groupIds?.length === 0) return [];
      let q = db
        .selectFrom('referral_rewards as r')
        .innerJoin('accounts as a', 'a.id', 'r.referrer_account_id')
        .select(['a.id as account_id', 'a.display_name', 'a.platform', 'a.platform_user_id'])
        .select((eb) => eb.fn.count<number>('r.referred_account_id').distinct().as('referred'))
        .select(sql<number>`COALESCE(SUM(r.days), 0)`.as('days'))
        .where('r.status', '=', 'booked')
        .groupBy(['a.id', 'a.display_name', 'a.platform', 'a.platform_user_id'])
        .orderBy(sql`COALESCE(SUM(r.days), 0)`, 'desc')
        .orderBy('a.id')
        .limit(limit);
      if (groupIds !== undefined) q = q.where('r.group_id', 'in', groupIds);
      return (await q.execute()).map((r) => ({
        accountId: r.account_id,
        displayName: r.display_name,
        platform: r.platform,
        platformUserId: r.platform_user_id,
        referred: Number(r.referred),
        days: Number(r.days),
      }));
    },
    async stats(groupIds) {
      const zero = { booked: 0, days: 0, canceled: 0, skipped: 0, clawedBack: 0 };
      if (groupIds?.length === 0) return zero;
      // One statement: every outcome counted, and the days booked rewards give.
      let q = db
        .selectFrom('referral_rewards')
        .select(sql<number>`COALESCE(SUM(CASE WHEN status = 'booked' THEN 1 ELSE 0 END), 0)`.as('booked'))
        .select(sql<number>`COALESCE(SUM(CASE WHEN status = 'booked' THEN days ELSE 0 END), 0)`.as('days'))
        .select(sql<number>`COALESCE(SUM(CASE WHEN status = 'canceled' THEN 1 ELSE 0 END), 0)`.as('canceled'))
        .select(sql<number>`COALESCE(SUM(CASE WHEN status = 'skipped' THEN 1 ELSE 0 END), 0)`.as('skipped'))
        .select(sql<number>`COALESCE(SUM(CASE WHEN status = 'clawed_back' THEN 1 ELSE 0 END), 0)`.as('clawed'));
      if (groupIds !== undefined) q = q.where('group_id', 'in', groupIds);
      const r = await q.executeTakeFirst();
      if (!r) return zero;
      return { booked: Number(r.booked), days: Number(r.days), canceled: Number(r.canceled), skipped: Number(r.skipped), clawedBack: Number(r.clawed) };
    },
  };
}

export function digestsRepo(db: Kysely<Database>): Repos['digests'] {
  return {
    async due(day) {
      const rows = await db
        .selectFrom('accounts as a')
        .selectAll('a')
        .where('a.is_owner', '=', 1)
        .where('a.digest_off', '=', 0)
        .where((eb) =>
          eb.not(eb.exists(eb.selectFrom('owner_digests as d').select('d.account_id').whereRef('d.account_id', '=', 'a.id').where('d.day', '=', day))),
        )
        .orderBy('a.id')
        .execute();
      return rows.map((r): Account => toAccount(r));
    },
    async mark(accountId, day, sent, now) {
      const r = await db
        .insertInto('owner_digests')
        .values({ account_id: accountId, day, sent: sent ? 1 : 0, created_at: now })
        .onConflict((oc) => oc.columns(['account_id', 'day']).doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
    },
    async setOff(accountId, off) {
      await db
        .updateTable('accounts')
        .set({ digest_off: off ? 1 : 0 })
        .where('id', '=', accountId)
        .execute();
    },
  };
}
