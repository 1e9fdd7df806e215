// The records use cases work with. Store adapters map their rows to these; nothing here knows SQL.
import type { CouponTerms } from '../domain/coupon.ts';
import type { MembershipStatus } from '../domain/membership.ts';
import type { OrderStatus } from '../domain/order.ts';

export const PLATFORMS = ['telegram', 'wechat', 'playground'] as const;
export type Platform = (typeof PLATFORMS)[number];
export const isPlatform = (s: string): s is Platform => (PLATFORMS as readonly string[]).includes(s);

export interface Account {
  id: number;
  platform: Platform;
  platformUserId: string;
  displayName: string | null;
  locale: string | null;
  referredBy: number | null;
  isOwner: boolean;
  /** The platform's public handle (Telegram @username, without the @); null when unknown or none. */
  username: string | null;
  createdAt: number;
  /** Issue 16: the person's own invite code (null until first asked for; src/app/referrals.ts). */
  referralCode: string | null;
  /** When referredBy was recorded (null: never referred). */
  referredAt: number | null;
  /** An owner who turned the daily digest off (`/digest off`). */
  digestOff: boolean;
}

/** What happens to people in a group who may not be there: reported to the owner, removed, or left alone. */
export type IntruderPolicy = 'report' | 'remove' | 'ignore';

export interface Group {
  id: number;
  platform: Platform;
  platformChatId: string;
  title: string;
  ownerAccountId: number | null;
  joinMode: 'auto' | 'review' | 'door';
  graceMs: number;
  reminderOffsetsMs: number[];
  intruderPolicy: IntruderPolicy;
  /** How long after a paid period starts its member may ask for a refund (`/refund`); 0: off. */
  refundWindowHours: number;
  defaultLocale: string | null;
  /** Join review (issue 17): hours a person may wait, amend and appeal; null = the REVIEW_WINDOW_HOURS default. */
  reviewWindowHours: number | null;
  /** What the scheduler does when nobody decided within the window. */
  reviewTimeoutAction: 'approve' | 'refund';
  /** Approve at once when every rule passes (no owner decision needed). */
  autoApproveWhenRulesPass: boolean;
  /** The profile rule asks for a Telegram @username. */
  requireUsername: boolean;
  /** Win-back (issue 16 part 4): days after a lapse to offer a personal coupon (0: off), and its percent off. */
  winbackDays: number;
  winbackPercent: number;
  createdAt: number;
  /** Days a referrer earns per referred payer (issue 16); null = REFERRAL_REWARD_DAYS; 0 = no referral rewards. */
  referralRewardDays: number | null;
}

export interface Plan {
  id: number;
  name: string;
  priceMinor: number;
  currency: string;
  durationDays: number;
  trialDays: number;
  /** The owner's price in Telegram Stars (whole stars), or null: derived from STARS_PER_UNIT (domain/pricing.ts). */
  starsPrice: number | null;
  /** The payment rail may renew it by itself (issue 18: Stars for 30-day plans; Stripe for 7, 30 and 365). */
  recurring: boolean;
  active: boolean;
  createdAt: number;
  groupIds: number[];
}

export interface Order {
  id: string;
  outTradeNo: string;
  accountId: number;
  planId: number;
  amountMinor: number;
  currency: string;
  provider: string;
  status: OrderStatus;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  paidAt: number | null;
  providerTxnId: string | null;
  reviewReason: string | null;
  checkoutQr: string | null;
  checkoutUrl: string | null;
  outRefundNo: string | null;
  refundReason: string | null;
  refundedAt: number | null;
  /** Issue 16: an order bought with a coupon keeps the list price and the discount (amountMinor = list − discount). */
  listPriceMinor?: number | null;
  discountMinor?: number;
  couponId?: number | null;
}

export interface Membership {
  id: number;
  accountId: number;
  groupId: number;
  status: MembershipStatus;
  expiresAt: number;
  graceUntil: number | null;
  remindedOffsetMs: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface MembershipPeriod {
  id: number;
  membershipId: number;
  groupId: number;
  orderId: string | null;
  /** Only `paid` counts as revenue or can be refunded; `trial` (a free trial) and `comp` (owner extend, 100 % code) never. */
  kind: 'paid' | 'trial' | 'comp';
  startsAt: number;
  endsAt: number;
  days: number;
  revokedAt: number | null;
}

export type JobStatus = 'queued' | 'running' | 'done' | 'dead';

export interface Job {
  id: number;
  kind: string;
  payload: unknown;
  lane: string;
  priority: number;
  status: JobStatus;
  runAt: number;
  attempts: number;
  maxAttempts: number;
  leaseUntil: number | null;
  lockedBy: string | null;
  lastError: string | null;
  dedupeKey: string | null;
  createdAt: number;
  /** Its last change (for a dead letter: when it was given up on). */
  updatedAt: number;
}

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
  reason: string;
  detail: unknown;
}

/**
 * A rail of an order (issue 21 part 5): `native` / `alipay_qr` is the order's own out_trade_no (the QR);
 * `jsapi`, `h5` and `alipay_wap` are made when a phone uses them, each under its own trade number.
 */
export type Rail = 'native' | 'jsapi' | 'h5' | 'alipay_qr' | 'alipay_wap';

export interface PaymentAttempt {
  tradeNo: string;
  orderId: string;
  rail: Rail;
  /** The JSAPI openid the prepay was made for (null for other rails). */
  payer: string | null;
  /** What re-showing the attempt needs (prepay_id, h5_url, …). */
  prepay: Record<string, string> | null;
  createdAt: number;
  closedAt: number | null;
  /** Set when this attempt's money arrived: the provider's transaction id and its success time. */
  paidTxnId: string | null;
  paidAt: number | null;
  /** A second attempt paid anyway: what it charged, and its own refund (number stored before the call). */
  amountMinor: number | null;
  outRefundNo: string | null;
  refundId: string | null;
  refundedAt: number | null;
}

/** Join review (issue 17): one application per paid order of a plan that opens a `review` group. */
export type ApplicationStatus = 'pending' | 'approved' | 'rejected' | 'timed_out';

export interface ReviewAnswer {
  questionId: number;
  question: string;
  answer: string;
}

export interface RuleVerdict {
  rule: 'blacklist' | 'payment' | 'profile';
  verdict: 'pass' | 'fail';
  reason: string;
}

export interface Application {
  id: number;
  orderId: string;
  accountId: number;
  status: ApplicationStatus;
  answers: ReviewAnswer[];
  verdicts: RuleVerdict[];
  bio: string | null;
  appeal: string | null;
  appealedAt: number | null;
  deadline: number;
  remindersSent: number;
  ownerTold: boolean;
  decidedAt: number | null;
  decidedBy: string | null;
  reason: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface BlacklistEntry {
  id: number;
  /** null: every group. */
  groupId: number | null;
  /** `user`: a platform user id (with its platform); `account`: an account id; `name`: a display-name pattern. */
  kind: 'user' | 'account' | 'name';
  platform: Platform | null;
  value: string;
  reason: string | null;
  addedBy: string;
  createdAt: number;
}

export interface GroupQuestion {
  id: number;
  groupId: number;
  text: string;
}
/** The renewal side of a membership (issue 18 part 4): one subscription a payment rail renews by itself. */
export type SubscriptionState = 'active' | 'canceled' | 'failed';

export interface Subscription {
  id: number;
  /** The rail that renews it (`stars`; Stripe's `stripe` with part 3). */
  provider: string;
  /** The rail's id for it: Stars, the first charge's telegram_payment_charge_id; Stripe, the sub_… id. */
  subscriptionId: string;
  accountId: number;
  /** It renews this plan, so it covers every group the plan opens. */
  planId: number;
  /** The order of the first payment (a renewal's invoice payload names it). */
  firstOrderId: string;
  /** What each renewal must charge; a renewal charging anything else is held for review. */
  amountMinor: number;
  currency: string;
  state: SubscriptionState;
  /** Who ended renewal: `member` (/cancel or in Telegram), `provider`, or null. */
  canceledBy: string | null;
  /** When the rail charges next (Stars: the subscription's expiration date). */
  nextChargeAt: number;
  failedRenewals: number;
  /** The next charge the "renews on …" notice was queued for (so it is sent once per charge). */
  renewalNoticeFor: number | null;
  createdAt: number;
  /**
   * When its state (or who canceled) last changed here: a report from the rail made before this is stale. Not
   * `updatedAt`, which renewals and notices bump too.
   */
  stateChangedAt: number;
  /** The rail's time of the newest report about it taken in, whether it changed anything or not; older ones are stale. */
  lastReportAt: number;
  updatedAt: number;
}

/** A free trial a person started (issue 16 part 1): one per person and plan, ever. */
export interface Trial {
  id: number;
  accountId: number;
  planId: number;
  startedAt: number;
  endsAt: number;
}

/** Where a coupon came from: an owner's `coupon add`, a `coupon batch`, or a win-back offer (personal). */
export type CouponSource = 'owner' | 'batch' | 'winback';

/**
 * A coupon (issue 16 part 2): a percent off, or a fixed amount off in one currency. A 100 % coupon (or an amount
 * equal to the price) is an access code: the order costs nothing and is confirmed at once.
 */
export interface Coupon extends CouponTerms {
  id: number;
  /** Payments honoured after the last use was taken (the money was already taken). */
  overshoot: number;
  source: CouponSource;
  createdBy: string;
  createdAt: number;
}
