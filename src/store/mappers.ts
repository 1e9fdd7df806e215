// Row (snake_case, SQL types) → app model (camelCase). One place so every repository reads alike.
import type { Account, AuditEntry, Group, Job, JobStatus, Membership, MembershipPeriod, Order, Platform } from '../app/model.ts';
import type { MembershipStatus } from '../domain/membership.ts';
import type { OrderStatus } from '../domain/order.ts';
import type { AccountRow, AuditRow, GroupRow, JobRow, MembershipPeriodRow, MembershipRow, OrderRow } from './schema.ts';

export const toAccount = (r: AccountRow): Account => ({
  id: r.id,
  platform: r.platform as Platform,
  platformUserId: r.platform_user_id,
  displayName: r.display_name,
  locale: r.locale,
  referredBy: r.referred_by,
  isOwner: r.is_owner === 1,
  username: r.username,
  createdAt: r.created_at,
  referralCode: r.referral_code,
  referredAt: r.referred_at === null ? null : Number(r.referred_at),
  digestOff: r.digest_off === 1,
});

export const toGroup = (r: GroupRow): Group => ({
  id: r.id,
  platform: r.platform as Platform,
  platformChatId: r.platform_chat_id,
  title: r.title,
  ownerAccountId: r.owner_account_id,
  joinMode: r.join_mode as Group['joinMode'],
  graceMs: r.grace_ms,
  reminderOffsetsMs: JSON.parse(r.reminder_offsets) as number[],
  intruderPolicy: r.intruder_policy as Group['intruderPolicy'],
  refundWindowHours: Number(r.refund_window_hours),
  defaultLocale: r.default_locale,
  reviewWindowHours: r.review_window_hours,
  reviewTimeoutAction: r.review_timeout_action as Group['reviewTimeoutAction'],
  autoApproveWhenRulesPass: r.auto_approve_when_rules_pass === 1,
  requireUsername: r.require_username === 1,
  winbackDays: Number(r.winback_days),
  winbackPercent: Number(r.winback_percent),
  createdAt: r.created_at,
  referralRewardDays: r.referral_reward_days === null ? null : Number(r.referral_reward_days),
});

export const toOrder = (r: OrderRow): Order => ({
  id: r.id,
  outTradeNo: r.out_trade_no,
  accountId: r.account_id,
  planId: r.plan_id,
  amountMinor: r.amount_minor,
  currency: r.currency,
  provider: r.provider,
  status: r.status as OrderStatus,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  expiresAt: r.expires_at,
  paidAt: r.paid_at,
  providerTxnId: r.provider_txn_id,
  reviewReason: r.review_reason,
  checkoutQr: r.checkout_qr,
  checkoutUrl: r.checkout_url,
  outRefundNo: r.out_refund_no,
  refundReason: r.refund_reason,
  refundedAt: r.refunded_at,
  listPriceMinor: r.list_price_minor === null ? null : Number(r.list_price_minor),
  discountMinor: Number(r.discount_minor),
  couponId: r.coupon_id,
});

export const toMembership = (r: MembershipRow): Membership => ({
  id: r.id,
  accountId: r.account_id,
  groupId: r.group_id,
  status: r.status as MembershipStatus,
  expiresAt: r.expires_at,
  graceUntil: r.grace_until,
  remindedOffsetMs: r.reminded_offset_ms,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const toPeriod = (r: MembershipPeriodRow): MembershipPeriod => ({
  id: r.id,
  membershipId: r.membership_id,
  groupId: r.group_id,
  orderId: r.order_id,
  kind: r.kind as MembershipPeriod['kind'],
  startsAt: r.starts_at,
  endsAt: r.ends_at,
  days: r.days,
  revokedAt: r.revoked_at,
});

export const toJob = (r: JobRow): Job => ({
  id: r.id,
  kind: r.kind,
  payload: JSON.parse(r.payload) as unknown,
  lane: r.lane,
  priority: r.priority,
  status: r.status as JobStatus,
  runAt: r.run_at,
  attempts: r.attempts,
  maxAttempts: r.max_attempts,
  leaseUntil: r.lease_until,
  lockedBy: r.locked_by,
  lastError: r.last_error,
  dedupeKey: r.dedupe_key,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const toAudit = (r: AuditRow): AuditEntry => ({
  id: r.id,
  at: r.at,
  actor: r.actor,
  action: r.action,
  subjectType: r.subject_type,
  subjectId: r.subject_id,
  reason: r.reason,
  detail: r.detail === null ? null : (JSON.parse(r.detail) as unknown),
});
