// Coupons and access codes (issue 16 part 2) and win-back offers (part 4). An owner (or the admin CLI/API) creates
// codes; a member applies one at checkout (chat `/coupon CODE`, a `c-CODE` deep link, 优惠码 on WeChat, the pay
// page, `POST /api/checkouts {"coupon"}`). The order keeps the list price, the discount and the coupon; the
// provider is asked for the discounted amount. A use is booked only when the order is paid, in the confirm
// transaction, by the conditional increment `coupons.take` (uses = uses + 1 WHERE uses < max_uses), next to a
// unique redemption row per order. A code that makes the price 0 is an access code: the order (amount 0, provider
// `coupon`) is confirmed in the transaction that creates it, through the same guards, and no provider is called.
import { randomBytes } from 'node:crypto';
import { ACCESS_CODE_PROVIDER, checkPercent, checkUsable, COUPON_CODE, CouponRefusal, discountOf, normalizeCode } from '../domain/coupon.ts';
import { conflict, invalid, notFound } from '../domain/errors.ts';
import { formatMoney, MAX_AMOUNT_MINOR, normalizeCurrency, parsePrice } from '../domain/money.ts';
import { DAY_MS, toIso } from '../domain/time.ts';
import { type Actor, actorLabel, assertOwner, assertOwnerOf, groupScope, inScope } from './actors.ts';
import type { AppDeps } from './deps.ts';
import { gatewayConfirmsWithInvite, grantOrder } from './grant.ts';
import { createCheckout, type CheckoutResult } from './checkout.ts';
import { alertOwnersJob, closeOrderJob, notifyJob } from './job-kinds.ts';
import type { Coupon, Group, Order, Plan } from './model.ts';
import type { Repos } from './ports.ts';
import { holdForReview } from './review.ts';

export { ACCESS_CODE_PROVIDER };

/** The most codes one `coupon batch` makes. */
export const MAX_BATCH = 1000;
/** A win-back coupon is valid this long. */
export const WINBACK_VALID_MS = 7 * DAY_MS;

export interface CouponInput {
  code: string;
  percent?: number;
  /** A decimal in the currency's units ("5.00"). */
  amount?: string;
  currency?: string;
  planIds?: number[];
  maxUses?: number;
  perPerson?: number;
  /** ISO 8601 times. */
  validFrom?: string;
  validUntil?: string;
  actor: Actor;
}

type Terms = Omit<Coupon, 'id' | 'code' | 'uses' | 'overshoot' | 'active' | 'createdAt' | 'source' | 'createdBy' | 'accountId'>;

const positive = (v: unknown, flag: string, max: number): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)
    throw invalid(`${flag} must be a whole number from 1 to ${max} (got ${JSON.stringify(v)})`);
  return v;
};

function parseTime(v: string | undefined, flag: string): number | null {
  if (v === undefined) return null;
  // A date, or a date and time with an offset (or Z): never a local time the server would have to guess.
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(v.trim()))
    throw invalid(
      `${flag} must be an ISO 8601 date or time with its offset, like 2026-12-31 or 2026-12-31T23:59:00+08:00 (got ${JSON.stringify(v.slice(0, 40))})`,
    );
  const ms = Date.parse(v.trim());
  if (!Number.isFinite(ms)) throw invalid(`${flag} is not a real date (got ${JSON.stringify(v.slice(0, 40))})`);
  return ms;
}

/** Checks the terms shared by `coupon add` and `coupon batch`; the plans are read and their owner checked. */
async function checkTerms(tx: Repos, input: Omit<CouponInput, 'code'>): Promise<Terms> {
  const hasPercent = input.percent !== undefined;
  const hasAmount = input.amount !== undefined;
  if (hasPercent === hasAmount) throw invalid('give either --percent <1-100> or --amount <decimal> --currency <code>');
  let percent: number | null = null;
  let amountMinor: number | null = null;
  let currency: string | null = null;
  if (hasPercent) {
    percent = checkPercent(input.percent);
    if (input.currency !== undefined) throw invalid('--currency goes with --amount, not with --percent');
  } else {
    if (input.currency === undefined) throw invalid('--amount needs --currency');
    currency = normalizeCurrency(input.currency);
    amountMinor = parsePrice(String(input.amount), currency);
    if (amountMinor <= 0) throw invalid('--amount must be more than zero');
    if (amountMinor > MAX_AMOUNT_MINOR) throw invalid('--amount is too large');
  }
  const planIds = input.planIds && input.planIds.length > 0 ? [...new Set(input.planIds)] : null;
  const scope = await groupScope(tx, input.actor);
  // An owner's coupon names their plans: a code without plans would discount every owner's plans.
  if (planIds === null && !scope.all) throw invalid('give --plan <id> (one or more): an owner’s coupon is for their own plans');
  for (const id of planIds ?? []) {
    const plan = Number.isSafeInteger(id) ? await tx.plans.get(id) : null;
    if (!plan) throw notFound(`no plan with id ${String(id)}`);
    for (const g of plan.groupIds) {
      const group = await tx.groups.get(g);
      if (group) await assertOwnerOf(tx, input.actor, group);
    }
    if (amountMinor !== null) {
      if (plan.currency !== currency) throw invalid(`plan ${plan.id} is priced in ${plan.currency}, the coupon's amount in ${currency}`);
      if (amountMinor > plan.priceMinor)
        throw invalid(`--amount ${formatMoney(amountMinor, currency!)} is more than plan ${plan.id}'s price ${formatMoney(plan.priceMinor, plan.currency)}`);
    }
  }
  const maxUses = input.maxUses === undefined ? null : positive(input.maxUses, '--max-uses', 1_000_000);
  const perPerson = input.perPerson === undefined ? null : positive(input.perPerson, '--per-person', 1000);
  const validFrom = parseTime(input.validFrom, '--valid-from');
  const validUntil = parseTime(input.validUntil, '--valid-until');
  if (validFrom !== null && validUntil !== null && validUntil <= validFrom) throw invalid('--valid-until must be after --valid-from');
  return { percent, amountMinor, currency, planIds, maxUses, perPerson, validFrom, validUntil };
}

const describe = (c: Pick<Coupon, 'percent' | 'amountMinor' | 'currency'>) =>
  c.percent !== null ? `${c.percent} % off` : `${formatMoney(c.amountMinor!, c.currency!)} off`;

/** `coupon add`: one code. Audited as `coupon.create`. */
export async function createCoupon(deps: AppDeps, input: CouponInput): Promise<Coupon> {
  const code = normalizeCode(input.code);
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    await assertOwner(tx, input.actor);
    const terms = await checkTerms(tx, input);
    const c = await tx.coupons.insert({ ...terms, code, accountId: null, source: 'owner', createdBy: actorLabel(input.actor) }, now);
    if (!c) throw conflict(`coupon code ${code} exists already`);
    await tx.audit.insert({
      at: now,
      actor: actorLabel(input.actor),
      action: 'coupon.create',
      subjectType: 'coupon',
      subjectId: String(c.id),
      reason: `coupon ${code}: ${describe(c)}`,
      detail: { code, ...terms },
    });
    return c;
  });
}

/** Random code characters without look-alikes (no 0/O, 1/I/L). */
const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
function randomPart(n: number): string {
  const bytes = randomBytes(n);
  let s = '';
  for (const b of bytes) s += ALPHABET[b % ALPHABET.length];
  return s;
}

/**
 * `coupon batch`: `count` single-use codes `PREFIX-XXXXXXXXXX` (10 random characters, ~49 bits each: not
 * guessable from the others), for resellers. One transaction, one audit entry per code.
 */
export async function createBatch(deps: AppDeps, input: Omit<CouponInput, 'code' | 'maxUses'> & { prefix: string; count: number }): Promise<Coupon[]> {
  const prefix = String(input.prefix ?? '')
    .trim()
    .toUpperCase();
  if (!/^[A-Z0-9]{1,16}$/.test(prefix)) throw invalid(`--prefix must be 1–16 letters or digits (got ${JSON.stringify(prefix.slice(0, 40))})`);
  const count = positive(input.count, '--count', MAX_BATCH);
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    await assertOwner(tx, input.actor);
    const terms = await checkTerms(tx, { ...input, maxUses: 1 });
    const out: Coupon[] = [];
    while (out.length < count) {
      const code = `${prefix}-${randomPart(10)}`;
      const c = await tx.coupons.insert({ ...terms, code, accountId: null, source: 'batch', createdBy: actorLabel(input.actor) }, now);
      if (!c) continue; // a collision: draw again
      out.push(c);
    }
    await tx.audit.insertMany(
      out.map((c) => ({
        at: now,
        actor: actorLabel(input.actor),
        action: 'coupon.create',
        subjectType: 'coupon',
        subjectId: String(c.id),
        reason: `batch ${prefix} coupon ${c.code}: ${describe(c)}, single use`,
        detail: { code: c.code, batch: prefix, ...terms },
      })),
    );
    return out;
  });
}

/** The coupons an actor may see: an admin or operator every one; an owner those for plans of their groups. */
export async function listCoupons(deps: AppDeps, actor: Actor, limit = 500): Promise<Coupon[]> {
  await assertOwner(deps.store, actor);
  const scope = await groupScope(deps.store, actor);
  const all = await deps.store.coupons.list({ limit });
  if (scope.all) return all;
  const plans = new Map((await deps.store.plans.list()).map((p) => [p.id, p]));
  return all.filter((c) => c.planIds !== null && c.planIds.some((id) => plans.get(id)?.groupIds.some((g) => inScope(scope, g))));
}

/** `coupon disable <code>`: nobody can apply it any more; orders already made with it stay as they are. */
export async function disableCoupon(deps: AppDeps, input: { code: string; actor: Actor }): Promise<Coupon> {
  const code = normalizeCode(input.code);
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    await assertOwner(tx, input.actor);
    const c = await tx.coupons.findByCode(code);
    if (!c) throw notFound(`no coupon ${code}`);
    const scope = await groupScope(tx, input.actor);
    if (!scope.all) {
      const mine = c.planIds !== null && (await Promise.all(c.planIds.map((id) => tx.plans.get(id)))).every((p) => p?.groupIds.every((g) => inScope(scope, g)));
      if (!mine) throw notFound(`no coupon ${code}`);
    }
    if (!(await tx.coupons.setActive(c.id, false))) throw conflict(`coupon ${code} is disabled already`);
    await tx.audit.insert({
      at: now,
      actor: actorLabel(input.actor),
      action: 'coupon.disable',
      subjectType: 'coupon',
      subjectId: String(c.id),
      reason: `coupon ${code} disabled`,
      detail: null,
    });
    return { ...c, active: false };
  });
}

/**
 * The coupon a member applies to a price, checked for this person, plan and moment (CouponRefusal otherwise):
 * the coupon and what it takes off. Read in the checkout's transaction.
 */
export async function quoteCoupon(
  tx: Repos,
  q: { code: string; plan: Plan; accountId: number; amountMinor: number; currency: string; now: number },
): Promise<{ coupon: Coupon; discountMinor: number }> {
  const code = normalizeCode(q.code);
  const coupon = await tx.coupons.findByCode(code);
  if (!coupon) throw new CouponRefusal('unknown', `there is no coupon ${code}`);
  checkUsable(coupon, { planId: q.plan.id, accountId: q.accountId, now: q.now, redeemedByThem: await tx.coupons.redemptionsBy(coupon.id, q.accountId) });
  return { coupon, discountMinor: discountOf(coupon, q.amountMinor, q.currency) };
}

/**
 * Books the coupon's use for an order that was just paid (or an access code being confirmed), inside the
 * confirm transaction. `strict` (an access code): no use left is a refusal and the caller's transaction rolls
 * back — nothing was paid, nothing is granted. Not strict (money was taken): the payment is honoured anyway.
 *
 * Why honour it: the member paid the discounted price in good faith, having been shown it; refusing now would
 * mean a refund round trip, an angry member and a support case for the owner over a few coupons. What a real
 * owner expects is the sale kept, the overshoot counted on the coupon (`overshoot`), an audit entry and a
 * message saying how far past its limit the code went — and to disable it if it leaked.
 */
export async function bookRedemption(tx: Repos, order: Order, actor: string, now: number, opts: { strict: boolean }): Promise<'none' | 'booked' | 'overshoot'> {
  if (order.couponId === null || order.couponId === undefined) return 'none';
  const coupon = await tx.coupons.get(order.couponId);
  if (!coupon) throw new Error(`order ${order.id} names coupon ${order.couponId}, which does not exist`);
  const usesLeft = await tx.coupons.take(coupon.id);
  if (!usesLeft && opts.strict) throw new CouponRefusal('used_up', `coupon ${coupon.code} has been used up`);
  // The per-person limit, counted here and not only at quote time: two orders of one person made with the same
  // code would otherwise both be booked. Counted after the conditional UPDATE above, which (when it matched) holds
  // the coupon row's lock on PostgreSQL until commit, so a second checkout of the same code waits and then, under
  // READ COMMITTED, sees the first one's redemption; SQLite runs one writer at a time.
  const beyondPerPerson = coupon.perPerson !== null && (await tx.coupons.redemptionsBy(coupon.id, order.accountId)) >= coupon.perPerson;
  if (beyondPerPerson && opts.strict) throw new CouponRefusal('per_person', `you have used coupon ${coupon.code} already`);
  // A paid order past either limit is honoured (see above): an overshoot, audited and told to the owners.
  const taken = usesLeft && !beyondPerPerson;
  const discountMinor = order.discountMinor ?? 0;
  if (
    !(await tx.coupons.insertRedemption(
      { couponId: coupon.id, orderId: order.id, accountId: order.accountId, discountMinor, currency: order.currency, overshoot: !taken },
      now,
    ))
  ) {
    // The order's redemption is booked already: guard 1 makes this unreachable, but a use must never count twice.
    throw new Error(`order ${order.id} redeemed coupon ${coupon.code} twice`);
  }
  // The coupon's `overshoot` counts payments past max-uses only; one past the per-person limit took a use
  // (counted in `uses`) and is marked on its redemption row.
  if (!usesLeft) await tx.coupons.noteOvershoot(coupon.id);
  await tx.audit.insert({
    at: now,
    actor,
    action: taken ? 'coupon.redeem' : 'coupon.overshoot',
    subjectType: 'coupon',
    subjectId: String(coupon.id),
    reason: taken
      ? `coupon ${coupon.code} redeemed by order ${order.id}`
      : beyondPerPerson
        ? `coupon ${coupon.code} was past its per-person limit of ${coupon.perPerson} for account ${order.accountId} when order ${order.id} was paid: the payment is honoured`
        : `coupon ${coupon.code} was used up when order ${order.id} was paid: the payment is honoured, ${coupon.overshoot + 1} past its limit of ${coupon.maxUses}`,
    detail: { orderId: order.id, accountId: order.accountId, discountMinor, currency: order.currency, listPriceMinor: order.listPriceMinor ?? null },
  });
  if (!taken) {
    const plan = await tx.plans.get(order.planId);
    await tx.jobs.enqueue(
      [
        alertOwnersJob(
          {
            groupIds: plan?.groupIds ?? [],
            message: beyondPerPerson
              ? { key: 'owner.coupon_overshoot_per_person', params: { code: coupon.code, orderId: order.id, max: coupon.perPerson ?? 0 } }
              : { key: 'owner.coupon_overshoot', params: { code: coupon.code, orderId: order.id, max: coupon.maxUses ?? 0 } },
          },
          `alert:coupon-overshoot:${order.id}`,
        ),
      ],
      now,
    );
  }
  return taken ? 'booked' : 'overshoot';
}

/**
 * Confirms an access-code order (amount 0, provider `coupon`) in the transaction that created it, through the
 * same guards as a paid one: the conditional pending → paid, the coupon's conditional use (strict: none left
 * rolls everything back), and grantOrder's one period per (order, group) — a `comp` period, no ledger row (no
 * money moved, so it is never revenue and never refundable). A review group holds it for review like a payment.
 */
export async function confirmAccessCode(deps: AppDeps, tx: Repos, order: Order, plan: Plan, now: number): Promise<void> {
  const moved = await tx.orders.transition(order.id, ['pending'], 'paid', { paidAt: now, providerTxnId: `coupon:${order.id}` }, now);
  if (!moved) throw conflict(`order ${order.id} is not pending`);
  const paid: Order = { ...order, status: 'paid', paidAt: now };
  await bookRedemption(tx, paid, ACCESS_CODE_PROVIDER, now, { strict: true });
  const groups = (await Promise.all(plan.groupIds.map((id) => tx.groups.get(id)))).filter((g): g is Group => g !== null);
  if (groups.some((g) => g.joinMode === 'review') && (await holdForReview(deps, tx, paid, plan, groups, `provider:${ACCESS_CODE_PROVIDER}`, now))) return;
  await grantOrder(tx, paid, plan, now, `provider:${ACCESS_CODE_PROVIDER}`, now, gatewayConfirmsWithInvite(deps), { groups });
}

/**
 * The win-back sweep (issue 16 part 4), run by the scheduler's tick: for each group with `winbackDays` > 0, every
 * member who lapsed `winbackDays` days ago (up to a week later, so a stopped service catches up, but never
 * someone who lapsed long before the offer was turned on) gets one personal single-use coupon for the group's
 * plans, valid a week, and one message. Never to banned, revoked (refunded) or refunded people (winbackDue);
 * never twice per lapse: the coupon's unique `winback_key` (membership, the expiry it lapsed at) and the
 * message's dedupe key are the same fact, written in one transaction.
 */
export async function sweepWinbacks(deps: AppDeps, batch = 200): Promise<{ offered: number }> {
  const now = deps.clock.now();
  let offered = 0;
  for (const group of await deps.store.groups.list()) {
    if (group.winbackDays <= 0 || group.winbackPercent <= 0) continue;
    const plans = (await deps.store.plans.list({ groupId: group.id, activeOnly: true })).map((p) => p.id);
    if (plans.length === 0) continue;
    const lapsedBefore = now - group.winbackDays * DAY_MS;
    const due = await deps.store.coupons.winbackDue({ groupId: group.id, lapsedBefore, lapsedAfter: lapsedBefore - WINBACK_VALID_MS, limit: batch });
    for (const d of due) {
      const key = `winback:${d.membershipId}:${d.expiresAt}`;
      const made = await deps.store.transaction(async (tx) => {
        const c = await tx.coupons.insert(
          {
            code: `WB-${randomPart(10)}`,
            percent: group.winbackPercent,
            amountMinor: null,
            currency: null,
            planIds: plans,
            maxUses: 1,
            perPerson: 1,
            validFrom: now,
            validUntil: now + WINBACK_VALID_MS,
            accountId: d.accountId,
            source: 'winback',
            winbackKey: key,
            createdBy: 'system:winback',
          },
          now,
        );
        if (!c) return false; // offered already for this lapse (another instance's sweep)
        await tx.audit.insert({
          at: now,
          actor: 'system:winback',
          action: 'coupon.create',
          subjectType: 'coupon',
          subjectId: String(c.id),
          reason: `win-back coupon ${c.code} for account ${d.accountId} (${group.winbackPercent} % off "${group.title}", lapsed ${toIso(d.expiresAt)})`,
          detail: { code: c.code, accountId: d.accountId, groupId: group.id, membershipId: d.membershipId, validUntil: c.validUntil },
        });
        await tx.jobs.enqueue(
          [
            notifyJob(
              {
                accountId: d.accountId,
                message: { key: 'winback.offer', params: { group: group.title, percent: group.winbackPercent, code: c.code, until: c.validUntil! } },
                // Not to someone who came back meanwhile, was banned or refunded.
                onlyIf: { membershipId: d.membershipId, statuses: ['grace', 'expired'] },
              },
              key,
            ),
          ],
          now,
        );
        return true;
      });
      if (made) offered++;
    }
  }
  if (offered > 0) deps.onJobsEnqueued?.();
  return { offered };
}

export const isCouponCode = (s: string) => COUPON_CODE.test(s.toUpperCase());

/**
 * A coupon applied on the pay page to an order already made (issue 16): an order's amount never changes once the
 * provider was asked for it (its QR carries it), so the discounted order is a new checkout for the same person,
 * plan and provider, and the old one is taken off (pending → expired, closed at the provider by the usual job; if
 * it is paid anyway, that payment is still honoured). An order that carries a coupon already is refused: one
 * coupon per order.
 */
export async function applyCouponToOrder(deps: AppDeps, orderId: string, code: string): Promise<CheckoutResult> {
  const order = await deps.store.orders.get(orderId);
  if (!order) throw notFound('no such order');
  if (order.couponId !== null && order.couponId !== undefined) {
    const c = await deps.store.coupons.get(order.couponId);
    throw new CouponRefusal('already_applied', `this order has coupon ${c?.code ?? ''} already: one coupon per order`);
  }
  if (order.status !== 'pending') throw conflict(`this order is ${order.status}: a coupon applies only before paying`);
  const account = await deps.store.accounts.get(order.accountId);
  if (!account) throw notFound('no such order');
  const result = await createCheckout(deps, {
    platform: account.platform,
    userId: account.platformUserId,
    planId: order.planId,
    provider: order.provider,
    coupon: code,
  });
  const now = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    if (await tx.orders.transition(order.id, ['pending'], 'expired', {}, now)) {
      await tx.jobs.enqueue([closeOrderJob(order.id)], now);
      await tx.audit.insert({
        at: now,
        actor: `account:${account.id}`,
        action: 'order.replace',
        subjectType: 'order',
        subjectId: order.id,
        reason: `replaced by order ${result.order.id} with a coupon`,
        detail: { by: result.order.id },
      });
    }
  });
  deps.onJobsEnqueued?.();
  return result;
}
