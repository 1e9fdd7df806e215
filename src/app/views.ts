// The JSON shapes an owner's tools show (admin API and CLI --json): one definition, so both agree.
import { formatMinor } from '../domain/money.ts';
import { toIso } from '../domain/time.ts';
import { settingsOf } from './group-settings.ts';
import type { Coupon, Group, Membership, Order, Plan } from './model.ts';
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
  // Bought with a coupon (issue 16): the list price, the discount and the coupon.
  ...(o.couponId !== null && o.couponId !== undefined
    ? {
        couponId: o.couponId,
        listPriceMinor: o.listPriceMinor ?? null,
        discountMinor: o.discountMinor ?? 0,
        discount: formatMinor(o.discountMinor ?? 0, o.currency),
      }
    : {}),
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
  /** Days of free trial a person may start once (0: none). */
  trialDays: p.trialDays,
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

/** A coupon as the CLI (`coupon list --json`) and the admin API (`/api/coupons`) show it. */
export const couponJson = (c: Coupon) => ({
  id: c.id,
  code: c.code,
  percent: c.percent,
  amountMinor: c.amountMinor,
  amount: c.amountMinor === null || c.currency === null ? null : formatMinor(c.amountMinor, c.currency),
  currency: c.currency,
  planIds: c.planIds,
  maxUses: c.maxUses,
  perPerson: c.perPerson,
  validFrom: c.validFrom === null ? null : toIso(c.validFrom),
  validUntil: c.validUntil === null ? null : toIso(c.validUntil),
  /** A personal coupon (win-back): the one account that may use it. */
  accountId: c.accountId,
  uses: c.uses,
  /** Payments honoured after the last use was taken. */
  overshoot: c.overshoot,
  active: c.active,
  source: c.source,
  createdAt: toIso(c.createdAt),
});
