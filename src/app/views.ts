// The JSON shapes an owner's tools show (admin API and CLI --json): one definition, so both agree.
import { formatMinor } from '../domain/money.ts';
import { toIso } from '../domain/time.ts';
import { settingsOf } from './group-settings.ts';
import type { Group, Membership, Order, Plan } from './model.ts';
import type { MembershipView, Repos } from './ports.ts';

/** `refundedMinor`: the refunds the ledger has booked for the order (partial refunds keep it paid). */
export const orderJson = (o: Order, refundedMinor = 0) => ({
  id: o.id,
  status: o.status,
  outTradeNo: o.outTradeNo,
  accountId: o.accountId,
  planId: o.planId,
  amountMinor: o.amountMinor,
  amount: formatMinor(o.amountMinor, o.currency),
  currency: o.currency,
  refundedMinor,
  refunded: formatMinor(refundedMinor, o.currency),
  provider: o.provider,
  createdAt: toIso(o.createdAt),
  expiresAt: toIso(o.expiresAt),
  paidAt: o.paidAt === null ? null : toIso(o.paidAt),
  reviewReason: o.reviewReason,
});

/** Orders as JSON with their booked refunds (one ledger query for the whole list). */
export async function ordersJson(store: Pick<Repos, 'payments'>, orders: Order[]): Promise<Array<ReturnType<typeof orderJson>>> {
  const refunded = await store.payments.refundedByOrder(orders.map((o) => o.id));
  return orders.map((o) => orderJson(o, refunded.get(o.id) ?? 0));
}

export async function oneOrderJson(store: Pick<Repos, 'payments'>, order: Order): Promise<ReturnType<typeof orderJson>> {
  return (await ordersJson(store, [order]))[0]!;
}

export const groupJson = (g: Group) => ({
  id: g.id,
  platform: g.platform,
  chatId: g.platformChatId,
  title: g.title,
  ownerAccountId: g.ownerAccountId,
  ...settingsOf(g),
});

export const planJson = (p: Plan) => ({
  id: p.id,
  name: p.name,
  priceMinor: p.priceMinor,
  price: formatMinor(p.priceMinor, p.currency),
  currency: p.currency,
  days: p.durationDays,
  /** The owner's price in Telegram Stars; null: derived from STARS_PER_UNIT where Stars are offered. */
  starsPrice: p.starsPrice,
  /** The payment rail renews it by itself (Stars: 30-day plans). */
  recurring: p.recurring,
  active: p.active,
  groupIds: p.groupIds,
});

export const memberJson = (m: MembershipView) => ({
  membershipId: m.id,
  accountId: m.accountId,
  platform: m.platform,
  platformUserId: m.platformUserId,
  displayName: m.displayName,
  groupId: m.groupId,
  status: m.status,
  expiresAt: toIso(m.expiresAt),
});

export const membershipResult = (m: Membership) => ({ membershipId: m.id, status: m.status, expiresAt: toIso(m.expiresAt) });
