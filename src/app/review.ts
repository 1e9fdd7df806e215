// Join review (issue 17). A group in `review` join mode holds a paid order until its rules and its owner decide:
//   - Review applies to a person who is not in the group (new, or back after a lapse or a removal). A renewal
//     paid while active or in grace extends as always. If any group of the order's plan is a review group the
//     person is not in, the whole order waits: one application per order (unique order id), the order `paid`
//     (money taken and booked by confirm-payment.ts's three guards), the memberships not in the group
//     `awaiting_review` with no period.
//   - The rules run in order and each verdict is recorded: blacklist (a hit rejects at once, with a refund),
//     payment (the order is paid, its charge has the order's amount and currency, the order the plan's
//     currency), profile (every question answered; a Telegram username when the group requires one: the
//     member is asked for what is missing). All passing: the owners are asked, or the order is approved at
//     once when every review group of the plan says autoApproveWhenRulesPass.
//   - Approve → grantOrder with the period starting at the approval (waiting costs the member nothing),
//     exactly once (the conditional update of the application's status). Reject → the full refund of
//     refunds.ts (number stored first, the provider called by a job), the memberships to `revoked`
//     (free to apply again unless blacklisted), the member told why in one sentence, an audit entry.
//   - While pending the member may amend answers and send one appeal. After the window (REVIEW_WINDOW_HOURS,
//     per group) the sweep applies the group's reviewTimeoutAction; owners are reminded at 24 h and 60 h.
import { ACCESS_CODE_PROVIDER } from '../domain/coupon.ts';
import { conflict, invalid, notFound } from '../domain/errors.ts';
import { applyMembershipEvent } from '../domain/membership.ts';
import { formatMoney } from '../domain/money.ts';
import { HOUR_MS } from '../domain/time.ts';
import { type Actor, actorLabel, assertOwnerOf, groupScope, inScope, notAllowed, ownedGroup, scopeFilter } from './actors.ts';
import type { AppDeps } from './deps.ts';
import { BannedBuyerError, gatewayConfirmsWithInvite, grantOrder, isBannedFromPlan } from './grant.ts';
import { alertOwnersJob, notifyJob } from './job-kinds.ts';
import type { Account, Application, BlacklistEntry, Group, GroupQuestion, Order, Plan, ReviewAnswer, RuleVerdict } from './model.ts';
import type { NewJob, Repos, ReviewCounts } from './ports.ts';
import { startRefund } from './refunds.ts';

export const MAX_QUESTIONS = 5;
export const MAX_QUESTION_CHARS = 300;
export const MAX_ANSWER_CHARS = 1000;
export const MAX_APPEAL_CHARS = 1000;
export const MAX_PATTERN_CHARS = 200;
export const DEFAULT_REVIEW_WINDOW_HOURS = 72;
/** Owner reminders, hours after the application (each at most once: reminders_sent and a dedupe key). */
export const REVIEW_REMINDER_HOURS = [24, 60] as const;
const SWEEP_LIMIT = 100;
const SYSTEM = 'system:review';

const windowHours = (deps: AppDeps, g: Group) => g.reviewWindowHours ?? deps.settings.reviewWindowHours ?? DEFAULT_REVIEW_WINDOW_HOURS;
const inGroup = (s: string | undefined) => s === 'active' || s === 'grace';

// ------------------------------------------------------------------ holding a payment for review

/**
 * Inside confirm-payment's transaction, after the three guards: holds the order for review when one of its
 * plan's groups is a review group the person is not in, and runs the rules. False (nothing written) when no
 * review is needed: the caller grants as usual. With `refuseBanned`, a banned buyer throws BannedBuyerError.
 */
export async function holdForReview(
  deps: AppDeps,
  tx: Repos,
  order: Order,
  plan: Plan,
  groups: Group[],
  actor: string,
  now: number,
  opts: { refuseBanned?: boolean } = {},
): Promise<boolean> {
  const review = groups.filter((g) => g.joinMode === 'review');
  let needed = false;
  for (const g of review) {
    const m = await tx.memberships.getForUpdate(order.accountId, g.id);
    if (m?.status === 'banned' && opts.refuseBanned) throw new BannedBuyerError(order.accountId);
    if (!inGroup(m?.status)) needed = true;
  }
  if (!needed) return false;
  // Every group of the plan the person is not in waits (an auto group too: one decision for the order).
  for (const g of groups) {
    const created = await tx.memberships.insertIfAbsent({ accountId: order.accountId, groupId: g.id, status: 'awaiting_review', expiresAt: 0 }, now);
    if (created) continue;
    const m = (await tx.memberships.getForUpdate(order.accountId, g.id))!;
    if (m.status === 'banned' && opts.refuseBanned) throw new BannedBuyerError(order.accountId);
    if (inGroup(m.status) || m.status === 'awaiting_review') continue;
    const next = applyMembershipEvent(m, { type: 'await_review' });
    await tx.memberships.update(m.id, { status: next.status, expiresAt: next.expiresAt, graceUntil: null }, now);
  }
  const hours = Math.min(...review.map((g) => windowHours(deps, g)));
  const app = await tx.review.insertApplication(
    {
      orderId: order.id,
      accountId: order.accountId,
      answers: await currentAnswers(tx, order.accountId, review),
      verdicts: [],
      deadline: now + hours * HOUR_MS,
    },
    now,
  );
  if (!app) return true; // held before (the same payment under another event id cannot reach here, but be safe)
  await tx.audit.insert({
    at: now,
    actor,
    action: 'review.apply',
    subjectType: 'application',
    subjectId: String(app.id),
    reason: `order ${order.id} paid in a review group: waiting for review until ${new Date(app.deadline).toISOString()}`,
    detail: { orderId: order.id, groupIds: plan.groupIds },
  });
  await tx.jobs.enqueue(
    [
      notifyJob(
        { accountId: order.accountId, message: { key: 'review.waiting', params: { groups: titles(review), hours, id: app.id } } },
        `review-waiting:${app.id}`,
      ),
    ],
    now,
  );
  await evaluate(deps, tx, app, now);
  return true;
}

const titles = (groups: Group[]) => groups.map((g) => g.title).join(', ');

async function currentAnswers(tx: Repos, accountId: number, groups: Group[]): Promise<ReviewAnswer[]> {
  const questions = (await Promise.all(groups.map((g) => tx.review.listQuestions(g.id)))).flat();
  const given = await tx.review.answers(
    accountId,
    questions.map((q) => q.id),
  );
  return questions.filter((q) => given.has(q.id)).map((q) => ({ questionId: q.id, question: q.text, answer: given.get(q.id)! }));
}

interface Loaded {
  order: Order;
  plan: Plan;
  groups: Group[];
  account: Account;
}

async function load(tx: Repos, app: Application): Promise<Loaded> {
  const order = (await tx.orders.getForUpdate(app.orderId)) ?? fail(`application ${app.id} names a missing order`);
  const bought = (await tx.plans.getWithGroups(order.planId)) ?? fail(`order ${order.id} names a missing plan`);
  const account = (await tx.accounts.get(app.accountId)) ?? fail(`application ${app.id} names a missing account`);
  return { order, plan: bought.plan, groups: bought.groups, account };
}

// ------------------------------------------------------------------ the rules

/** Whether a blacklist entry names this person. */
export function blacklistMatches(e: BlacklistEntry, account: Account): boolean {
  switch (e.kind) {
    case 'user':
      return e.platform === account.platform && e.value === account.platformUserId;
    case 'account':
      return e.value === String(account.id);
    case 'name': {
      // An entry saved before patterns were checked for safety, and unsafe, matches nobody rather than freezing the service.
      let re: RegExp;
      try {
        re = compilePattern(e.value);
      } catch {
        return false;
      }
      return [account.displayName, account.username].some((n) => typeof n === 'string' && re.test(n.slice(0, MAX_NAME_MATCHED)));
    }
  }
}

/** At most this many open-ended repeats (`*`, `+`, `{n,}`) in a pattern: backtracking stays polynomial and small. */
const MAX_PATTERN_REPEATS = 3;
/** A name is matched on its first this many characters (platform names are shorter anyway). */
const MAX_NAME_MATCHED = 128;

/**
 * Why a pattern could make matching take exponential time (a payer's name is matched against every owner's
 * patterns, on the one event loop), or null. JavaScript's engine backtracks, so `(a+)+$` against "aaaa…!" runs
 * for hours: a repeated group may hold no repeat and no alternative, a back-reference is refused, and at most
 * MAX_PATTERN_REPEATS open-ended repeats are allowed. (The "star height" rule of safe-regex, checked by a scan.)
 */
export function unsafePatternReason(pattern: string): string | null {
  const groups: Array<{ repeats: boolean; alternatives: boolean }> = [{ repeats: false, alternatives: false }];
  let openEnded = 0;
  let last: 'atom' | 'group' | 'none' = 'none';
  let closed: { repeats: boolean; alternatives: boolean } | null = null;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const top = groups[groups.length - 1]!;
    if (c === '\\') {
      if (/[1-9k]/.test(pattern[i + 1] ?? '')) return 'a back-reference';
      i++;
      last = 'atom';
      continue;
    }
    if (c === '[') {
      for (i++; i < pattern.length && pattern[i] !== ']'; i++) if (pattern[i] === '\\') i++;
      last = 'atom';
      continue;
    }
    if (c === '(') {
      groups.push({ repeats: false, alternatives: false });
      last = 'none';
      continue;
    }
    if (c === ')') {
      closed = groups.length > 1 ? groups.pop()! : null;
      if (closed) {
        const parent = groups[groups.length - 1]!;
        parent.repeats ||= closed.repeats;
      }
      last = 'group';
      continue;
    }
    if (c === '|') {
      top.alternatives = true;
      last = 'none';
      continue;
    }
    const brace = c === '{' ? /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i)) : null;
    if (c === '*' || c === '+' || c === '?' || brace) {
      if (last === 'none') continue; // a lazy or possessive mark after a repeat, or a literal: nothing to repeat
      const open = c === '*' || c === '+' || (brace !== null && brace[2] !== undefined && brace[3] === '');
      if (last === 'group' && closed && (closed.repeats || closed.alternatives)) return 'a repeated group that holds a repeat or alternatives';
      if (open && ++openEnded > MAX_PATTERN_REPEATS) return `more than ${MAX_PATTERN_REPEATS} open-ended repeats`;
      top.repeats = true;
      if (brace) i += brace[0].length - 1;
      last = 'none';
      continue;
    }
    last = 'atom';
  }
  return null;
}

/** A display-name pattern: a JavaScript regular expression, matched case-insensitively; one that could backtrack for ever is refused. */
export function compilePattern(pattern: string): RegExp {
  if (!pattern || pattern.length > MAX_PATTERN_CHARS) throw invalid(`a name pattern must be 1–${MAX_PATTERN_CHARS} characters`);
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'iu');
  } catch (e) {
    throw invalid(`"${pattern}" is not a valid pattern (a regular expression): ${e instanceof Error ? e.message : String(e)}`);
  }
  const unsafe = unsafePatternReason(pattern);
  if (unsafe) throw invalid(`"${pattern}" could take too long to match (${unsafe}); write it without it, e.g. "spam.*bot"`);
  return re;
}

/** Runs the three rules in order, each verdict recorded (the list is the application's `verdicts`). */
export async function runRules(tx: Repos, app: Application, l: Loaded): Promise<RuleVerdict[]> {
  const verdicts: RuleVerdict[] = [];
  const reviewGroups = l.groups.filter((g) => g.joinMode === 'review');
  // 1. Blacklist: this plan's groups' entries and the every-group ones.
  const entries = await tx.review.listBlacklist({ groupIds: l.groups.map((g) => g.id), global: true });
  const hit = entries.find((e) => blacklistMatches(e, l.account));
  verdicts.push(
    hit
      ? { rule: 'blacklist', verdict: 'fail', reason: `blacklisted (entry ${hit.id}${hit.reason ? `: ${hit.reason}` : ''})` }
      : { rule: 'blacklist', verdict: 'pass', reason: `not on the blacklist (${entries.length} entries checked)` },
  );
  // 2. Payment: the order is paid, its charge is the order's amount and currency, in the plan's currency.
  const charge = (await tx.payments.listForOrder(l.order.id)).find((p) => p.kind === 'charge');
  const paymentProblem =
    l.order.status !== 'paid'
      ? `the order is ${l.order.status}, not paid`
      : !charge
        ? 'no charge is booked for the order'
        : charge.amountMinor !== l.order.amountMinor || charge.currency !== l.order.currency
          ? `charged ${formatMoney(charge.amountMinor, charge.currency)} for an order of ${formatMoney(l.order.amountMinor, l.order.currency)}`
          : l.order.currency !== l.plan.currency
            ? `the order is in ${l.order.currency}, the plan in ${l.plan.currency}`
            : null;
  verdicts.push(
    paymentProblem
      ? { rule: 'payment', verdict: 'fail', reason: paymentProblem }
      : { rule: 'payment', verdict: 'pass', reason: `paid ${formatMoney(l.order.amountMinor, l.order.currency)}` },
  );
  // 3. Profile: every question answered, and a username where a group requires one (Telegram).
  const missing = await missingQuestions(tx, l.account.id, reviewGroups);
  const needsUsername = l.account.platform === 'telegram' && reviewGroups.some((g) => g.requireUsername) && !l.account.username;
  const profileProblems = [
    ...(missing.length > 0 ? [`${missing.length} unanswered question${missing.length === 1 ? '' : 's'}`] : []),
    ...(needsUsername ? ['no Telegram username'] : []),
  ];
  verdicts.push(
    profileProblems.length > 0
      ? { rule: 'profile', verdict: 'fail', reason: profileProblems.join(', ') }
      : { rule: 'profile', verdict: 'pass', reason: 'profile complete' },
  );
  return verdicts;
}

async function missingQuestions(tx: Repos, accountId: number, groups: Group[]): Promise<GroupQuestion[]> {
  const questions = (await Promise.all(groups.map((g) => tx.review.listQuestions(g.id)))).flat();
  const given = await tx.review.answers(
    accountId,
    questions.map((q) => q.id),
  );
  return questions.filter((q) => !given.has(q.id));
}

/**
 * Runs the rules on a pending application and acts on them: a blacklist hit rejects (refund); a failed payment
 * check goes to the owner; a missing answer asks the member; everything passing asks the owners, or approves at
 * once when every review group of the plan says autoApproveWhenRulesPass.
 */
async function evaluate(deps: AppDeps, tx: Repos, app: Application, now: number): Promise<void> {
  const l = await load(tx, app);
  const verdicts = await runRules(tx, app, l);
  const answers = await currentAnswers(
    tx,
    app.accountId,
    l.groups.filter((g) => g.joinMode === 'review'),
  );
  await tx.review.update(app.id, { verdicts, answers }, now);
  const failed = (rule: RuleVerdict['rule']) => verdicts.find((v) => v.rule === rule && v.verdict === 'fail');
  const blacklisted = failed('blacklist');
  if (blacklisted) {
    await decide(deps, tx, { ...app, verdicts, answers }, l, 'rejected', SYSTEM, `${blacklisted.reason}`, now);
    return;
  }
  const reviewGroups = l.groups.filter((g) => g.joinMode === 'review');
  const profile = failed('profile');
  if (profile) {
    const missing = await missingQuestions(tx, app.accountId, reviewGroups);
    const list = missing.map((q, i) => `${i + 1}. ${q.text}`).join('\n');
    await tx.jobs.enqueue(
      [
        notifyJob(
          {
            accountId: app.accountId,
            message: missing.length > 0 ? { key: 'review.missing', params: { questions: list, id: app.id } } : { key: 'review.username_needed', params: {} },
          },
          `review-missing:${app.id}:${now}`,
        ),
      ],
      now,
    );
    return;
  }
  if (!failed('payment') && reviewGroups.length > 0 && reviewGroups.every((g) => g.autoApproveWhenRulesPass)) {
    await decide(deps, tx, { ...app, verdicts, answers }, l, 'approved', SYSTEM, 'every rule passed (autoApproveWhenRulesPass)', now);
    return;
  }
  if (!app.ownerTold) {
    await tx.review.update(app.id, { ownerTold: true }, now);
    await tx.jobs.enqueue([ownerAlert(app.id, l, 'owner.review_new', summary({ ...app, verdicts, answers }, l), `review-new:${app.id}`)], now);
  }
}

/** What the owner reads about an application: who, what they paid, the verdicts, the answers, the bio and the appeal. */
function summary(app: Application, l: Loaded): Record<string, string | number> {
  const who = `${l.account.displayName ?? l.account.platformUserId}${l.account.username ? ` (@${l.account.username})` : ''}`;
  const verdicts = app.verdicts.map((v) => `${v.verdict === 'pass' ? '✓' : '✗'} ${v.rule}: ${v.reason}`).join('\n');
  const answers = app.answers.map((a) => `${a.question}\n→ ${a.answer}`).join('\n') || '-';
  return {
    id: app.id,
    who,
    plan: l.plan.name,
    amount: formatMoney(l.order.amountMinor, l.order.currency),
    groups: titles(l.groups),
    verdicts,
    answers,
    bio: app.bio ?? '-',
    appeal: app.appeal ?? '-',
    deadlineAt: app.deadline,
  };
}

/** An alert to the owners of the plan's groups, with approve/reject buttons (a numbered reply on WeChat). */
function ownerAlert(appId: number, l: Loaded, key: string, params: Record<string, string | number>, dedupeKey: string): NewJob {
  return alertOwnersJob(
    {
      groupIds: l.groups.map((g) => g.id),
      message: { key, params },
      // Each application is its own kind: the one-per-hour limit on alerts never holds one back.
      coalesceKey: `review:${appId}:${key}`,
      choices: [
        { value: `review:approve:${appId}`, label: { key: 'review.button_approve', params: {} } },
        { value: `review:reject:${appId}`, label: { key: 'review.button_reject', params: {} } },
      ],
    },
    dedupeKey,
  );
}

// ------------------------------------------------------------------ decisions

/**
 * Approves (grant, the period starting now) or rejects (refund) a pending application inside the caller's
 * transaction. Exactly once: the application moves only from `pending`; a second decision is a conflict.
 */
async function decide(
  deps: AppDeps,
  tx: Repos,
  app: Application,
  l: Loaded,
  to: 'approved' | 'rejected' | 'timed_out',
  actor: string,
  reason: string,
  now: number,
  timeoutAction?: 'approve' | 'refund',
): Promise<void> {
  const approve = to === 'approved' || timeoutAction === 'approve';
  if (l.order.status === 'refunded' || l.order.status === 'refund_pending')
    throw conflict(`order ${l.order.id} is already ${l.order.status === 'refunded' ? 'refunded' : 'being refunded'}`);
  if (l.order.status !== 'paid') throw conflict(`order ${l.order.id} is ${l.order.status}, not paid`);
  // Banned while waiting (an owner's /ban): nothing can be granted, so the money must go back (the sweep turns its
  // timeout into a refund, see sweepReviews; an owner approving is told to reject instead).
  if (approve && (await isBannedFromPlan(tx, app.accountId, l.plan)))
    throw conflict(`the person of application ${app.id} is banned from a group of the plan: reject the application to refund them`);
  if (!(await tx.review.decide(app.id, to, { decidedBy: actor, reason }, now))) {
    const current = await tx.review.getApplication(app.id);
    throw conflict(`application ${app.id} is already ${current?.status ?? 'decided'}`);
  }
  if (approve) {
    // The period starts at the approval: waiting for the owner costs the member nothing.
    await grantOrder(tx, l.order, l.plan, now, actor, now, gatewayConfirmsWithInvite(deps), { groups: l.groups });
  } else {
    for (const g of l.groups) {
      const m = await tx.memberships.getForUpdate(app.accountId, g.id);
      if (m?.status !== 'awaiting_review') continue;
      const next = applyMembershipEvent(m, { type: 'reject_review' });
      await tx.memberships.update(m.id, { status: next.status, expiresAt: next.expiresAt, graceUntil: null }, now);
    }
    // An access code (amount 0, provider `coupon`) took no money, so there is nothing to refund (startRefund would
    // refuse it, and the rejection would then fail forever). Its order stays `paid`: that is the state of an
    // honoured zero-amount order with no ledger row, and the order machine has no better terminal state for it —
    // `refunded` claims money went back (a refund with no ledger row breaks the ledger's sums), `expired` means
    // never paid and would accept a late payment. The rejected application and the revoked membership are the
    // record that it let nobody in.
    const accessCode = l.order.provider === ACCESS_CODE_PROVIDER;
    if (!accessCode) await startRefund(deps, tx, l.order, { actor, reason: `join review: ${reason}`, detail: { applicationId: app.id } }, now);
    await tx.jobs.enqueue(
      [
        notifyJob(
          {
            accountId: app.accountId,
            message: { key: accessCode ? 'review.rejected_access_code' : 'review.rejected', params: { groups: titles(l.groups), reason } },
          },
          `review-rejected:${app.id}`,
        ),
      ],
      now,
    );
  }
  await tx.audit.insert({
    at: now,
    actor,
    action: to === 'timed_out' ? 'review.timeout' : approve ? 'review.approve' : 'review.reject',
    subjectType: 'application',
    subjectId: String(app.id),
    reason,
    detail: { orderId: l.order.id, status: to, ...(timeoutAction ? { action: timeoutAction } : {}) },
  });
}

/** An application whose order was refunded outside the review: rejected, its memberships out of awaiting_review. */
async function closeRefunded(tx: Repos, app: Application, l: Loaded, now: number): Promise<void> {
  if (
    !(await tx.review.decide(app.id, 'rejected', { decidedBy: SYSTEM, reason: `order ${l.order.status === 'refunded' ? 'refunded' : 'being refunded'}` }, now))
  )
    return;
  for (const g of l.groups) {
    const m = await tx.memberships.getForUpdate(app.accountId, g.id);
    if (m?.status !== 'awaiting_review') continue;
    const next = applyMembershipEvent(m, { type: 'reject_review' });
    await tx.memberships.update(m.id, { status: next.status, expiresAt: next.expiresAt, graceUntil: null }, now);
  }
  await tx.audit.insert({
    at: now,
    actor: SYSTEM,
    action: 'review.reject',
    subjectType: 'application',
    subjectId: String(app.id),
    reason: 'the order was refunded before anyone decided',
    detail: { orderId: l.order.id },
  });
}

/** Loads an application for an owner decision and checks the actor owns every group of its plan. */
async function ownedApplication(tx: Repos, actor: Actor, applicationId: number): Promise<{ app: Application; l: Loaded }> {
  const app = Number.isSafeInteger(applicationId) ? await tx.review.getApplication(applicationId) : null;
  if (!app) {
    if (actor.kind === 'account' && !(await tx.accounts.get(actor.accountId))?.isOwner) throw notAllowed();
    throw notFound(`no application with id ${String(applicationId)}`);
  }
  const l = await load(tx, app);
  for (const g of l.groups) await assertOwnerOf(tx, actor, g);
  return { app, l };
}

export async function approveApplication(deps: AppDeps, input: { actor: Actor; applicationId: number; reason?: string }): Promise<Application> {
  const now = deps.clock.now();
  const out = await deps.store.transaction(async (tx) => {
    const { app, l } = await ownedApplication(tx, input.actor, input.applicationId);
    if (app.status !== 'pending') throw conflict(`application ${app.id} is already ${app.status}`);
    const reason = (input.reason ?? '').trim().slice(0, 500) || 'approved by the owner';
    await decide(deps, tx, app, l, 'approved', actorLabel(input.actor), reason, now);
    return (await tx.review.getApplication(app.id))!;
  });
  deps.onJobsEnqueued?.();
  return out;
}

export async function rejectApplication(deps: AppDeps, input: { actor: Actor; applicationId: number; reason?: string }): Promise<Application> {
  const reason = (input.reason ?? '').trim().slice(0, 500);
  if (!reason) throw invalid('a rejection needs a reason (the member is told it)');
  const now = deps.clock.now();
  const out = await deps.store.transaction(async (tx) => {
    const { app, l } = await ownedApplication(tx, input.actor, input.applicationId);
    if (l.order.status === 'refunded' || l.order.status === 'refund_pending')
      throw conflict(`order ${l.order.id} is already ${l.order.status === 'refunded' ? 'refunded' : 'being refunded'}`);
    if (app.status !== 'pending') throw conflict(`application ${app.id} is already ${app.status}`);
    await decide(deps, tx, app, l, 'rejected', actorLabel(input.actor), reason, now);
    return (await tx.review.getApplication(app.id))!;
  });
  deps.onJobsEnqueued?.();
  return out;
}

/** The pending application covering a membership that awaits review (the CLI's `member approve|reject <membership-id>`). */
export async function applicationForMembership(deps: AppDeps, actor: Actor, membershipId: number): Promise<Application> {
  const store = deps.store;
  const m = Number.isSafeInteger(membershipId) ? await store.memberships.get(membershipId) : null;
  if (!m) throw notFound(`no membership with id ${String(membershipId)}`);
  const group = await store.groups.get(m.groupId);
  if (!group) throw notFound(`no group with id ${m.groupId}`);
  await assertOwnerOf(store, actor, group);
  if (m.status !== 'awaiting_review') throw conflict(`membership ${m.id} is ${m.status}, not awaiting review`);
  for (const app of await store.review.listApplications({ accountId: m.accountId, status: 'pending', limit: 50 })) {
    const order = await store.orders.get(app.orderId);
    const plan = order && (await store.plans.get(order.planId));
    if (plan?.groupIds.includes(group.id)) return app;
  }
  throw notFound(`membership ${m.id} has no pending application`);
}

export interface ApplicationView extends Application {
  planId: number;
  groupIds: number[];
  amountMinor: number;
  currency: string;
  displayName: string | null;
  platform: string;
  platformUserId: string;
}

/** Applications the actor may see (their groups'), newest first. */
export async function listApplications(deps: AppDeps, actor: Actor, q: { status?: string; limit?: number }): Promise<ApplicationView[]> {
  const status = q.status;
  if (status !== undefined && !['pending', 'approved', 'rejected', 'timed_out'].includes(status))
    throw invalid(`unknown application status "${status}" (pending, approved, rejected, timed_out)`);
  const scope = await groupScope(deps.store, actor);
  if (!scope.all && !scope.owner) throw notAllowed();
  const apps = await deps.store.review.listApplications({
    ...(status ? { status: status as Application['status'] } : {}),
    ...(scopeFilter(scope) ? { groupIds: scopeFilter(scope)! } : {}),
    limit: Math.min(Math.max(q.limit ?? 100, 1), 500),
  });
  const out: ApplicationView[] = [];
  for (const app of apps) {
    const order = await deps.store.orders.get(app.orderId);
    const plan = order && (await deps.store.plans.get(order.planId));
    const account = await deps.store.accounts.get(app.accountId);
    if (!order || !plan || !account) continue;
    out.push({
      ...app,
      planId: plan.id,
      groupIds: plan.groupIds,
      amountMinor: order.amountMinor,
      currency: order.currency,
      displayName: account.displayName,
      platform: account.platform,
      platformUserId: account.platformUserId,
    });
  }
  return out;
}

// ------------------------------------------------------------------ the member's side

/** The member's pending application (the newest), or a clear refusal. */
async function myPending(tx: Repos, accountId: number): Promise<Application> {
  const [app] = await tx.review.listApplications({ accountId, status: 'pending', limit: 1 });
  if (!app) throw conflict('you have no application waiting for review');
  return app;
}

/** One appeal per application, while it is pending and within its window; the owners see it. */
export async function appeal(deps: AppDeps, account: Account, text: string): Promise<Application> {
  const body = (text ?? '').trim();
  if (!body) throw invalid('write your appeal after the command, e.g. /appeal I am a member of the club');
  if (body.length > MAX_APPEAL_CHARS) throw invalid(`an appeal is at most ${MAX_APPEAL_CHARS} characters (yours has ${body.length})`);
  const now = deps.clock.now();
  const out = await deps.store.transaction(async (tx) => {
    const app = await myPending(tx, account.id);
    if (app.deadline <= now) throw conflict('the review window is over: an appeal can no longer be sent');
    if (app.appeal !== null) throw conflict('you have already sent your appeal (one per application)');
    if (!(await tx.review.setAppeal(app.id, body, now))) throw conflict('you have already sent your appeal (one per application)');
    const l = await load(tx, app);
    await tx.audit.insert({
      at: now,
      actor: `account:${account.id}`,
      action: 'review.appeal',
      subjectType: 'application',
      subjectId: String(app.id),
      reason: 'appeal sent',
      detail: null,
    });
    await tx.jobs.enqueue([ownerAlert(app.id, l, 'owner.review_appeal', { ...summary({ ...app, appeal: body }, l) }, `review-appeal:${app.id}`)], now);
    return { ...app, appeal: body, appealedAt: now };
  });
  deps.onJobsEnqueued?.();
  return out;
}

/** Validates an answer: not empty, at most MAX_ANSWER_CHARS. */
export function checkAnswer(text: string): string {
  const a = (text ?? '').trim();
  if (!a) throw invalid('an answer cannot be empty');
  if (a.length > MAX_ANSWER_CHARS) throw invalid(`an answer is at most ${MAX_ANSWER_CHARS} characters (yours has ${a.length})`);
  return a;
}

/** Stores an answer (before paying, or to amend one while awaiting review: the rules run again). */
export async function answerQuestion(deps: AppDeps, account: Account, questionId: number, text: string): Promise<void> {
  const answer = checkAnswer(text);
  const now = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    await tx.review.setAnswer(account.id, questionId, answer, now);
    for (const app of await tx.review.listApplications({ accountId: account.id, status: 'pending', limit: 10 })) {
      if (app.deadline <= now) continue;
      const l = await load(tx, app);
      const questions = (await Promise.all(l.groups.filter((g) => g.joinMode === 'review').map((g) => tx.review.listQuestions(g.id)))).flat();
      if (questions.some((q) => q.id === questionId)) await evaluate(deps, tx, app, now);
    }
  });
  deps.onJobsEnqueued?.();
}

/** Runs the rules again on the member's pending applications within their window (a username set meanwhile). */
export async function recheckApplications(deps: AppDeps, account: Account): Promise<void> {
  const now = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    for (const app of await tx.review.listApplications({ accountId: account.id, status: 'pending', limit: 10 })) {
      if (app.deadline > now) await evaluate(deps, tx, app, now);
    }
  });
  deps.onJobsEnqueued?.();
}

/** The questions a plan asks (its review groups'), each with the person's answer if any. */
export async function questionsForPlan(deps: AppDeps, accountId: number, planId: number): Promise<Array<GroupQuestion & { answer: string | null }>> {
  const bought = await deps.store.plans.getWithGroups(planId);
  if (!bought) return [];
  const questions = (await Promise.all(bought.groups.filter((g) => g.joinMode === 'review').map((g) => deps.store.review.listQuestions(g.id)))).flat();
  const given = await deps.store.review.answers(
    accountId,
    questions.map((q) => q.id),
  );
  return questions.map((q) => ({ ...q, answer: given.get(q.id) ?? null }));
}

/** The questions of the member's pending application, numbered, with their answers (for /answer <n> <text>). */
export async function myPendingQuestions(deps: AppDeps, account: Account): Promise<Array<GroupQuestion & { answer: string | null }>> {
  const app = await myPending(deps.store, account.id);
  const order = await deps.store.orders.get(app.orderId);
  return order ? questionsForPlan(deps, account.id, order.planId) : [];
}

/**
 * A Telegram join request's `bio`: stored on the person's newest application for a plan opening that group
 * (the reviewer sees it; Telegram sends it with chat_join_request). Nothing when there is no such application.
 */
export async function recordBio(deps: AppDeps, accountId: number, groupId: number, bio: string): Promise<boolean> {
  const text = bio.trim().slice(0, 1000);
  if (!text) return false;
  const now = deps.clock.now();
  for (const app of await deps.store.review.listApplications({ accountId, groupIds: [groupId], limit: 1 })) {
    await deps.store.review.update(app.id, { bio: text }, now);
    return true;
  }
  return false;
}

// ------------------------------------------------------------------ the clock

/** The scheduler's sweep: timeouts (the group's reviewTimeoutAction), then owner reminders at 24 h and 60 h. */
export async function sweepReviews(deps: AppDeps): Promise<{ timedOut: number; reminded: number }> {
  const now = deps.clock.now();
  let timedOut = 0;
  for (const due of await deps.store.review.dueForTimeout(now, SWEEP_LIMIT)) {
    try {
      await deps.store.transaction(async (tx) => {
        const app = await tx.review.getApplication(due.id);
        if (!app || app.status !== 'pending') return;
        const l = await load(tx, app);
        if (l.order.status === 'refunded' || l.order.status === 'refund_pending') {
          // Refunded meanwhile (an owner's /refund, the provider's dashboard): nothing left to decide; closed.
          await closeRefunded(tx, app, l, now);
          return;
        }
        const review = l.groups.filter((g) => g.joinMode === 'review');
        // The strictest wins: any review group that says refund refunds. A plan none of whose groups reviews any more
        // (the owner switched back to auto) lets the person in, as auto does; a person banned meanwhile is refunded,
        // since nothing can be granted to them.
        const banned = await isBannedFromPlan(tx, app.accountId, l.plan);
        const action = banned || review.some((g) => g.reviewTimeoutAction === 'refund') ? 'refund' : 'approve';
        await decide(deps, tx, app, l, 'timed_out', SYSTEM, 'nobody decided within the review window', now, action);
        await tx.jobs.enqueue(
          [
            ownerAlert(
              app.id,
              l,
              // An access code's rejection refunds nothing (see decide): the owner is not told "refunded".
              action === 'refund' && l.order.provider === ACCESS_CODE_PROVIDER
                ? 'owner.review_timed_out_reject_access_code'
                : `owner.review_timed_out_${action}`,
              summary(app, l),
              `review-timeout:${app.id}`,
            ),
          ],
          now,
        );
        timedOut++;
      });
    } catch (e) {
      // Another instance decided it first, or the order moved (refunded meanwhile): nothing to do here.
      if (!(e instanceof Error && 'code' in e && (e as { code: string }).code === 'conflict')) throw e;
      deps.logger.warn({ applicationId: due.id, reason: e.message }, 'review timeout not applied');
    }
  }
  let reminded = 0;
  for (const [i, hours] of REVIEW_REMINDER_HOURS.entries()) {
    const n = i + 1;
    for (const app of await deps.store.review.dueForReminder({ n, createdBefore: now - hours * HOUR_MS, now, limit: SWEEP_LIMIT })) {
      await deps.store.transaction(async (tx) => {
        if (!(await tx.review.markReminded(app.id, n))) return;
        const l = await load(tx, app);
        await tx.jobs.enqueue([ownerAlert(app.id, l, 'owner.review_reminder', { ...summary(app, l), hours }, `review-remind:${app.id}:${hours}`)], now);
        reminded++;
      });
    }
  }
  if (timedOut + reminded > 0) deps.onJobsEnqueued?.();
  return { timedOut, reminded };
}

// ------------------------------------------------------------------ questions and the blacklist (the settings: group-settings.ts)

export async function listQuestions(deps: AppDeps, actor: Actor, groupId: number): Promise<GroupQuestion[]> {
  await ownedGroup(deps.store, actor, groupId);
  return deps.store.review.listQuestions(groupId);
}

export async function addQuestion(deps: AppDeps, actor: Actor, groupId: number, text: string): Promise<GroupQuestion> {
  const q = (text ?? '').trim();
  if (!q || q.length > MAX_QUESTION_CHARS) throw invalid(`a question must be 1–${MAX_QUESTION_CHARS} characters`);
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const group = await ownedGroup(tx, actor, groupId);
    if ((await tx.review.listQuestions(group.id)).length >= MAX_QUESTIONS)
      throw conflict(`group ${group.id} already has ${MAX_QUESTIONS} questions (the most allowed); remove one first`);
    const added = await tx.review.addQuestion(group.id, q, now);
    await tx.audit.insert({
      at: now,
      actor: actorLabel(actor),
      action: 'group.question_add',
      subjectType: 'group',
      subjectId: String(group.id),
      reason: q,
      detail: null,
    });
    return added;
  });
}

/** Removes the n-th question (1-based, as listed), or the one with this id (a page that listed it earlier). */
export async function removeQuestion(deps: AppDeps, actor: Actor, groupId: number, which: number | { id: number }): Promise<GroupQuestion> {
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const group = await ownedGroup(tx, actor, groupId);
    const list = await tx.review.listQuestions(group.id);
    const byId = typeof which === 'object';
    const q = byId ? list.find((x) => x.id === which.id) : Number.isInteger(which) && which >= 1 ? list[which - 1] : undefined;
    if (!q)
      throw notFound(byId ? `group ${group.id} has no question with id ${which.id}` : `group ${group.id} has no question ${which} (it has ${list.length})`);
    await tx.review.removeQuestion(q.id);
    await tx.audit.insert({
      at: now,
      actor: actorLabel(actor),
      action: 'group.question_remove',
      subjectType: 'group',
      subjectId: String(group.id),
      reason: q.text,
      detail: null,
    });
    return q;
  });
}

export interface BlacklistInput {
  /** null: every group (an operator or admin only). */
  groupId: number | null;
  kind: string;
  value: string;
  platform?: string | null;
  reason?: string;
}

export async function addBlacklist(deps: AppDeps, actor: Actor, input: BlacklistInput): Promise<BlacklistEntry> {
  const kind = input.kind;
  if (kind !== 'user' && kind !== 'account' && kind !== 'name') throw invalid(`unknown blacklist kind "${kind}" (user, account or name)`);
  const value = (input.value ?? '').trim();
  if (!value) throw invalid('a blacklist entry needs a value');
  if (kind === 'name') compilePattern(value);
  if (kind === 'account' && !/^\d{1,9}$/.test(value)) throw invalid('an account id is a number');
  if (kind === 'user' && value.length > 100) throw invalid('a user id is at most 100 characters');
  const platform = kind === 'user' ? (input.platform ?? null) : null;
  if (kind === 'user' && (platform === null || !['telegram', 'wechat', 'playground'].includes(platform)))
    throw invalid('a user id needs its platform (telegram, wechat or playground)');
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    if (input.groupId === null) {
      const scope = await groupScope(tx, actor);
      if (!scope.all) throw notAllowed();
    } else {
      await ownedGroup(tx, actor, input.groupId);
    }
    const entry = await tx.review.addBlacklist(
      {
        groupId: input.groupId,
        kind,
        platform: platform as BlacklistEntry['platform'],
        value,
        reason: (input.reason ?? '').trim().slice(0, 500) || null,
        addedBy: actorLabel(actor),
      },
      now,
    );
    await tx.audit.insert({
      at: now,
      actor: actorLabel(actor),
      action: 'review.blacklist_add',
      subjectType: 'blacklist',
      subjectId: String(entry.id),
      reason: `${kind} ${value}${input.groupId === null ? ' (every group)' : ` (group ${input.groupId})`}`,
      detail: null,
    });
    return entry;
  });
}

export async function removeBlacklist(deps: AppDeps, actor: Actor, id: number): Promise<BlacklistEntry> {
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const entry = Number.isSafeInteger(id) ? await tx.review.getBlacklist(id) : null;
    const scope = await groupScope(tx, actor);
    if (!entry || !(entry.groupId === null ? scope.all : inScope(scope, entry.groupId))) {
      if (!scope.all && !scope.owner) throw notAllowed();
      throw notFound(`no blacklist entry ${String(id)} in your groups`);
    }
    await tx.review.removeBlacklist(entry.id);
    await tx.audit.insert({
      at: now,
      actor: actorLabel(actor),
      action: 'review.blacklist_remove',
      subjectType: 'blacklist',
      subjectId: String(entry.id),
      reason: `${entry.kind} ${entry.value}`,
      detail: null,
    });
    return entry;
  });
}

/** The entries the actor may see: their groups' (one group with `groupId`), and the every-group ones. */
export async function listBlacklist(deps: AppDeps, actor: Actor, groupId?: number): Promise<BlacklistEntry[]> {
  const scope = await groupScope(deps.store, actor);
  if (!scope.all && !scope.owner) throw notAllowed();
  if (groupId !== undefined) {
    await ownedGroup(deps.store, actor, groupId);
    return deps.store.review.listBlacklist({ groupIds: [groupId], global: true });
  }
  const filter = scopeFilter(scope);
  return deps.store.review.listBlacklist(filter ? { groupIds: filter, global: true } : { global: true });
}

/** Applications, approvals, rejections, time to decision: the one definition /api/stats and /metrics read. */
export async function reviewCounts(deps: AppDeps, actor: Actor): Promise<ReviewCounts> {
  const scope = await groupScope(deps.store, actor);
  return deps.store.review.counts(scopeFilter(scope));
}

function fail(message: string): never {
  throw new Error(message);
}
