// Refunds on request (issue 17 part 6): a group may set a refund window (`refundWindowHours`, 0 = off).
// Within it a member asks, with a reason, for the money of their latest paid order for that group back,
// and gets it without the owner:
//   - The window runs from the start of the paid period the order bought in that group (when the member's
//     access from it began; for a renewal paid early, when it begins), for the plan's window: the smallest
//     `refundWindowHours` among the groups the plan opens (one group: that group's).
//   - Only a `paid` period of an order with an amount above zero, still `paid` (not under review, not
//     refunded or being refunded), and only once per person per group (refund_requests).
//   - The refund goes through the owner's refund machinery (startRefund in refunds.ts: `out_refund_no`
//     stored, the provider called by a job); when the provider confirms, confirmRefund withdraws only that
//     order's unused days, so a member whose earlier order still pays for time keeps it.
//   - The owners are told (alert job), an audit line is written, the member gets an answer at once and the
//     usual "refunded" message when the money has gone back.
import { conflict } from '../domain/errors.ts';
import { formatMoney } from '../domain/money.ts';
import { HOUR_MS } from '../domain/time.ts';
import type { AppDeps } from './deps.ts';
import { alertOwnersJob } from './job-kinds.ts';
import type { Account, Group, MembershipPeriod, Order, Plan } from './model.ts';
import type { Repos } from './ports.ts';
import { startRefund } from './refunds.ts';

/** The longest reason a member may give. */
export const MAX_REFUND_REASON = 500;

/** Why a group's latest paid order cannot be refunded on request. */
export type RefundRefusal = 'off' | 'window_closed' | 'already_requested' | 'not_refundable' | 'under_review' | 'already_refunded';

/** One group the person has bought into, with its latest order and what a request would meet. */
export interface RefundAssessment {
  group: Group;
  order: Order;
  period: MembershipPeriod;
  /** The plan's window in hours (0: off). */
  windowHours: number;
  /** When the window closes (the period's start + the window). */
  closesAt: number;
  refusal: RefundRefusal | null;
}

export type RefundOnRequest =
  | { kind: 'requested'; group: Group; order: Order; amount: string }
  /** Several groups qualify: the person picks one; the reason is asked for again only if missing. */
  | { kind: 'choose'; groups: Group[] }
  | { kind: 'refused'; refusal: RefundRefusal; group: Group; assessment: RefundAssessment }
  /** No order paid with money in any group (or, with a group named, in that group). */
  | { kind: 'no_paid_order'; group?: Group }
  | { kind: 'reason_needed' }
  | { kind: 'reason_too_long'; max: number };

/** The order's refund window: its plan's (the smallest among the groups it opens). */
async function windowOf(tx: Repos, order: Order): Promise<number> {
  const plan = await tx.plans.get(order.planId);
  return plan ? planRefundWindow(tx, plan) : 0;
}

/** The person's latest order in each group they have bought into, and whether it may be refunded on request. */
export async function assessRefunds(tx: Repos, account: Account, now: number): Promise<RefundAssessment[]> {
  const requested = new Set(await tx.refundRequests.groupsRequested(account.id));
  const out: RefundAssessment[] = [];
  for (const m of await tx.memberships.list({ accountId: account.id })) {
    const group = await tx.groups.get(m.groupId);
    if (!group) continue;
    // The latest period an order bought (revoked ones too: a refunded latest order is the answer, not an older one).
    const bought = (await tx.periods.listForMembership(m.id)).filter((p) => p.orderId !== null);
    const period = bought.sort((a, b) => b.startsAt - a.startsAt || b.id - a.id)[0];
    if (!period) continue;
    const order = await tx.orders.get(period.orderId!);
    if (!order) continue;
    const windowHours = await windowOf(tx, order);
    const closesAt = period.startsAt + windowHours * HOUR_MS;
    const refusal: RefundRefusal | null =
      windowHours === 0
        ? 'off'
        : period.kind !== 'paid' || order.amountMinor <= 0
          ? 'not_refundable'
          : order.status === 'review'
            ? 'under_review'
            : order.status === 'refund_pending' || order.status === 'refunded'
              ? 'already_refunded'
              : order.status !== 'paid'
                ? 'not_refundable'
                : requested.has(group.id)
                  ? 'already_requested'
                  : now >= closesAt
                    ? 'window_closed'
                    : null;
    out.push({ group, order, period, windowHours, closesAt, refusal });
  }
  return out;
}

/** What the person is told when nothing qualifies: about the group whose latest order is the newest. */
const mostRecent = (list: RefundAssessment[]) => [...list].sort((a, b) => b.period.startsAt - a.period.startsAt)[0]!;

/**
 * A member's `/refund <reason>` (退款): with `groupId`, for that group (picked from a `choose` answer);
 * without, for the one group that qualifies. Every refusal changes nothing.
 */
export async function requestRefundOnRequest(deps: AppDeps, input: { account: Account; reason: string; groupId?: number }): Promise<RefundOnRequest> {
  const { store, clock } = deps;
  const reason = input.reason.trim();
  if (reason.length > MAX_REFUND_REASON) return { kind: 'reason_too_long', max: MAX_REFUND_REASON };
  const now = clock.now();
  const all = await assessRefunds(store, input.account, now);
  let target: RefundAssessment;
  if (input.groupId !== undefined) {
    const one = all.find((a) => a.group.id === input.groupId);
    if (!one) return { kind: 'no_paid_order', ...(await namedGroup(store, input.groupId)) };
    if (one.refusal) return { kind: 'refused', refusal: one.refusal, group: one.group, assessment: one };
    target = one;
  } else {
    const paid = all.filter((a) => a.order.amountMinor > 0 && a.period.kind === 'paid');
    if (paid.length === 0) return all.length === 0 ? { kind: 'no_paid_order' } : refused(mostRecent(all));
    const open = paid.filter((a) => a.refusal === null);
    if (open.length === 0) {
      // Say the most telling thing: a group that offers refunds over one that does not.
      const offered = paid.filter((a) => a.refusal !== 'off');
      return refused(mostRecent(offered.length > 0 ? offered : paid));
    }
    if (reason === '') return { kind: 'reason_needed' };
    if (open.length > 1) return { kind: 'choose', groups: open.map((a) => a.group) };
    target = open[0]!;
  }
  if (reason === '') return { kind: 'reason_needed' };
  const { group, order } = target;
  const result = await store.transaction(async (tx) => {
    const current = (await tx.orders.getForUpdate(order.id)) ?? order;
    const fresh = (await assessRefunds(tx, input.account, now)).find((a) => a.group.id === group.id && a.order.id === current.id);
    if (!fresh) throw conflict('your order changed meanwhile; please try again');
    if (fresh.refusal) return refused(fresh);
    // Once per person per group: every group this order opened for the person uses up its request.
    const periods = (await tx.periods.listForOrder(current.id)).filter((p) => p.revokedAt === null);
    const groupIds = [...new Set([group.id, ...periods.map((p) => p.groupId)])];
    for (const groupId of groupIds) {
      const row = {
        accountId: input.account.id,
        groupId,
        orderId: current.id,
        amountMinor: current.amountMinor,
        currency: current.currency,
        reason,
        requestedAt: now,
      };
      if (!(await tx.refundRequests.insertIfAbsent(row)) && groupId === group.id) return refused({ ...fresh, refusal: 'already_requested' });
    }
    const windowNote = `refund on request within the ${fresh.windowHours}-hour window of group ${group.id}`;
    await startRefund(
      deps,
      tx,
      current,
      { actor: `account:${input.account.id}`, reason: `${windowNote}: ${reason}`, detail: { onRequest: true, groupId: group.id } },
      now,
    );
    const amount = formatMoney(current.amountMinor, current.currency);
    await tx.jobs.enqueue(
      [
        alertOwnersJob(
          {
            groupIds,
            message: {
              key: 'owner.refund_on_request',
              params: {
                name: input.account.displayName ?? input.account.platformUserId,
                orderId: current.id,
                amount,
                group: group.title,
                hours: fresh.windowHours,
                reason: reason.length > 200 ? `${reason.slice(0, 200)}…` : reason,
              },
            },
          },
          `alert:refund-on-request:${current.id}`,
        ),
      ],
      now,
    );
    return { kind: 'requested' as const, group, order: current, amount };
  });
  deps.onJobsEnqueued?.();
  return result;
}

const refused = (a: RefundAssessment): RefundOnRequest => ({ kind: 'refused', refusal: a.refusal ?? 'already_requested', group: a.group, assessment: a });

async function namedGroup(tx: Repos, groupId: number): Promise<{ group?: Group }> {
  const group = await tx.groups.get(groupId);
  return group ? { group } : {};
}

/**
 * The refund policy people read before paying (plan menu, pay page): the window in hours an order of this
 * plan gets (0: no refunds on request), the same one a request is measured against.
 */
export async function planRefundWindow(tx: Repos, plan: Plan): Promise<number> {
  const groups = await Promise.all(plan.groupIds.map((id) => tx.groups.get(id)));
  const hours = groups.map((g) => g?.refundWindowHours ?? 0);
  return hours.length === 0 ? 0 : Math.min(...hours);
}
