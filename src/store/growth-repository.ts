// Trials and coupons (migration 0020; the rules live in src/app/trials.ts and src/app/coupons.ts). The unique
// (account_id, plan_id) of `trials` is "one trial per person per plan"; `coupons.uses` only moves through
// `take`, the conditional increment that is the exactly-once guard of a coupon's last use.
import { type Kysely, type Selectable, sql } from 'kysely';
import type { Coupon, CouponSource, Trial } from '../app/model.ts';
import type { Repos } from '../app/ports.ts';
import type { CouponsTable, Database } from './schema.ts';

type CouponRow = Selectable<CouponsTable>;

const toCoupon = (r: CouponRow): Coupon => ({
  id: r.id,
  code: r.code,
  percent: r.percent,
  amountMinor: r.amount_minor === null ? null : Number(r.amount_minor),
  currency: r.currency,
  planIds: r.plan_ids === null ? null : (JSON.parse(r.plan_ids) as number[]),
  maxUses: r.max_uses,
  perPerson: r.per_person,
  validFrom: r.valid_from === null ? null : Number(r.valid_from),
  validUntil: r.valid_until === null ? null : Number(r.valid_until),
  accountId: r.account_id,
  uses: Number(r.uses),
  overshoot: Number(r.overshoot),
  active: Number(r.active) === 1,
  source: r.source as CouponSource,
  createdBy: r.created_by,
  createdAt: Number(r.created_at),
});

const toTrial = (r: { id: number; account_id: number; plan_id: number; started_at: number; ends_at: number }): Trial => ({
  id: r.id,
  accountId: r.account_id,
  planId: r.plan_id,
  startedAt: Number(r.started_at),
  endsAt: Number(r.ends_at),
});

export function trialsRepo(db: Kysely<Database>): Repos['trials'] {
  return {
    async insertIfAbsent(t) {
      const r = await db
        .insertInto('trials')
        .values({ account_id: t.accountId, plan_id: t.planId, started_at: t.startedAt, ends_at: t.endsAt })
        .onConflict((oc) => oc.columns(['account_id', 'plan_id']).doNothing())
        .returningAll()
        .executeTakeFirst();
      return r ? toTrial(r) : null;
    },
    async find(accountId, planId) {
      const r = await db.selectFrom('trials').selectAll().where('account_id', '=', accountId).where('plan_id', '=', planId).executeTakeFirst();
      return r ? toTrial(r) : null;
    },
    async listForAccount(accountId) {
      return (await db.selectFrom('trials').selectAll().where('account_id', '=', accountId).orderBy('id').execute()).map(toTrial);
    },
    async counts(from, to, groupIds) {
      if (groupIds?.length === 0) return { started: 0, converted: 0 };
      let q = db.selectFrom('trials as t');
      if (from !== undefined) q = q.where('t.started_at', '>=', from);
      if (to !== undefined) q = q.where('t.started_at', '<', to);
      if (groupIds !== undefined)
        q = q.where('t.plan_id', 'in', db.selectFrom('plan_groups').select('plan_groups.plan_id').where('plan_groups.group_id', 'in', groupIds));
      // Converted: the same person later paid an order (money taken, not an access code) for the same plan.
      const r = await q
        .select((eb) => eb.fn.countAll<number>().as('started'))
        .select(
          sql<number>`COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM orders o WHERE o.account_id = t.account_id AND o.plan_id = t.plan_id AND o.paid_at IS NOT NULL AND o.paid_at >= t.started_at AND o.amount_minor > 0) THEN 1 ELSE 0 END), 0)`.as(
            'converted',
          ),
        )
        .executeTakeFirstOrThrow();
      return { started: Number(r.started), converted: Number(r.converted) };
    },
  };
}

export function couponsRepo(db: Kysely<Database>): Repos['coupons'] {
  return {
    async insert(c, now) {
      const r = await db
        .insertInto('coupons')
        .values({
          code: c.code,
          percent: c.percent,
          amount_minor: c.amountMinor,
          currency: c.currency,
          plan_ids: c.planIds === null ? null : JSON.stringify(c.planIds),
          max_uses: c.maxUses,
          per_person: c.perPerson,
          valid_from: c.validFrom,
          valid_until: c.validUntil,
          account_id: c.accountId,
          source: c.source,
          winback_key: c.winbackKey ?? null,
          created_by: c.createdBy,
          created_at: now,
        })
        .onConflict((oc) => oc.doNothing())
        .returningAll()
        .executeTakeFirst();
      return r ? toCoupon(r) : null;
    },
    async get(id) {
      const r = await db.selectFrom('coupons').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? toCoupon(r) : null;
    },
    async findByCode(code) {
      const r = await db.selectFrom('coupons').selectAll().where('code', '=', code).executeTakeFirst();
      return r ? toCoupon(r) : null;
    },
    async list(q) {
      let s = db.selectFrom('coupons').selectAll().orderBy('id', 'desc').limit(q.limit);
      if (q.source) s = s.where('source', '=', q.source);
      return (await s.execute()).map(toCoupon);
    },
    async setActive(id, active) {
      const r = await db
        .updateTable('coupons')
        .set({ active: active ? 1 : 0 })
        .where('id', '=', id)
        .where('active', '=', active ? 0 : 1)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async take(id) {
      // The exactly-once guard of the last use: one statement, so two payments racing for it cannot both pass
      // (on PostgreSQL the second waits for the first's row lock and re-checks `uses < max_uses`).
      const r = await db
        .updateTable('coupons')
        .set((eb) => ({ uses: eb('uses', '+', 1) }))
        .where('id', '=', id)
        .where((eb) => eb.or([eb('max_uses', 'is', null), eb('uses', '<', eb.ref('max_uses'))]))
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async noteOvershoot(id) {
      await db
        .updateTable('coupons')
        .set((eb) => ({ overshoot: eb('overshoot', '+', 1) }))
        .where('id', '=', id)
        .execute();
    },
    async insertRedemption(r, now) {
      const row = await db
        .insertInto('coupon_redemptions')
        .values({
          coupon_id: r.couponId,
          order_id: r.orderId,
          account_id: r.accountId,
          discount_minor: r.discountMinor,
          currency: r.currency,
          overshoot: r.overshoot ? 1 : 0,
          redeemed_at: now,
        })
        .onConflict((oc) => oc.column('order_id').doNothing())
        .returning('id')
        .executeTakeFirst();
      return row !== undefined;
    },
    async redemptionsBy(couponId, accountId) {
      const r = await db
        .selectFrom('coupon_redemptions')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('coupon_id', '=', couponId)
        .where('account_id', '=', accountId)
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },
    async redeemed(from, to, groupIds) {
      if (groupIds?.length === 0) return 0;
      let q = db.selectFrom('coupon_redemptions').select((eb) => eb.fn.countAll<number>().as('n'));
      if (from !== undefined) q = q.where('redeemed_at', '>=', from);
      if (to !== undefined) q = q.where('redeemed_at', '<', to);
      if (groupIds !== undefined) {
        const plans = db.selectFrom('plan_groups').select('plan_groups.plan_id').where('plan_groups.group_id', 'in', groupIds);
        q = q.where('order_id', 'in', db.selectFrom('orders').select('orders.id').where('orders.plan_id', 'in', plans));
      }
      return Number((await q.executeTakeFirstOrThrow()).n);
    },
    async winbackDue(q) {
      // Lapsed (grace or removed, never revoked or banned) at least `days` ago and not long before, with no
      // win-back coupon yet for this lapse (keyed by membership and the expiry it lapsed at).
      const rows = await db
        .selectFrom('memberships as m')
        .select(['m.id', 'm.account_id', 'm.expires_at'])
        .where('m.group_id', '=', q.groupId)
        .where('m.status', 'in', ['grace', 'expired'])
        .where('m.expires_at', '>', 0)
        .where('m.expires_at', '<=', q.lapsedBefore)
        .where('m.expires_at', '>', q.lapsedAfter)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('coupons as c')
                .select('c.id')
                .where('c.winback_key', '=', sql<string>`'winback:' || CAST(m.id AS TEXT) || ':' || CAST(m.expires_at AS TEXT)`),
            ),
          ),
        )
        // Never to someone refunded: no refund booked against an order of theirs for a plan of this group.
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('orders as o')
                .select('o.id')
                .whereRef('o.account_id', '=', 'm.account_id')
                .where('o.status', 'in', ['refund_pending', 'refunded'])
                .where('o.plan_id', 'in', selectFrom('plan_groups').select('plan_groups.plan_id').where('plan_groups.group_id', '=', q.groupId)),
            ),
          ),
        )
        .orderBy('m.id')
        .limit(q.limit)
        .execute();
      return rows.map((r) => ({ membershipId: r.id, accountId: r.account_id, expiresAt: Number(r.expires_at) }));
    },
  };
}
