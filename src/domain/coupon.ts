// Coupons, pure (issue 16 part 2): the code's shape, what a coupon takes off a price, and why a coupon cannot be
// used. No I/O: src/app/coupons.ts reads the coupon and the person's redemptions and asks here.
import { DomainError, invalid } from './errors.ts';

/** A code is 3–32 characters of [A-Z0-9_-], upper-case: it travels in a Telegram deep link (`c-CODE`, ≤ 64 of [A-Za-z0-9_-]). */
export const COUPON_CODE = /^[A-Z0-9_-]{3,32}$/;

/** A code as typed (any case, spaces around) → its stored form; a one-line error when it cannot be a code. */
export function normalizeCode(input: string): string {
  const code = String(input ?? '')
    .normalize('NFKC')
    .trim()
    .toUpperCase();
  if (!COUPON_CODE.test(code))
    throw new CouponRefusal('malformed', `a coupon code is 3–32 letters, digits, "-" or "_" (got ${JSON.stringify(code.slice(0, 40))})`);
  return code;
}

/** Why a coupon cannot be used; each has its own message in the member's language (coupon.refused.<reason>). */
export type CouponRefusalReason =
  | 'malformed'
  | 'unknown'
  | 'disabled'
  | 'expired'
  | 'not_yet'
  | 'used_up'
  | 'other_plan'
  | 'other_currency'
  | 'personal'
  | 'per_person'
  | 'too_large'
  | 'already_applied';

/** A coupon that cannot be used here: an `invalid_input`/`conflict` DomainError with a machine reason for the chat's wording. */
export class CouponRefusal extends DomainError {
  constructor(
    readonly reason: CouponRefusalReason,
    message: string,
  ) {
    super(reason === 'used_up' || reason === 'already_applied' ? 'conflict' : reason === 'unknown' ? 'not_found' : 'invalid_input', message);
    this.name = 'CouponRefusal';
  }
}

/** What decides whether a coupon applies and how much it takes off (app/model.ts's Coupon adds its bookkeeping). */
export interface CouponTerms {
  /** Upper-case, [A-Z0-9_-], 3–32 characters (it travels in a Telegram deep link as `c-CODE`). */
  code: string;
  percent: number | null;
  amountMinor: number | null;
  currency: string | null;
  /** The plans it is for; null: any plan. */
  planIds: number[] | null;
  maxUses: number | null;
  perPerson: number | null;
  validFrom: number | null;
  validUntil: number | null;
  /** A personal coupon: only this account may use it. */
  accountId: number | null;
  /** Redemptions booked (only when an order is paid). */
  uses: number;
  active: boolean;
}

/** A percent off: a whole number from 1 to 100. */
export function checkPercent(input: unknown): number {
  if (typeof input !== 'number' || !Number.isInteger(input) || input < 1 || input > 100)
    throw invalid(`--percent must be a whole number from 1 to 100 (got ${JSON.stringify(input)})`);
  return input;
}

/**
 * What the coupon takes off a price of `amountMinor` in `currency`. A percent is rounded down to the minor unit
 * (the member never gets more off than promised); a fixed amount applies in its own currency only and never
 * beyond the price (refused, not capped: an owner who meant "10 off" did not mean "free").
 */
export function discountOf(c: Pick<CouponTerms, 'code' | 'percent' | 'amountMinor' | 'currency'>, amountMinor: number, currency: string): number {
  if (c.percent !== null) return Math.floor((amountMinor * c.percent) / 100);
  if (c.currency !== currency) throw new CouponRefusal('other_currency', `coupon ${c.code} is for prices in ${c.currency}, not ${currency}`);
  if ((c.amountMinor ?? 0) > amountMinor) throw new CouponRefusal('too_large', `coupon ${c.code} is worth more than this price`);
  return c.amountMinor ?? 0;
}

/**
 * Whether this person may use the coupon on this plan now (`redeemedByThem`: their redemptions booked). The use
 * count is looked at here only to refuse early; the use itself is taken when the order is paid.
 */
export function checkUsable(c: CouponTerms, ctx: { planId: number; accountId: number; now: number; redeemedByThem: number }): void {
  if (!c.active) throw new CouponRefusal('disabled', `coupon ${c.code} is disabled`);
  if (c.validFrom !== null && ctx.now < c.validFrom) throw new CouponRefusal('not_yet', `coupon ${c.code} is not valid yet`);
  if (c.validUntil !== null && ctx.now >= c.validUntil) throw new CouponRefusal('expired', `coupon ${c.code} has expired`);
  if (c.accountId !== null && c.accountId !== ctx.accountId) throw new CouponRefusal('personal', `coupon ${c.code} is personal: it belongs to someone else`);
  if (c.planIds !== null && !c.planIds.includes(ctx.planId)) throw new CouponRefusal('other_plan', `coupon ${c.code} is not for this plan`);
  if (c.maxUses !== null && c.uses >= c.maxUses) throw new CouponRefusal('used_up', `coupon ${c.code} has been used up`);
  if (c.perPerson !== null && ctx.redeemedByThem >= c.perPerson) throw new CouponRefusal('per_person', `you have used coupon ${c.code} already`);
}

/** The `provider` of an access-code order: nothing was charged, no payment provider was called. */
export const ACCESS_CODE_PROVIDER = 'coupon';
