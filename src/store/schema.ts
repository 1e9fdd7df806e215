// Table types for kysely. Times are epoch ms (BIGINT), money is integer minor units, booleans are 0/1
// integers so SQLite and PostgreSQL read the same values.
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface AccountsTable {
  id: Generated<number>;
  platform: string;
  platform_user_id: string;
  display_name: string | null;
  locale: string | null;
  referred_by: number | null;
  is_owner: ColumnType<number, number | undefined, number>;
  /** 0013: the platform's public handle (Telegram @username). */
  username: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: number;
  /** 0021: the person's own invite code (NULL until first asked for), when referred_by was recorded, the digest switch. */
  referral_code: ColumnType<string | null, string | null | undefined, string | null>;
  referred_at: ColumnType<number | null, number | null | undefined, number | null>;
  digest_off: ColumnType<number, number | undefined, number>;
}

export interface OwnerClaimsTable {
  id: Generated<number>;
  code_hash: string;
  created_at: number;
  expires_at: number;
  redeemed_at: number | null;
  redeemed_by: number | null;
  /** JSON array of the group ids the claim covers; NULL: every group (an operator). */
  group_ids: string | null;
}

/** The groups an owner acts on; group_id NULL: every group (an operator). */
export interface OwnerScopesTable {
  id: Generated<number>;
  account_id: number;
  group_id: number | null;
  source: string;
  created_at: number;
}

export interface GroupsTable {
  id: Generated<number>;
  platform: string;
  platform_chat_id: string;
  title: string;
  owner_account_id: number | null;
  join_mode: ColumnType<string, string | undefined, string>;
  grace_ms: number;
  reminder_offsets: ColumnType<string, string | undefined, string>;
  intruder_policy: ColumnType<string, string | undefined, string>;
  default_locale: string | null;
  /** 0013: join review settings (NULL window: the REVIEW_WINDOW_HOURS default). */
  review_window_hours: ColumnType<number | null, number | null | undefined, number | null>;
  review_timeout_action: ColumnType<string, string | undefined, string>;
  auto_approve_when_rules_pass: ColumnType<number, number | undefined, number>;
  require_username: ColumnType<number, number | undefined, number>;
  created_at: number;
  /** How long after a paid period starts its member may ask for a refund (migration 0014); 0: never. */
  refund_window_hours: ColumnType<number, number | undefined, number>;
  /** 0021: days a referrer earns per referred payer; NULL: REFERRAL_REWARD_DAYS; 0: off. */
  referral_reward_days: ColumnType<number | null, number | null | undefined, number | null>;
  /** 0020: win-back offers (issue 16 part 4); 0 days: off. */
  winback_days: ColumnType<number, number | undefined, number>;
  winback_percent: ColumnType<number, number | undefined, number>;
}

/** 0021: what became of one referral in one group (src/app/referrals.ts); unique per referrer, referred and group. */
export interface ReferralRewardsTable {
  id: Generated<number>;
  referrer_account_id: number;
  referred_account_id: number;
  group_id: number;
  order_id: string | null;
  status: string;
  reason: string | null;
  days: ColumnType<number, number | undefined, number>;
  period_id: number | null;
  clawed_back_ms: ColumnType<number, number | undefined, number>;
  created_at: number;
  updated_at: number;
}

/** 0021: an owner's digest for one local day was decided (sent, or nothing to say). */
export interface OwnerDigestsTable {
  account_id: number;
  day: string;
  sent: number;
  created_at: number;
}

/** 0020: one free trial per person and plan, ever. */
export interface TrialsTable {
  id: Generated<number>;
  account_id: number;
  plan_id: number;
  started_at: number;
  ends_at: number;
}

/** 0020: coupons and access codes (src/app/coupons.ts). */
export interface CouponsTable {
  id: Generated<number>;
  code: string;
  percent: number | null;
  amount_minor: number | null;
  currency: string | null;
  /** JSON array of plan ids; NULL: any plan. */
  plan_ids: string | null;
  max_uses: number | null;
  per_person: number | null;
  valid_from: number | null;
  valid_until: number | null;
  /** A personal coupon (win-back): only this account may use it. */
  account_id: number | null;
  uses: ColumnType<number, number | undefined, number>;
  overshoot: ColumnType<number, number | undefined, number>;
  active: ColumnType<number, number | undefined, number>;
  source: string;
  winback_key: string | null;
  created_by: string;
  created_at: number;
}

/** 0020: one row per order that redeemed a coupon. */
export interface CouponRedemptionsTable {
  id: Generated<number>;
  coupon_id: number;
  order_id: string;
  account_id: number;
  discount_minor: number;
  currency: string;
  overshoot: ColumnType<number, number | undefined, number>;
  redeemed_at: number;
}

/** A refund a member asked for within their group's refund window (migration 0014); one per account and group. */
export interface RefundRequestsTable {
  id: Generated<number>;
  account_id: number;
  group_id: number;
  order_id: string;
  amount_minor: number;
  currency: string;
  reason: string;
  requested_at: number;
}

export interface PlansTable {
  id: Generated<number>;
  name: string;
  price_minor: number;
  currency: string;
  duration_days: number;
  trial_days: ColumnType<number, number | undefined, number>;
  /** Whole Telegram Stars; NULL: derived from STARS_PER_UNIT (domain/pricing.ts). */
  stars_price: ColumnType<number | null, number | null | undefined, number | null>;
  /** 0017: 1 when the payment rail may renew the plan by itself. */
  recurring: ColumnType<number, number | undefined, number>;
  active: ColumnType<number, number | undefined, number>;
  created_at: number;
}

/** 0017-subscriptions: one row per subscription a provider renews (see src/app/subscriptions.ts). */
export interface SubscriptionsTable {
  id: Generated<number>;
  provider: string;
  subscription_id: string;
  account_id: number;
  plan_id: number;
  first_order_id: string;
  amount_minor: number;
  currency: string;
  state: string;
  canceled_by: string | null;
  next_charge_at: number;
  failed_renewals: ColumnType<number, number | undefined, number>;
  renewal_notice_for: number | null;
  created_at: number;
  updated_at: number;
  /** 0023: when state or canceled_by last changed (the stale-report guard's reference). */
  state_changed_at: ColumnType<number, number | undefined, number>;
  /** 0023: the rail's time of the newest report taken in, applied or not (reports older than it are stale). */
  last_report_at: ColumnType<number, number | undefined, number>;
}

export interface PlanGroupsTable {
  plan_id: number;
  group_id: number;
}

export interface OrdersTable {
  id: string;
  out_trade_no: string;
  account_id: number;
  plan_id: number;
  amount_minor: number;
  currency: string;
  provider: string;
  status: string;
  created_at: number;
  updated_at: number;
  expires_at: number;
  paid_at: number | null;
  provider_txn_id: string | null;
  review_reason: string | null;
  checkout_qr: string | null;
  checkout_url: string | null;
  out_refund_no: ColumnType<string | null, string | null | undefined, string | null>;
  refund_reason: ColumnType<string | null, string | null | undefined, string | null>;
  refunded_at: ColumnType<number | null, number | null | undefined, number | null>;
  /** 0020: an order bought with a coupon: the list price, the discount and the coupon. */
  list_price_minor: ColumnType<number | null, number | null | undefined, number | null>;
  discount_minor: ColumnType<number, number | undefined, number>;
  coupon_id: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface PaymentsTable {
  id: Generated<number>;
  order_id: string;
  provider: string;
  provider_txn_id: string;
  kind: string;
  amount_minor: number;
  currency: string;
  occurred_at: number;
  created_at: number;
}

export interface WebhookEventsTable {
  id: Generated<number>;
  provider: string;
  event_id: string;
  order_id: string | null;
  outcome: string;
  /** The raw body as received; '' once older than WEBHOOK_PAYLOAD_RETENTION_DAYS (app/retention.ts). */
  payload: string;
  received_at: number;
}

export interface MembershipsTable {
  id: Generated<number>;
  account_id: number;
  group_id: number;
  status: string;
  expires_at: number;
  grace_until: number | null;
  reminded_offset_ms: ColumnType<number | null, number | null | undefined, number | null>;
  created_at: number;
  updated_at: number;
  access_confirmed_at: ColumnType<number | null, number | null | undefined, number | null>;
  access_checked_at: ColumnType<number | null, number | null | undefined, number | null>;
  access_reinvites: ColumnType<number, number | undefined, number>;
}

export interface OwnerAlertsTable {
  account_id: number;
  kind: string;
  last_sent_at: number;
  coalesced: number;
}

export interface MembershipPeriodsTable {
  id: Generated<number>;
  membership_id: number;
  group_id: number;
  order_id: string | null;
  kind: string;
  starts_at: number;
  ends_at: number;
  days: number;
  created_at: number;
  revoked_at: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface JobsTable {
  id: Generated<number>;
  kind: string;
  payload: string;
  lane: string;
  priority: number;
  status: string;
  run_at: number;
  attempts: ColumnType<number, number | undefined, number>;
  max_attempts: number;
  lease_until: number | null;
  locked_by: string | null;
  last_error: string | null;
  dedupe_key: string | null;
  created_at: number;
  updated_at: number;
  /** The chat platform whose adapter the job needs (migration 0011); null: none, or it cannot be known. */
  platform: ColumnType<string | null, string | null | undefined, string | null>;
  /** The broadcast whose message this job sends (migration 0024); null for every other job. */
  broadcast_id: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  actor: string;
  action: string;
  subject_type: string;
  subject_id: string;
  reason: string;
  detail: string | null;
}

/** 0013: one application per paid order held for join review. */
export interface ReviewApplicationsTable {
  id: Generated<number>;
  order_id: string;
  account_id: number;
  status: string;
  /** JSON array of {questionId, question, answer}. */
  answers: ColumnType<string, string | undefined, string>;
  /** JSON array of {rule, verdict, reason}, in the order the rules ran. */
  verdicts: ColumnType<string, string | undefined, string>;
  bio: string | null;
  appeal: string | null;
  appealed_at: number | null;
  deadline: number;
  reminders_sent: ColumnType<number, number | undefined, number>;
  owner_told: ColumnType<number, number | undefined, number>;
  decided_at: number | null;
  decided_by: string | null;
  reason: string | null;
  created_at: number;
  updated_at: number;
}

export interface ReviewBlacklistTable {
  id: Generated<number>;
  group_id: number | null;
  kind: string;
  platform: string | null;
  value: string;
  reason: string | null;
  added_by: string;
  created_at: number;
}

export interface GroupQuestionsTable {
  id: Generated<number>;
  group_id: number;
  text: string;
  created_at: number;
}

export interface ReviewAnswersTable {
  account_id: number;
  question_id: number;
  answer: string;
  updated_at: number;
}

/** A one-time console sign-in link (migration 0022): only the SHA-256 of its token is kept. */
export interface ConsoleLoginLinksTable {
  token_hash: string;
  /** NULL: an operator link (every group). */
  account_id: number | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

/** A console session (migration 0022): the SHA-256 of the cookie's token, idle-timed by last_seen_at. */
export interface ConsoleSessionsTable {
  token_hash: string;
  account_id: number | null;
  created_at: number;
  last_seen_at: number;
  ended_at: number | null;
}

/** A console confirmation pressed (migration 0025): the hash of its one-time key. */
export interface ConsolePressesTable {
  key_hash: string;
  created_at: number;
}

/** An owner's broadcast (migration 0024): figures only, never the text. */
export interface BroadcastsTable {
  id: Generated<number>;
  group_id: number;
  actor: string;
  text_length: number;
  recipients: number;
  created_at: number;
}

export interface Database {
  broadcasts: BroadcastsTable;
  console_login_links: ConsoleLoginLinksTable;
  console_sessions: ConsoleSessionsTable;
  console_presses: ConsolePressesTable;
  review_applications: ReviewApplicationsTable;
  review_blacklist: ReviewBlacklistTable;
  group_questions: GroupQuestionsTable;
  review_answers: ReviewAnswersTable;
  accounts: AccountsTable;
  groups: GroupsTable;
  plans: PlansTable;
  plan_groups: PlanGroupsTable;
  orders: OrdersTable;
  payments: PaymentsTable;
  webhook_events: WebhookEventsTable;
  memberships: MembershipsTable;
  membership_periods: MembershipPeriodsTable;
  jobs: JobsTable;
  audit_log: AuditLogTable;
  owner_claims: OwnerClaimsTable;
  owner_scopes: OwnerScopesTable;
  dialogue_state: DialogueStateTable;
  clock_offset: ClockOffsetTable;
  owner_alerts: OwnerAlertsTable;
  group_whitelist: GroupWhitelistTable;
  roster_reports: RosterReportsTable;
  refund_requests: RefundRequestsTable;
  trials: TrialsTable;
  coupons: CouponsTable;
  coupon_redemptions: CouponRedemptionsTable;
  subscriptions: SubscriptionsTable;
  telegram_groups: TelegramGroupsTable;
  telegram_invite_links: TelegramInviteLinksTable;
  telegram_join_requests: TelegramJoinRequestsTable;
  telegram_chat_members: TelegramChatMembersTable;
  wechat_rooms: WechatRoomsTable;
  wechat_pending_adds: WechatPendingAddsTable;
  wechat_identities: WechatIdentitiesTable;
  payment_attempts: PaymentAttemptsTable;
  oauth_states: OauthStatesTable;
  payer_openids: PayerOpenidsTable;
  referral_rewards: ReferralRewardsTable;
  owner_digests: OwnerDigestsTable;
}

/** 0010-clock-offset: the playground clock's lead over real time (one row, id 1). */
export interface ClockOffsetTable {
  id: number;
  offset_ms: number;
  updated_at: number;
}

export interface DialogueStateTable {
  account_id: number;
  state: string;
  updated_at: number;
}

// ---------------------------------------------------------------- payment attempts (0015-payment-attempts)

export interface PaymentAttemptsTable {
  trade_no: string;
  order_id: string;
  rail: string;
  payer: string | null;
  /** JSON: what re-showing the attempt needs (prepay_id, h5_url, …). */
  prepay: string | null;
  created_at: number;
  closed_at: number | null;
  paid_txn_id: string | null;
  paid_at: number | null;
  amount_minor: number | null;
  out_refund_no: string | null;
  refund_id: string | null;
  refunded_at: number | null;
}

export interface OauthStatesTable {
  state: string;
  order_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface PayerOpenidsTable {
  account_id: number;
  appid: string;
  openid: string;
  updated_at: number;
}

// ---------------------------------------------------------------- roster (0009-roster)

export interface GroupWhitelistTable {
  group_id: number;
  platform_user_id: string;
  handle: string | null;
  name: string | null;
  added_by: number | null;
  added_at: number;
}

export interface RosterReportsTable {
  id: Generated<number>;
  group_id: number;
  requested_by: number | null;
  /** JSON array of `{ userId, name, handle }`. */
  intruders: string;
  fingerprint: string;
  created_at: number;
}

// ---------------------------------------------------------------- Telegram adapter tables (0004-telegram)

/** Also has dry_run_at/dry_run_by, unused since 0009-roster (SQLite cannot drop them). */
export interface TelegramGroupsTable {
  group_id: number;
  bot_status: string;
  missing_rights: string;
  updated_at: number;
}

export interface TelegramInviteLinksTable {
  id: Generated<number>;
  group_id: number;
  membership_id: number;
  user_id: string;
  invite_link: string;
  name: string;
  expires_at: number;
  created_at: number;
  used_at: number | null;
  revoked_at: number | null;
}

export interface TelegramJoinRequestsTable {
  group_id: number;
  user_id: string;
  user_chat_id: string | null;
  invite_link: string | null;
  status: string;
  requested_at: number;
  decided_at: number | null;
  /** 0018: the join-request query (guard bots) this request is answered through, and when it lapses. */
  query_id: string | null;
  query_expires_at: number | null;
}

export interface TelegramChatMembersTable {
  group_id: number;
  user_id: string;
  display_name: string | null;
  is_bot: number;
  status: string;
  joined_at: number | null;
  intruder_state: string | null;
  updated_at: number;
}

// ---------------------------------------------------------------- WeChat adapter tables (0005-wechat)

/** Also has confirmed_report_id/by/at, unused since 0009-roster (SQLite cannot drop them). */
export interface WechatRoomsTable {
  group_id: number;
  room_id: string;
  bound_by: number | null;
  bound_at: number;
}

export interface WechatPendingAddsTable {
  membership_id: number;
  group_id: number;
  account_id: number;
  contact_id: string;
  room_id: string;
  mode: string;
  state: string;
  requested_at: number;
  deadline_at: number;
  resolved_at: number | null;
  attempts: number;
}

export interface WechatIdentitiesTable {
  account_id: number;
  handle: string | null;
  alias_tag: string | null;
  name: string | null;
  updated_at: number;
}

export type AccountRow = Selectable<AccountsTable>;
export type GroupRow = Selectable<GroupsTable>;
export type NewGroupRow = Insertable<GroupsTable>;
export type PlanRow = Selectable<PlansTable>;
export type OrderRow = Selectable<OrdersTable>;
export type NewOrderRow = Insertable<OrdersTable>;
export type OrderUpdate = Updateable<OrdersTable>;
export type MembershipRow = Selectable<MembershipsTable>;
export type MembershipPeriodRow = Selectable<MembershipPeriodsTable>;
export type JobRow = Selectable<JobsTable>;
export type AuditRow = Selectable<AuditLogTable>;
export type ReviewApplicationRow = Selectable<ReviewApplicationsTable>;
export type BlacklistRow = Selectable<ReviewBlacklistTable>;
