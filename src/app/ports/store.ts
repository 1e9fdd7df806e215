// The store port: every table the use cases read and write, one repo per concern, and transactions.
// src/store/ implements it over kysely. The chat adapters' own tables are not here: they sit behind
// bots/telegram/store-port.ts and bots/wechat/store-port.ts.
import type { MembershipStatus } from '../../domain/membership.ts';
import type { OrderStatus } from '../../domain/order.ts';
import type {
  AuditEntry,
  Account,
  Application,
  Coupon,
  CouponSource,
  ApplicationStatus,
  BlacklistEntry,
  Group,
  GroupQuestion,
  IntruderPolicy,
  Job,
  JobStatus,
  Membership,
  MembershipPeriod,
  Order,
  PaymentAttempt,
  Plan,
  Platform,
  Rail,
  ReviewAnswer,
  RuleVerdict,
  Subscription,
  Trial,
} from '../model.ts';
import type { Lane } from './chat.ts';
import type { Checkout } from './payments.ts';

export interface NewJob {
  kind: string;
  payload: unknown;
  lane: Lane;
  runAt?: number;
  /** Same key = same logical job: enqueued at most once, ever. */
  dedupeKey?: string;
  /** The broadcast this job sends a message of (src/app/broadcast.ts): its progress is counted by job status. */
  broadcastId?: number;
  maxAttempts?: number;
  /**
   * What the job is about, when that decides which chat platform's adapter it needs: the store records
   * that platform (the group's, the membership's group's, the account's) in the same insert, and a worker
   * claims the job only where that adapter runs. Absent: any worker claims it.
   */
  about?: { membershipId: number } | { accountId: number } | { groupId: number };
}

export interface AccessCheckQuery {
  now: number;
  /** Only memberships of groups on these platforms (the ones with a running adapter). */
  platforms: Platform[];
  /** Lapsed rows whose status changed after this wait (their own removal job goes first). */
  settledBefore: number;
  /** A row looked at (or, if active, changed) before this may be looked at (again). */
  recheckBefore: number;
  maxReinvites: number;
  limit: number;
}

export interface AccessCheck {
  membershipId: number;
  accountId: number;
  groupId: number;
  status: MembershipStatus;
  expiresAt: number;
  updatedAt: number;
  /** Last time the person was known to be in the group (null: never, or removed since). */
  confirmedAt: number | null;
  /** Fresh invites (or repeated removals) the sweep queued since the person was last seen in (or removed). */
  reinvites: number;
  platform: Platform;
  chatId: string;
  userId: string;
}

/** The access facts of one membership, as the sweep and the invite and removal jobs keep them. */
export interface MembershipAccess {
  /** Last time the person was known to be in the group (null: never, or removed since). */
  confirmedAt: number | null;
  /** Last time the sweep looked at it or our removal put the person out (null: neither, or put back). */
  checkedAt: number | null;
  reinvites: number;
}

export interface AccessPatch {
  confirmedAt?: number | null;
  checkedAt?: number | null;
  reinvites?: number | 'increment';
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface MembershipView extends Membership {
  platform: Platform;
  platformUserId: string;
  displayName: string | null;
}

/** The groups an owner acts on: every group (an operator), or these. */
export interface OwnerScope {
  all: boolean;
  groupIds: number[];
}

/** Someone an owner lets stay in a group without a paid membership. */
export interface WhitelistEntry {
  groupId: number;
  userId: string;
  /** A second handle on the person (WeChat's WeChat ID), which survives a contact id change. */
  handle: string | null;
  name: string | null;
  addedBy: number | null;
  addedAt: number;
}

/** One person on a dry-run intruder report, numbered from 1 in the order stored. */
export interface ReportedIntruder {
  userId: string;
  name: string;
  handle: string | null;
}

/** A dry-run intruder report: who would be removed, as shown to an owner (requestedBy) or sent by the roster audit (null). */
export interface RosterReport {
  id: number;
  groupId: number;
  requestedBy: number | null;
  intruders: ReportedIntruder[];
  fingerprint: string;
  createdAt: number;
}

/** The group settings `updateGroupSettings` (src/app/group-settings.ts) writes. */
export type GroupSettingsPatch = Partial<
  Pick<
    Group,
    | 'graceMs'
    | 'reminderOffsetsMs'
    | 'intruderPolicy'
    | 'refundWindowHours'
    | 'joinMode'
    | 'reviewWindowHours'
    | 'reviewTimeoutAction'
    | 'autoApproveWhenRulesPass'
    | 'requireUsername'
    | 'referralRewardDays'
    | 'winbackDays'
    | 'winbackPercent'
  >
>;

/** A refund a member asked for within their group's refund window: one per account and group. */
export interface MemberRefundRequest {
  id: number;
  accountId: number;
  groupId: number;
  orderId: string;
  amountMinor: number;
  currency: string;
  reason: string;
  requestedAt: number;
}

export type OrderPatch = Partial<Pick<Order, 'paidAt' | 'providerTxnId' | 'reviewReason' | 'outRefundNo' | 'refundReason' | 'refundedAt'>>;

export interface ApplicationPatch {
  answers?: ReviewAnswer[];
  verdicts?: RuleVerdict[];
  bio?: string | null;
  ownerTold?: boolean;
}

/** Applications, counted for the stats (issue 17 part 7): decisions carry their time to decision. */
export interface ReviewCounts {
  applications: number;
  pending: number;
  approved: number;
  rejected: number;
  timedOut: number;
  /** Mean milliseconds from application to decision over decided ones; null when none was decided. */
  meanDecisionMs: number | null;
}

/** What became of one referral in one group (src/app/referrals.ts). */
export type ReferralRewardStatus = 'booked' | 'canceled' | 'skipped' | 'clawed_back';

export interface ReferralReward {
  id: number;
  referrerId: number;
  referredId: number;
  groupId: number;
  /** The referred person's first paid order in the group. */
  orderId: string | null;
  status: ReferralRewardStatus;
  /** Why it was skipped or canceled (self, cycle, existing_member, referrer_not_member, …). */
  reason: string | null;
  days: number;
  /** The referrer's comp period the reward added (booked rewards). */
  periodId: number | null;
  /** What a clawback took back (the reward's unused part). */
  clawedBackMs: number;
  createdAt: number;
  updatedAt: number;
}

/** Referral rewards counted (GET /api/stats, /metrics): one definition, one statement. */
export interface ReferralCounts {
  booked: number;
  /** Days the booked rewards gave. */
  days: number;
  canceled: number;
  skipped: number;
  clawedBack: number;
}

export interface TopReferrer {
  accountId: number;
  displayName: string | null;
  platform: string;
  platformUserId: string;
  /** People whose referral earned a booked reward. */
  referred: number;
  days: number;
}

/** A console sign-in link as stored (issue 15): the token itself is never kept. */
export interface ConsoleLink {
  /** null: an operator link (every group). */
  accountId: number | null;
  expiresAt: number;
  usedAt: number | null;
}

export interface ConsoleSessionRow {
  accountId: number | null;
  createdAt: number;
  lastSeenAt: number;
  endedAt: number | null;
}

/** An owner's broadcast as recorded (issue 15 part 6): figures only, the text itself is not kept. */
export interface Broadcast {
  id: number;
  groupId: number;
  /** actorLabel of who sent it. */
  actor: string;
  textLength: number;
  /** Members it was queued for (one notify job each). */
  recipients: number;
  createdAt: number;
}

/** A broadcast's jobs by outcome: sent (done), waiting (queued or running, retries included), failed (dead letters). */
export interface BroadcastProgress {
  sent: number;
  waiting: number;
  failed: number;
}

/** Who a broadcast goes to: a membership with access and the language its account reads. */
export interface BroadcastRecipient {
  membershipId: number;
  accountId: number;
  locale: string | null;
}

export interface Repos {
  /** Owners' broadcasts and their progress (src/app/broadcast.ts). */
  broadcasts: {
    insert(b: Omit<Broadcast, 'id' | 'createdAt'>, now: number): Promise<Broadcast>;
    get(id: number): Promise<Broadcast | null>;
    /** Newest first; with `groupIds`, only broadcasts to those groups. */
    listRecent(q: { groupIds?: number[]; limit: number }): Promise<Broadcast[]>;
    /** The jobs of these broadcasts counted by status, in one statement (src/app/broadcast.ts reads them as progress). */
    jobCounts(ids: number[]): Promise<Array<{ broadcastId: number; status: JobStatus; count: number }>>;
    /** Memberships of the group in these statuses with their account's locale, by membership id. */
    recipients(groupId: number, statuses: readonly MembershipStatus[]): Promise<BroadcastRecipient[]>;
    /** How many memberships of each of these groups are in these statuses (groups with none are left out), in one statement. */
    recipientCounts(groupIds: number[], statuses: readonly MembershipStatus[]): Promise<Array<{ groupId: number; count: number }>>;
  };
  /** The owner console's sign-in links and sessions, keyed by the SHA-256 of their secret (src/app/console-auth.ts). */
  console: {
    insertLink(l: { tokenHash: string; accountId: number | null; expiresAt: number }, now: number): Promise<void>;
    getLink(tokenHash: string): Promise<ConsoleLink | null>;
    /** Conditional: true only for the one call that took an unused, unexpired link. */
    useLink(tokenHash: string, now: number): Promise<boolean>;
    insertSession(s: { tokenHash: string; accountId: number | null }, now: number): Promise<void>;
    getSession(tokenHash: string): Promise<ConsoleSessionRow | null>;
    touchSession(tokenHash: string, now: number): Promise<void>;
    /** False when the session had ended already (or never existed). */
    endSession(tokenHash: string, now: number): Promise<boolean>;
    /** Ends every open session (or one account's; null: the operator sessions); returns how many. */
    endSessions(q: { accountId?: number | null }, now: number): Promise<number>;
    /** Records a confirmation's key; true only for the one call that recorded it. Drops keys older than `forgetBefore`. */
    press(keyHash: string, now: number, forgetBefore: number): Promise<boolean>;
    /** Forgets a key whose action failed, so pressing again carries it out. */
    unpress(keyHash: string): Promise<void>;
  };
  accounts: {
    /** Creates the account on first contact; later calls refresh display name and locale when given, and the username when not undefined. */
    upsert(
      a: { platform: Platform; platformUserId: string; displayName?: string | null; locale?: string | null; username?: string | null },
      now: number,
    ): Promise<Account>;
    get(id: number): Promise<Account | null>;
    find(platform: Platform, platformUserId: string): Promise<Account | null>;
    setOwner(accountId: number): Promise<void>;
    listOwners(): Promise<Account[]>;
  };
  ownerClaims: {
    /** `groupIds` null: the claim covers every group (an operator). */
    insert(codeHash: string, now: number, expiresAt: number, groupIds: number[] | null): Promise<void>;
    get(codeHash: string): Promise<{ expiresAt: number; redeemedAt: number | null; groupIds: number[] | null } | null>;
    /** Conditional: true only for the call that took an unredeemed, unexpired code. */
    redeem(codeHash: string, accountId: number, now: number): Promise<boolean>;
  };
  ownerScopes: {
    /** Adds groups to an owner's scope, or every group (null); what is already there stays. */
    grant(accountId: number, groupIds: number[] | null, source: 'claim', now: number): Promise<void>;
    /** Every group, or the groups granted by claims plus those the owner bound in chat. */
    get(accountId: number): Promise<OwnerScope>;
  };
  groups: {
    insert(
      g: { platform: Platform; platformChatId: string; title: string; ownerAccountId: number | null; graceMs: number; reminderOffsetsMs: number[] },
      now: number,
    ): Promise<Group>;
    get(id: number): Promise<Group | null>;
    findByChat(platform: Platform, platformChatId: string): Promise<Group | null>;
    list(): Promise<Group[]>;
    /** Writes the settings given (the others stay); null when there is no such group. */
    updateSettings(id: number, patch: GroupSettingsPatch): Promise<Group | null>;
  };
  /** Join review (issue 17): applications, the blacklist, the owner's questions and people's answers. */
  review: {
    /** Null (nothing written) when the order already has its application. */
    insertApplication(
      a: { orderId: string; accountId: number; answers: ReviewAnswer[]; verdicts: RuleVerdict[]; deadline: number },
      now: number,
    ): Promise<Application | null>;
    getApplication(id: number): Promise<Application | null>;
    findByOrder(orderId: string): Promise<Application | null>;
    /** Newest first; with `groupIds`, only applications whose order's plan opens one of them. */
    listApplications(q: { status?: ApplicationStatus; accountId?: number; groupIds?: number[]; limit: number }): Promise<Application[]>;
    /** Conditional: moves the application only from `pending`; true for the one call that decided it. */
    decide(id: number, to: Exclude<ApplicationStatus, 'pending'>, d: { decidedBy: string; reason: string | null }, now: number): Promise<boolean>;
    update(id: number, patch: ApplicationPatch, now: number): Promise<void>;
    /** Conditional: only a pending application with no appeal yet; true when this one was stored. */
    setAppeal(id: number, text: string, now: number): Promise<boolean>;
    /** Pending applications whose deadline has passed, oldest deadline first. */
    dueForTimeout(now: number, limit: number): Promise<Application[]>;
    /** Pending applications created at or before `createdBefore` that had fewer than `n` reminders, deadline still ahead. */
    dueForReminder(q: { n: number; createdBefore: number; now: number; limit: number }): Promise<Application[]>;
    /** Conditional: reminders_sent from n-1 to n; true for the one call that took it. */
    markReminded(id: number, n: number): Promise<boolean>;
    counts(groupIds?: number[]): Promise<ReviewCounts>;
    addBlacklist(e: Omit<BlacklistEntry, 'id' | 'createdAt'>, now: number): Promise<BlacklistEntry>;
    removeBlacklist(id: number): Promise<boolean>;
    getBlacklist(id: number): Promise<BlacklistEntry | null>;
    /** Entries of these groups, and (with `global`) the every-group ones. */
    listBlacklist(q: { groupIds?: number[]; global: boolean }): Promise<BlacklistEntry[]>;
    addQuestion(groupId: number, text: string, now: number): Promise<GroupQuestion>;
    removeQuestion(id: number): Promise<boolean>;
    listQuestions(groupId: number): Promise<GroupQuestion[]>;
    setAnswer(accountId: number, questionId: number, answer: string, now: number): Promise<void>;
    /** The person's answers to these questions (by question id). */
    answers(accountId: number, questionIds: number[]): Promise<Map<number, string>>;
  };
  roster: {
    /** False when the person was already whitelisted in that group. */
    addToWhitelist(e: Omit<WhitelistEntry, 'addedAt'>, now: number): Promise<boolean>;
    /** False when the person was not whitelisted. */
    removeFromWhitelist(groupId: number, userId: string): Promise<boolean>;
    listWhitelist(groupId: number): Promise<WhitelistEntry[]>;
    /** Sets the group's intruder policy (app/roster.ts decides when `remove` may be set). */
    setIntruderPolicy(groupId: number, policy: IntruderPolicy): Promise<void>;
    insertReport(r: { groupId: number; requestedBy: number | null; intruders: ReportedIntruder[]; fingerprint: string }, now: number): Promise<RosterReport>;
    /** The group's newest report; with `requestedBy`, the newest that owner asked for. */
    latestReport(groupId: number, opts?: { requestedBy?: number }): Promise<RosterReport | null>;
    getReport(id: number): Promise<RosterReport | null>;
  };
  plans: {
    insert(
      p: {
        name: string;
        priceMinor: number;
        currency: string;
        durationDays: number;
        groupIds: number[];
        starsPrice?: number | null;
        recurring?: boolean;
        trialDays?: number;
      },
      now: number,
    ): Promise<Plan>;
    get(id: number): Promise<Plan | null>;
    /** The plan and its groups (in group id order) in one read: what a payment bought, on the confirm path. */
    getWithGroups(id: number): Promise<{ plan: Plan; groups: Group[] } | null>;
    list(opts?: { groupId?: number; activeOnly?: boolean }): Promise<Plan[]>;
    setActive(id: number, active: boolean): Promise<void>;
    /** The price new orders copy (orders already made keep theirs): the list price and the Stars price (null: derived). */
    setPrice(id: number, p: { priceMinor: number; starsPrice: number | null }): Promise<void>;
  };
  orders: {
    insert(o: Order): Promise<void>;
    get(id: string): Promise<Order | null>;
    findByOutTradeNo(outTradeNo: string): Promise<Order | null>;
    /** Reads the order and, on PostgreSQL, locks its row until the transaction ends (refunds of one order apply one at a time). */
    getForUpdate(id: string): Promise<Order | null>;
    /** Conditional update: moves the order only if its status is one of `from`. True when it moved. */
    transition(id: string, from: OrderStatus[], to: OrderStatus, patch: OrderPatch, now: number): Promise<boolean>;
    /**
     * A payment's common case in one statement: the order named by `outTradeNo` moves from one of `from` to
     * `paid` only if it is this provider's, its amount and currency are the ones paid and no refund is booked
     * against it; returns the order as it now is (on PostgreSQL its row stays locked). Null when any of that
     * does not hold, the order has phone attempts (issue 21), or there is no such order: nothing changed, and the caller
     * looks closer.
     */
    payIfExpected(
      q: { outTradeNo: string; provider: string; from: OrderStatus[]; amountMinor: number; currency: string },
      patch: { paidAt: number; providerTxnId: string },
      now: number,
    ): Promise<Order | null>;
    setCheckout(id: string, c: Checkout, now: number): Promise<void>;
    /** pending → expired past their window; returns the orders that moved. */
    expireDue(now: number, limit: number): Promise<Order[]>;
    toReconcile(q: { pendingCreatedBefore: number; expiredAfter: number; limit: number }): Promise<Order[]>;
    /** Newest first. `groupIds`: orders whose plan opens one of them; `createdFrom`/`createdTo`: created in [from, to). */
    page(q: {
      status?: OrderStatus;
      accountId?: number;
      after?: { createdAt: number; id: string };
      groupIds?: number[];
      provider?: string;
      createdFrom?: number;
      createdTo?: number;
      limit: number;
    }): Promise<Order[]>;
  };
  /** Issue 21: the rails an order was offered on beyond its own QR (see app/phone-pay.ts). */
  attempts: {
    /** False when the trade number is taken already. */
    insertIfAbsent(a: { tradeNo: string; orderId: string; rail: Rail; payer: string | null }, now: number): Promise<boolean>;
    get(tradeNo: string): Promise<PaymentAttempt | null>;
    listForOrder(orderId: string): Promise<PaymentAttempt[]>;
    setPrepay(tradeNo: string, prepay: Record<string, string>): Promise<void>;
    close(tradeNo: string, now: number): Promise<void>;
    /** Conditional: true only for the first report of this attempt's money. */
    markPaid(tradeNo: string, p: { txnId: string; paidAt: number; amountMinor: number; outRefundNo: string | null }): Promise<boolean>;
    /** Conditional: true only for the first confirmation of a second payment's refund. */
    markRefunded(tradeNo: string, refundId: string, now: number): Promise<boolean>;
  };
  /** Official Account web authorization: single-use states, and the openid an account pays with per appid. */
  oauth: {
    insertState(s: { state: string; orderId: string; expiresAt: number }, now: number): Promise<void>;
    getState(state: string): Promise<{ orderId: string; expiresAt: number; usedAt: number | null } | null>;
    /** Conditional: true only for the one request that used an unused, unexpired state of this order. */
    consumeState(state: string, orderId: string, now: number): Promise<boolean>;
    getOpenid(accountId: number, appid: string): Promise<string | null>;
    setOpenid(accountId: number, appid: string, openid: string, now: number): Promise<void>;
  };
  payments: {
    /** False when (provider, providerTxnId, kind) is already in the ledger. */
    insertIfAbsent(
      p: { orderId: string; provider: string; providerTxnId: string; kind: 'charge' | 'refund'; amountMinor: number; currency: string; occurredAt: number },
      now: number,
    ): Promise<boolean>;
    listForOrder(
      orderId: string,
    ): Promise<Array<{ kind: 'charge' | 'refund'; providerTxnId: string; amountMinor: number; currency: string; occurredAt: number }>>;
    /** The refunds booked per order (sum of its `refund` rows); orders with none are absent from the map. */
    refundedByOrder(orderIds: string[]): Promise<Map<string, number>>;
    /** The id of the order whose charge the ledger keys (provider, providerTxnId, 'charge'); null when none. */
    orderOfCharge(provider: string, providerTxnId: string): Promise<string | null>;
  };
  webhookEvents: {
    /** Takes the idempotency slot; false when (provider, eventId) was already recorded. */
    insertIfAbsent(e: { provider: string; eventId: string; orderId: string | null; outcome: string; payload: string }, now: number): Promise<boolean>;
    setOutcome(provider: string, eventId: string, outcome: string, orderId: string | null): Promise<void>;
    /** Empties the raw body of at most `limit` events received before `before`, oldest first; returns how many. */
    purgePayloads(before: number, limit: number): Promise<number>;
  };
  memberships: {
    /** Reads the row and, on PostgreSQL, locks it until the transaction ends. */
    getForUpdate(accountId: number, groupId: number): Promise<Membership | null>;
    get(id: number): Promise<Membership | null>;
    insert(m: { accountId: number; groupId: number; status: MembershipStatus; expiresAt: number }, now: number): Promise<Membership>;
    /** Inserts the person's first membership of the group in the state given; null (and nothing changed) when the row exists. */
    insertIfAbsent(m: { accountId: number; groupId: number; status: MembershipStatus; expiresAt: number }, now: number): Promise<Membership | null>;
    update(id: number, patch: { status: MembershipStatus; expiresAt: number; graceUntil: number | null }, now: number): Promise<void>;
    list(filter: { groupId?: number; status?: MembershipStatus; accountId?: number }): Promise<MembershipView[]>;
    /**
     * active → grace for rows whose paid time is over; sets grace_until from the group's grace, and a row
     * whose grace is over too goes straight to expired (one write). Returns the rows that moved, as they are now.
     */
    /** `subscriberMinGraceMs`: the least grace a membership an active subscription renews gets (see RENEWAL_SETTLE_MS). */
    lapseDue(now: number, limit: number, subscriberMinGraceMs?: number): Promise<Membership[]>;
    /** grace → expired for rows whose grace is over; returns the rows that moved. */
    expireDue(now: number, limit: number): Promise<Membership[]>;
    /** `renewalSettleMs` (at expiry, offset 0): how late an active subscription's renewal may be before the usual reminder goes. */
    remindersDue(q: {
      groupId: number;
      statuses: MembershipStatus[];
      fromMs: number;
      toMs: number;
      offsetMs: number;
      limit: number;
      renewalSettleMs?: number;
    }): Promise<Membership[]>;
    markReminded(ids: number[], offsetMs: number, now: number): Promise<void>;
    page(q: {
      groupId?: number;
      status?: MembershipStatus;
      accountId?: number;
      expiresBefore?: number;
      /** Expiry at or after this instant. */
      expiresFrom?: number;
      /** Soonest expiry first (one page; paging with afterId follows id order). */
      soonestFirst?: boolean;
      /** Only these groups (an owner's scope). */
      groupIds?: number[];
      /** Display name or platform user id containing this text (any case). */
      search?: string;
      afterId?: number;
      limit: number;
    }): Promise<MembershipView[]>;
    /** The access sweep's batch: stamps the rows looked at now, so another instance takes other rows. */
    claimAccessChecks(q: AccessCheckQuery): Promise<AccessCheck[]>;
    /** Records access facts (seen in the group, looked at, fresh invites sent); never moves updated_at. */
    setAccess(id: number, patch: AccessPatch): Promise<void>;
    /** The access facts of a membership; null when there is no such membership. */
    getAccess(id: number): Promise<MembershipAccess | null>;
  };
  ownerAlerts: {
    /** At most one alert of `kind` per owner per `windowMs`: whether this one goes out, and how many were held back since the last. */
    take(accountId: number, kind: string, now: number, windowMs: number): Promise<{ send: boolean; coalesced: number }>;
  };
  periods: {
    /** A period with no order (a comp: owner extend, referral reward); returns its id. */
    insert(p: Omit<MembershipPeriod, 'id' | 'revokedAt'>, now: number): Promise<number>;
    /** False when this (order, group) already has its period: the third exactly-once guard. */
    insertIfAbsent(p: Omit<MembershipPeriod, 'id' | 'revokedAt'>, now: number): Promise<boolean>;
    listForMembership(membershipId: number): Promise<MembershipPeriod[]>;
    listForOrder(orderId: string): Promise<MembershipPeriod[]>;
    /** Marks a period revoked (kept for the ledger); false if it already was. */
    revoke(id: number, now: number): Promise<boolean>;
    /** Moves an unrevoked period to a new span (a refund of an earlier stacked period pulls later ones forward). */
    reschedule(id: number, startsAt: number, endsAt: number): Promise<void>;
  };
  jobs: {
    enqueue(jobs: NewJob[], now: number): Promise<void>;
    /** Claims up to `limit` due jobs (queued and due, or running with an expired lease), best priority first. */
    /**
     * Due jobs, leased to `workerId`; with `platforms`, only jobs for those chat platforms or for none (see
     * NewJob.about); with `lanes`, only jobs of those lanes (the worker's slots kept for invites).
     */
    claim(workerId: string, now: number, leaseMs: number, limit: number, platforms?: readonly Platform[], lanes?: readonly Lane[]): Promise<Job[]>;
    /**
     * How many jobs (at most `limit`) are queued and due with a better priority (a lower number) than
     * `belowPriority`, for `platforms` as in claim. The worker asks it, with its pool full, to know how
     * many lower-lane jobs that have made no call yet should give their slot back.
     */
    countDueBetter(now: number, belowPriority: number, limit: number, platforms?: readonly Platform[]): Promise<number>;
    /** Queued jobs for chat platforms not in `configured` (no adapter for them here), by platform. */
    waitingForAdapter(configured: readonly Platform[]): Promise<Array<{ platform: string; count: number }>>;
    /** Each returns false when the lease was lost (another worker took the job over). */
    complete(id: number, workerId: string, now: number): Promise<boolean>;
    /** Pushes a running job's lease out while its handler is still working. */
    extendLease(id: number, workerId: string, until: number): Promise<boolean>;
    retry(id: number, workerId: string, runAt: number, error: string, countAttempt: boolean, now: number): Promise<boolean>;
    bury(id: number, workerId: string, error: string, now: number): Promise<boolean>;
    list(filter: { status?: JobStatus; kind?: string }): Promise<Job[]>;
    countByStatus(): Promise<Array<{ status: JobStatus; lane: string; count: number }>>;
    get(id: number): Promise<Job | null>;
    /** Dead letters (jobs given up on), newest first, keyset-paged on id. */
    listDead(q: { beforeId?: number; limit: number }): Promise<Job[]>;
    /** Jobs by lane, kind and status (the console's System page; sums to countByStatus). */
    countByKind(): Promise<Array<{ lane: string; kind: string; status: JobStatus; count: number }>>;
    /** A dead letter queued again, due now, attempts from zero; true only for the one call that re-queued it. */
    requeueDead(id: number, now: number): Promise<boolean>;
  };
  audit: {
    insert(e: Omit<AuditEntry, 'id'>): Promise<void>;
    insertMany(e: Omit<AuditEntry, 'id'>[]): Promise<void>;
    list(filter: { subjectType?: string; subjectId?: string }): Promise<AuditEntry[]>;
    /** Newest first, keyset-paged on id. `groupIds`: only entries about those groups, their plans, memberships and orders. */
    page(q: { subjectType?: string; subjectId?: string; action?: string; beforeId?: number; groupIds?: number[]; limit: number }): Promise<AuditEntry[]>;
  };
  clock: {
    /** How far the playground's clock runs ahead of real time (0 when it never travelled or was reset). */
    offset(): Promise<number>;
    setOffset(offsetMs: number, now: number): Promise<void>;
  };
  dialogue: {
    get(accountId: number): Promise<unknown>;
    set(accountId: number, state: unknown, now: number): Promise<void>;
  };
  /** Subscriptions a payment rail renews by itself (issue 18 part 4; src/app/subscriptions.ts). */
  subscriptions: {
    /** Null when the provider's subscription id (or its first order) is recorded already: nothing is written. */
    insertIfAbsent(
      s: Pick<Subscription, 'provider' | 'subscriptionId' | 'accountId' | 'planId' | 'firstOrderId' | 'amountMinor' | 'currency' | 'nextChargeAt'>,
      now: number,
    ): Promise<Subscription | null>;
    get(id: number): Promise<Subscription | null>;
    findByFirstOrder(orderId: string): Promise<Subscription | null>;
    listForAccount(accountId: number): Promise<Subscription[]>;
    update(
      id: number,
      patch: Partial<Pick<Subscription, 'state' | 'canceledBy' | 'nextChargeAt' | 'failedRenewals' | 'renewalNoticeFor'>>,
      now: number,
    ): Promise<void>;
    /**
     * A report from the rail made at `at` is taken in: the newest report time becomes `at`. False (nothing written)
     * when a newer report was taken in already.
     */
    noteReport(id: number, at: number): Promise<boolean>;
    /** Active subscriptions charging in (fromMs, toMs] whose "renews on …" notice was not queued for that charge. */
    noticesDue(q: { fromMs: number; toMs: number; limit: number }): Promise<Subscription[]>;
    /** People with access an active subscription renews, and the failed renewals counted (in those groups). */
    stats(groupIds?: number[]): Promise<{ autoRenewing: number; failedRenewals: number }>;
  };
  /** Free trials (issue 16 part 1; src/app/trials.ts). */
  trials: {
    /** Null (nothing written) when this person already had a trial of this plan. */
    insertIfAbsent(t: Omit<Trial, 'id'>): Promise<Trial | null>;
    find(accountId: number, planId: number): Promise<Trial | null>;
    listForAccount(accountId: number): Promise<Trial[]>;
    /** Trials started in [from, to) (plans opening one of `groupIds`), and how many of those people later paid for that plan. */
    counts(from?: number, to?: number, groupIds?: number[]): Promise<{ started: number; converted: number }>;
  };
  /** Coupons and access codes (issue 16 parts 2 and 4; src/app/coupons.ts). */
  coupons: {
    /** Null (nothing written) when the code, or the win-back key, is taken already. */
    insert(c: Omit<Coupon, 'id' | 'uses' | 'overshoot' | 'active' | 'createdAt'> & { winbackKey?: string | null }, now: number): Promise<Coupon | null>;
    get(id: number): Promise<Coupon | null>;
    /** By its upper-case code. */
    findByCode(code: string): Promise<Coupon | null>;
    /** Newest first. */
    list(q: { source?: CouponSource; limit: number }): Promise<Coupon[]>;
    /** False when it already was in that state. */
    setActive(id: number, active: boolean): Promise<boolean>;
    /** The conditional increment `uses = uses + 1 WHERE uses < max_uses`: true for a call that took a use. */
    take(id: number): Promise<boolean>;
    noteOvershoot(id: number): Promise<void>;
    /** False when the order has its redemption already (unique order_id). */
    insertRedemption(
      r: { couponId: number; orderId: string; accountId: number; discountMinor: number; currency: string; overshoot: boolean },
      now: number,
    ): Promise<boolean>;
    redemptionsBy(couponId: number, accountId: number): Promise<number>;
    /** Redemptions booked in [from, to) (orders whose plan opens one of `groupIds`). */
    redeemed(from?: number, to?: number, groupIds?: number[]): Promise<number>;
    /** Memberships of the group that lapsed in (lapsedAfter, lapsedBefore], not revoked/banned/refunded, with no win-back for that lapse. */
    winbackDue(q: {
      groupId: number;
      lapsedBefore: number;
      lapsedAfter: number;
      limit: number;
    }): Promise<Array<{ membershipId: number; accountId: number; expiresAt: number }>>;
  };
  refundRequests: {
    /** False when this person already asked for a refund in this group (nothing is written). */
    insertIfAbsent(r: Omit<MemberRefundRequest, 'id'>): Promise<boolean>;
    /** The groups in which this account has had its refund on request. */
    groupsRequested(accountId: number): Promise<number[]>;
  };
  /** Referral codes and rewards (issue 16 part 3; src/app/referrals.ts). */
  referrals: {
    /** Gives the account `code` only if it has none and nobody else has it; true when set. */
    setCode(accountId: number, code: string): Promise<boolean>;
    findByCode(code: string): Promise<Account | null>;
    /** Records who referred the account (and when), only if nobody has yet and not itself; true when this call did. */
    setReferrer(accountId: number, referrerId: number, now: number): Promise<boolean>;
    /** Whether the account ever had an order paid (refunded ones too). */
    hasPaidOrder(accountId: number): Promise<boolean>;
    isBannedAnywhere(accountId: number): Promise<boolean>;
    /**
     * Referred people with a paid period whose group's refund window has passed, and no reward row in that group
     * yet, by (referred account, group); `after`: only those past that pair (the next page).
     */
    due(
      now: number,
      limit: number,
      after?: { referredId: number; groupId: number },
    ): Promise<Array<{ referredId: number; referrerId: number; groupId: number }>>;
    /** Null when (referrer, referred, group) has its row already: nothing written (the exactly-once guard). */
    insertReward(
      r: Pick<ReferralReward, 'referrerId' | 'referredId' | 'groupId' | 'orderId' | 'status' | 'reason' | 'days'>,
      now: number,
    ): Promise<number | null>;
    updateReward(id: number, patch: Partial<Pick<ReferralReward, 'status' | 'periodId' | 'clawedBackMs' | 'reason'>>, now: number): Promise<void>;
    /** Booked rewards whose referred order this is. */
    bookedForOrder(orderId: string): Promise<ReferralReward[]>;
    list(q: { referrerId?: number; referredId?: number }): Promise<ReferralReward[]>;
    /** One member's figures: people they referred, rewards booked, days those give. */
    summary(referrerId: number): Promise<{ referred: number; rewarded: number; daysEarned: number }>;
    /** Referrers by days earned in these groups (all groups when absent). */
    top(groupIds: number[] | undefined, limit: number): Promise<TopReferrer[]>;
    stats(groupIds?: number[]): Promise<ReferralCounts>;
  };
  /** The owners' daily digest (issue 16 part 5; src/app/digest.ts). */
  digests: {
    /** Owners with the digest on and no decision for local day `day` (YYYY-MM-DD) yet. */
    due(day: string): Promise<Account[]>;
    /** Conditional: true for the one call that decided this owner's day. */
    mark(accountId: number, day: string, sent: boolean, now: number): Promise<boolean>;
    setOff(accountId: number, off: boolean): Promise<void>;
  };
  stats: {
    /** Paid periods created in [from, to) that were the first period of their membership (orders counted once). */
    newMembers(from: number, to: number, groupIds?: number[]): Promise<number>;
    /** `groupIds` (here and below): only those groups; absent: every group. */
    activeMembers(groupIds?: number[]): Promise<number>;
    membersByStatus(): Promise<Array<{ status: string; count: number }>>;
    /** With `groupIds`: orders whose plan opens at least one of those groups. */
    revenueByCurrency(
      from?: number,
      to?: number,
      groupIds?: number[],
    ): Promise<Array<{ currency: string; chargesMinor: number; refundsMinor: number; netMinor: number }>>;
    renewals(from: number, to: number, groupIds?: number[]): Promise<number>;
    churn(from: number, to: number, groupIds?: number[]): Promise<number>;
    /** Active memberships whose paid time ends in [from, to). */
    expiring(from: number, to: number, groupIds?: number[]): Promise<number>;
    /** Orders held for review (status `review`). */
    heldOrders(groupIds?: number[]): Promise<number>;
    /** Sales per plan and currency from the ledger: paid orders, charges, refunds, net. */
    planSales(
      groupIds?: number[],
    ): Promise<Array<{ planId: number; currency: string; orders: number; chargesMinor: number; refundsMinor: number; netMinor: number }>>;
    /** Refunds members asked for within a refund window, made in [from, to), per currency (each order once). */
    refundsOnRequest(from?: number, to?: number, groupIds?: number[]): Promise<Array<{ currency: string; count: number; amountMinor: number }>>;
    ordersByStatus(): Promise<Array<{ status: string; count: number }>>;
    webhookOutcomes(): Promise<Array<{ provider: string; outcome: string; count: number }>>;
  };
}

export interface Store extends Repos {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `fn` in one database transaction. Never make a network call inside. */
  transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T>;
  /**
   * Whether writes still reach the database everyone reads, without a query (a stat at most, so cheap
   * enough per request). SQLite: the path must still name the file the handle has open; `deleted` or
   * `replaced` (rm, a restore copied over it) means every write would go into a file nobody reads again.
   * PostgreSQL: always ok (an unreachable server fails the write itself).
   */
  storageState(): StorageState;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type StorageState = { state: 'ok' } | { state: 'deleted' | 'replaced'; message: string };
