// Subscriptions a payment rail renews by itself (migration 0017); the rules live in src/app/subscriptions.ts.
import { type Kysely, sql } from 'kysely';
import type { Subscription, SubscriptionState } from '../app/model.ts';
import type { Repos } from '../app/ports.ts';
import type { Database, SubscriptionsTable } from './schema.ts';
import type { Selectable } from 'kysely';

const toSubscription = (r: Selectable<SubscriptionsTable>): Subscription => ({
  id: r.id,
  provider: r.provider,
  subscriptionId: r.subscription_id,
  accountId: r.account_id,
  planId: r.plan_id,
  firstOrderId: r.first_order_id,
  amountMinor: Number(r.amount_minor),
  currency: r.currency,
  state: r.state as SubscriptionState,
  canceledBy: r.canceled_by,
  nextChargeAt: Number(r.next_charge_at),
  failedRenewals: r.failed_renewals,
  renewalNoticeFor: r.renewal_notice_for === null ? null : Number(r.renewal_notice_for),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
  stateChangedAt: Number(r.state_changed_at),
  lastReportAt: Number(r.last_report_at),
});

export function subscriptionsRepo(db: Kysely<Database>): Repos['subscriptions'] {
  return {
    async insertIfAbsent(s, now) {
      const row = await db
        .insertInto('subscriptions')
        .values({
          provider: s.provider,
          subscription_id: s.subscriptionId,
          account_id: s.accountId,
          plan_id: s.planId,
          first_order_id: s.firstOrderId,
          amount_minor: s.amountMinor,
          currency: s.currency,
          state: 'active',
          canceled_by: null,
          next_charge_at: s.nextChargeAt,
          renewal_notice_for: null,
          created_at: now,
          updated_at: now,
          state_changed_at: now,
        })
        .onConflict((oc) => oc.doNothing())
        .returningAll()
        .executeTakeFirst();
      return row ? toSubscription(row) : null;
    },
    async get(id) {
      const r = await db.selectFrom('subscriptions').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? toSubscription(r) : null;
    },
    async findByFirstOrder(orderId) {
      const r = await db.selectFrom('subscriptions').selectAll().where('first_order_id', '=', orderId).executeTakeFirst();
      return r ? toSubscription(r) : null;
    },
    async listForAccount(accountId) {
      const rows = await db.selectFrom('subscriptions').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
      return rows.map(toSubscription);
    },
    async update(id, patch, now) {
      await db
        .updateTable('subscriptions')
        .set({
          ...(patch.state !== undefined ? { state: patch.state } : {}),
          ...(patch.canceledBy !== undefined ? { canceled_by: patch.canceledBy } : {}),
          ...(patch.nextChargeAt !== undefined ? { next_charge_at: patch.nextChargeAt } : {}),
          ...(patch.failedRenewals !== undefined ? { failed_renewals: patch.failedRenewals } : {}),
          ...(patch.renewalNoticeFor !== undefined ? { renewal_notice_for: patch.renewalNoticeFor } : {}),
          // A change of state (or of who canceled) is what the stale-report guard measures against.
          ...(patch.state !== undefined || patch.canceledBy !== undefined ? { state_changed_at: now } : {}),
          updated_at: now,
        })
        .where('id', '=', id)
        .execute();
    },
    async noteReport(id, at) {
      // Conditional, so two reports handled at once cannot both count as the newest.
      const r = await db.updateTable('subscriptions').set({ last_report_at: at }).where('id', '=', id).where('last_report_at', '<=', at).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async noticesDue(q) {
      const rows = await db
        .selectFrom('subscriptions')
        .selectAll()
        .where('state', '=', 'active')
        .where('next_charge_at', '>', q.fromMs)
        .where('next_charge_at', '<=', q.toMs)
        .where((eb) => eb.or([eb('renewal_notice_for', 'is', null), eb('renewal_notice_for', '!=', eb.ref('next_charge_at'))]))
        .orderBy('next_charge_at')
        .limit(q.limit)
        .execute();
      return rows.map(toSubscription);
    },
    async stats(groupIds) {
      if (groupIds?.length === 0) return { autoRenewing: 0, failedRenewals: 0 };
      // People with access now whose access an active subscription renews (in a group its plan opens).
      let renewing = db
        .selectFrom('memberships as m')
        .innerJoin('plan_groups as pg', 'pg.group_id', 'm.group_id')
        .innerJoin('subscriptions as s', (j) => j.onRef('s.plan_id', '=', 'pg.plan_id').onRef('s.account_id', '=', 'm.account_id'))
        .select((eb) => eb.fn.count<number>('m.account_id').distinct().as('n'))
        .where('m.status', 'in', ['active', 'grace'])
        .where('s.state', '=', 'active');
      let failed = db.selectFrom('subscriptions as s').select(sql<number>`coalesce(sum(s.failed_renewals), 0)`.as('n'));
      if (groupIds !== undefined) {
        renewing = renewing.where('m.group_id', 'in', groupIds);
        failed = failed.where((eb) =>
          eb.exists(eb.selectFrom('plan_groups as pg2').select('pg2.plan_id').whereRef('pg2.plan_id', '=', 's.plan_id').where('pg2.group_id', 'in', groupIds)),
        );
      }
      const [a, b] = await Promise.all([renewing.executeTakeFirstOrThrow(), failed.executeTakeFirstOrThrow()]);
      return { autoRenewing: Number(a.n), failedRenewals: Number(b.n) };
    },
  };
}
