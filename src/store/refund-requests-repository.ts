// Refunds members asked for within their group's refund window (migration 0014). The unique
// (account_id, group_id) is the "once per person per group" rule; the rules live in src/app/refund-window.ts.
import type { Kysely } from 'kysely';
import type { MemberRefundRequest, Repos } from '../app/ports.ts';
import type { Database } from './schema.ts';

export function refundRequestsRepo(db: Kysely<Database>): Repos['refundRequests'] {
  return {
    async insertIfAbsent(r: Omit<MemberRefundRequest, 'id'>) {
      const row = await db
        .insertInto('refund_requests')
        .values({
          account_id: r.accountId,
          group_id: r.groupId,
          order_id: r.orderId,
          amount_minor: r.amountMinor,
          currency: r.currency,
          reason: r.reason,
          requested_at: r.requestedAt,
        })
        .onConflict((oc) => oc.columns(['account_id', 'group_id']).doNothing())
        .returning('id')
        .executeTakeFirst();
      return row !== undefined;
    },
    async groupsRequested(accountId) {
      const rows = await db.selectFrom('refund_requests').select('group_id').where('account_id', '=', accountId).execute();
      return rows.map((r) => r.group_id);
    },
  };
}
