// The platform-neutral dialogue: inbound text or button → intent → use case → neutral replies.
// Free of framework imports; every user-facing string comes from the catalogues. Owner intents are
// checked against the store on every message, and a non-owner gets exactly the unknown-command reply.
import { billingPortalLink, cancelRenewal, chargingNow, renewingPlanIn, resumeRenewal } from '../app/subscriptions.ts';
import QRCode from 'qrcode';
import { type Actor, assertOwnerOf, ownedGroup, visibleGroups } from '../app/actors.ts';
import { broadcast } from '../app/broadcast.ts';
import { addPlan, disablePlan } from '../app/catalog-admin.ts';
import { createCheckout, offersFor, payPageUrl } from '../app/checkout.ts';
import { ACCESS_CODE_PROVIDER, createCoupon, disableCoupon, listCoupons, quoteCoupon } from '../app/coupons.ts';
import { startTrial, TrialNeedsReview, TrialUsed } from '../app/trials.ts';
import { COUPON_CODE, CouponRefusal, normalizeCode } from '../domain/coupon.ts';
import type { AppDeps } from '../app/deps.ts';
import type { Account, Group, IntruderPolicy, Plan } from '../app/model.ts';
import { banMember, extendMembership, redeemClaimCode, removeMember, unbanMember } from '../app/owners.ts';
import { requestRefund } from '../app/refunds.ts';
import { updateGroupSettings } from '../app/group-settings.ts';
import { MAX_REFUND_REASON, planRefundWindow, requestRefundOnRequest } from '../app/refund-window.ts';
import {
  confirmRemove,
  dryRun,
  listWhitelist,
  parsePersonRef,
  type PersonRef,
  reinvite,
  resolvePerson,
  setIntruderPolicy,
  unwhitelist,
  whitelist,
} from '../app/roster.ts';
import { computeStats } from '../app/stats.ts';
import { memberReferrals, recordReferral, type ReferralResult, referralCodeFor, topReferrers } from '../app/referrals.ts';
import { setDigest } from '../app/digest.ts';
import { doorLinkFor } from '../app/door.ts';
import { issueLoginLink } from '../app/console-auth.ts';
import {
  addBlacklist,
  addQuestion,
  answerQuestion,
  appeal,
  approveApplication,
  checkAnswer,
  listApplications,
  listBlacklist,
  listQuestions,
  myPendingQuestions,
  recheckApplications,
  questionsForPlan,
  rejectApplication,
  removeBlacklist,
  removeQuestion,
} from '../app/review.ts';
import { DomainError, ProviderRejectedError, ProviderUnreachableError } from '../domain/errors.ts';
import { formatMoney } from '../domain/money.ts';
import { STARS } from '../domain/pricing.ts';
import { formatMoneyIn } from './format.ts';
import { DAY_MS } from '../domain/time.ts';
import { resolveLocale } from './catalog.ts';
import { type Intent, type OwnerCommand, parseIntent } from './intents.ts';
import type { ChoiceOption, Conversation, Inbound, Reply } from './types.ts';

/** What we remember between messages: the last menu, so "1" means its first entry even after a restart. */
interface DialogueState {
  lastChoices: string[];
  /** Join review: the question asked before paying for this plan; the next plain text is its answer. */
  answering?: { planId: number; questionId: number };
  /** The reason given with a `/refund` that asked which group it is for. */
  refundReason?: string;
  /** Issue 16: a coupon code the person applied (`/coupon`, `c-CODE`), used by their next checkout. */
  coupon?: string;
}

const emptyState = (): DialogueState => ({ lastChoices: [] });

function readState(raw: unknown): DialogueState {
  if (raw && typeof raw === 'object' && Array.isArray((raw as DialogueState).lastChoices)) {
    const { lastChoices, refundReason, answering: a, coupon } = raw as DialogueState;
    const answering = a && Number.isSafeInteger(a.planId) && Number.isSafeInteger(a.questionId) ? { planId: a.planId, questionId: a.questionId } : undefined;
    return {
      lastChoices: lastChoices.filter((v): v is string => typeof v === 'string').slice(0, 50),
      ...(typeof refundReason === 'string' ? { refundReason: refundReason.slice(0, MAX_REFUND_REASON) } : {}),
      ...(answering ? { answering } : {}),
      ...(typeof coupon === 'string' && COUPON_CODE.test(coupon) ? { coupon } : {}),
    };
  }
  return emptyState();
}

export function createConversation(deps: AppDeps): Conversation {
  return { handle: (msg) => new Turn(deps, msg).run() };
}

/** One inbound message and everything needed to answer it. */
class Turn {
  private account!: Account;
  private locale!: string;
  private state: DialogueState = emptyState();
  private readonly replies: Reply[] = [];
  /** Set once the message is handled as an owner command: errors then carry their reason. */
  private asOwner = false;
  /** Set when a `/refund` found no paid order at all (an owner is then shown the owner command's usage too). */
  private noRefund = false;

  constructor(
    private readonly deps: AppDeps,
    private readonly msg: Inbound,
  ) {}

  private t(key: string, params: Record<string, string | number> = {}): string {
    return this.deps.messages.render(this.locale, { key, params });
  }
  private text(key: string, params: Record<string, string | number> = {}) {
    this.replies.push({ type: 'text', text: this.t(key, params) });
  }
  private choices(text: string, options: ChoiceOption[]) {
    this.replies.push({ type: 'choices', text, choices: options });
    this.state.lastChoices = options.map((o) => o.value);
  }

  async run(): Promise<Reply[]> {
    const { store, clock, settings } = this.deps;
    const now = clock.now();
    const displayName = typeof this.msg.displayName === 'string' ? this.msg.displayName.slice(0, 100) : null;
    const platformLocale = typeof this.msg.locale === 'string' && this.msg.locale ? resolveLocale(this.msg.locale, settings.defaultLocale) : null;
    this.account = await store.accounts.upsert(
      {
        platform: this.msg.platform,
        platformUserId: String(this.msg.userId),
        displayName,
        locale: platformLocale,
        ...(this.msg.username !== undefined ? { username: typeof this.msg.username === 'string' ? this.msg.username.slice(0, 64) : null } : {}),
      },
      now,
    );
    this.locale = resolveLocale(this.account.locale, settings.defaultLocale);
    this.state = readState(await store.dialogue.get(this.account.id));
    let intent = parseIntent(this.msg);
    // A question asked before paying (join review): the next plain text is its answer, whatever it says.
    const answering = this.state.answering;
    this.state.answering = undefined;
    if (answering && !this.msg.choice && typeof this.msg.text === 'string' && !this.msg.text.trim().startsWith('/')) {
      try {
        await this.answerBeforePaying(answering, this.msg.text);
      } catch (err) {
        this.replies.length = 0;
        this.failure(err, { kind: 'answer', n: null, text: '' });
        this.state.answering = answering; // asked again: the answer was refused
      }
      await store.dialogue.set(this.account.id, this.state, clock.now());
      return this.replies;
    }
    if (intent.kind === 'number') {
      const value = this.state.lastChoices[intent.n - 1];
      if (this.state.lastChoices.length === 0) {
        intent = { kind: 'plans' };
      } else if (!value) {
        this.text('choice.out_of_range', { max: this.state.lastChoices.length });
        await store.dialogue.set(this.account.id, this.state, now);
        return this.replies;
      } else {
        intent = parseIntent({ choice: value });
      }
    }
    try {
      await this.dispatch(intent);
    } catch (err) {
      this.replies.length = 0;
      this.failure(err, intent);
    }
    await store.dialogue.set(this.account.id, this.state, clock.now());
    return this.replies;
  }

  private failure(err: unknown, intent: Intent) {
    // Coupons and trials (issue 16): the member is told exactly why, in their language.
    if (err instanceof CouponRefusal) {
      const code = this.state.coupon ?? (intent.kind === 'coupon' ? (intent.code ?? '').toUpperCase().slice(0, 32) : '');
      this.state.coupon = undefined; // refused: the next checkout goes without it
      return this.text(`coupon.refused.${err.reason}`, { code });
    }
    if (err instanceof ProviderUnreachableError) return this.text('pay.provider_down');
    if (err instanceof ProviderRejectedError) return this.text('pay.provider_refused');
    if (err instanceof DomainError) {
      // Owners get the precise reason (they are running the business); members a kind, fixed line.
      if (intent.kind === 'owner' || intent.kind === 'claim' || intent.kind === 'appeal' || intent.kind === 'answer' || this.asOwner)
        return this.text('owner.error', { reason: err.message });
      if (err.code === 'forbidden') return this.text('pay.banned');
      return this.text('error.member');
    }
    this.deps.logger.error({ err: err instanceof Error ? err.message : String(err), intent: intent.kind }, 'conversation failed');
    this.text('error.member');
  }

  private async dispatch(intent: Intent): Promise<void> {
    switch (intent.kind) {
      case 'start':
        return this.start(intent.payload);
      case 'plans':
        return this.listPlans('plans.pick');
      case 'choose_plan':
        return this.choosePlan(intent.planId);
      case 'pay':
        return this.pay(intent.planId, intent.provider);
      case 'status':
        return this.status();
      case 'renew':
        return this.renew();
      case 'orders':
        return this.orders();
      case 'help':
        return this.help();
      case 'reinvite':
        return this.reinvite();
      case 'paysupport':
        return this.paySupport();
      case 'cancel_renewal':
        return this.setRenewal(false);
      case 'resume_renewal':
        return this.setRenewal(true);
      case 'billing':
        return this.billing();
      case 'refund':
        return this.refund(intent.args, intent.rest);
      case 'refund_group':
        return this.memberRefund(this.state.refundReason ?? '', intent.groupId);
      case 'claim':
        return this.claim(intent.code);
      case 'owner':
        return this.owner(intent.command, intent.args, intent.rest);
      case 'appeal':
        await appeal(this.deps, this.account, intent.text);
        return this.text('review.appeal_sent');
      case 'answer':
        return this.answer(intent.n, intent.text);
      case 'invite_friends':
        return this.inviteFriends();
      case 'referrals':
        return this.referrals();
      case 'referral_code':
        return this.referralCode(intent.code);
      case 'coupon':
        return this.applyCoupon(intent.code);
      case 'trial':
        return this.trial(intent.planId);
      case 'number':
      case 'unknown':
        return this.unknown();
    }
  }

  // ------------------------------------------------------------ member

  private async plansForMe(): Promise<Plan[]> {
    const { store } = this.deps;
    const groups = new Map((await store.groups.list()).map((g) => [g.id, g]));
    return (await store.plans.list({ activeOnly: true })).filter((p) => p.groupIds.some((id) => groups.get(id)?.platform === this.account.platform));
  }

  private planLabel(p: Plan) {
    return this.t('plans.option', { name: p.name, price: formatMoney(p.priceMinor, p.currency), days: p.durationDays });
  }

  private async listPlans(headingKey: string, plans?: Plan[]) {
    const list = plans ?? (await this.plansForMe());
    if (list.length === 0) return this.text('plans.none');
    this.choices(
      this.t(headingKey) + (await this.refundPolicy(list)),
      list.map((p) => ({ value: `plan:${p.id}`, label: this.planLabel(p) })),
    );
  }

  /** The refund policy of these plans, as lines after the menu's heading ('' when none offers refunds on request). */
  private async refundPolicy(plans: Plan[]): Promise<string> {
    const hours = await Promise.all(plans.map((p) => planRefundWindow(this.deps.store, p)));
    if (!hours.some((h) => h > 0)) return '';
    if (hours.every((h) => h === hours[0])) return `\n${this.t('plans.refund_policy', { hours: hours[0]! })}`;
    return plans.flatMap((p, i) => (hours[i]! > 0 ? [`\n${this.t('plans.refund_policy_plan', { plan: p.name, hours: hours[i]! })}`] : [])).join('');
  }

  private async start(payload: string | null) {
    // A referral deep link (t.me/<bot>?start=ref-<code>): recorded (or refused) before the welcome.
    const ref = payload && /^ref-([A-Za-z0-9]{1,16})$/.exec(payload);
    if (ref) this.referralAnswer(await recordReferral(this.deps, this.account, ref[1]!));
    const plan = payload && /^plan-(\d{1,9})$/.exec(payload);
    if (plan) return this.choosePlan(Number(plan[1]));
    // Issue 16: a coupon deep link, t.me/<bot>?start=c-CODE.
    const coupon = payload && /^c-([A-Za-z0-9_-]{3,32})$/.exec(payload);
    if (coupon) return this.applyCoupon(coupon[1]!);
    this.text('welcome', { name: this.account.displayName ?? '' });
    await this.listPlans('plans.pick');
  }

  private async choosePlan(planId: number) {
    const plan = (await this.plansForMe()).find((p) => p.id === planId);
    if (!plan) {
      this.text('plan.unavailable');
      return this.listPlans('plans.pick');
    }
    const offers = offersFor(this.deps, plan, this.account.platform);
    if (offers.length === 0) return this.text('pay.no_provider');
    // A review group's questions are asked before the plan is paid (join review), one at a time.
    if (await this.askNextQuestion(plan)) return;
    // Issue 16: a plan with a free trial offers it first, unless a coupon is waiting to be used.
    const trial: ChoiceOption[] =
      plan.trialDays > 0 && !this.state.coupon ? [{ value: `trial:${plan.id}`, label: this.t('trial.button', { days: plan.trialDays }) }] : [];
    if (offers.length === 1 && trial.length === 0) return this.pay(plan.id, offers[0]!.provider.name);
    this.choices(
      trial.length > 0 ? this.t('trial.pick', { plan: plan.name, days: plan.trialDays }) : this.t('pay.pick_provider', { plan: plan.name }),
      // A rail that charges in another currency than the plan's (Stars) says what it costs there.
      [
        ...trial,
        ...offers.map((o) => ({
          value: `pay:${plan.id}:${o.provider.name}`,
          label:
            o.currency === plan.currency
              ? this.t(`provider.${o.provider.name}`)
              : this.t('pay.provider_with_price', {
                  provider: this.t(`provider.${o.provider.name}`),
                  price: o.currency === STARS ? `${o.amountMinor} ⭐` : formatMoney(o.amountMinor, o.currency),
                }),
        })),
      ],
    );
  }

  private async pay(planId: number, providerName: string) {
    const { store, clock, settings } = this.deps;
    const plan = (await this.plansForMe()).find((p) => p.id === planId);
    if (!plan) {
      this.text('plan.unavailable');
      return this.listPlans('plans.pick');
    }
    // Switching plan while an auto-renewing membership runs is refused: cancel first (upgrades come later).
    const renewing = await renewingPlanIn(store, this.account.id, plan, clock.now());
    if (renewing)
      return this.text(
        chargingNow(renewing.sub, clock.now())
          ? this.deps.providers.get(renewing.sub.provider)?.billingPortalUrl !== undefined
            ? 'renewal.charging_billing'
            : 'renewal.charging'
          : renewing.plan.id === plan.id
            ? 'renewal.already'
            : 'renewal.switch_refused',
        { plan: renewing.plan.name },
      );
    // Choosing the same plan again while its order is still open shows that order instead of a second one.
    // A coupon waiting to be used makes a new order (one coupon per order: an order that has one refuses another).
    const coupon = this.state.coupon;
    const open = (await store.orders.page({ accountId: this.account.id, status: 'pending', limit: 20 })).find(
      (o) => o.planId === plan.id && o.provider === providerName && o.expiresAt > clock.now() + 60_000,
    );
    if (coupon && open?.couponId) throw new CouponRefusal('already_applied', 'this order has a coupon already');
    const order =
      (coupon ? null : open) ??
      (
        await createCheckout(this.deps, {
          platform: this.account.platform,
          userId: this.account.platformUserId,
          planId: plan.id,
          provider: providerName,
          displayName: this.account.displayName,
          locale: this.account.locale,
          coupon: coupon ?? null,
        })
      ).order;
    this.state.coupon = undefined;
    // An access code (issue 16): nothing to pay, the grant is done and the invitation queued.
    if (order.provider === ACCESS_CODE_PROVIDER) {
      this.state.lastChoices = [];
      return this.text('coupon.free', { code: coupon ?? '', plan: plan.name });
    }
    const url = payPageUrl(settings.publicUrl, order.id);
    const png = await QRCode.toBuffer(order.checkoutQr ?? url, { type: 'png', width: 360, margin: 2, errorCorrectionLevel: 'M' });
    this.replies.push({
      type: 'image',
      png,
      caption:
        this.t('pay.qr_caption', { plan: plan.name, amount: formatMoney(order.amountMinor, order.currency), expiresAt: order.expiresAt }) +
        (order.listPriceMinor && (order.discountMinor ?? 0) > 0
          ? `\n${this.t('pay.discount_line', { listPrice: formatMoney(order.listPriceMinor, order.currency), code: coupon ?? '', amount: formatMoney(order.amountMinor, order.currency) })}`
          : ''),
      url,
    });
    // Issue 21: a WeChat Pay or Alipay pay page pays in place on the phone it is opened on (JSAPI, H5, WAP).
    const onPhone = order.provider === 'wechatpay' || order.provider === 'alipay';
    this.replies.push({
      type: 'link',
      text: this.t(onPhone ? 'pay.link_text_phone' : 'pay.link_text'),
      url: order.checkoutUrl ?? url,
      label: this.t(onPhone ? 'pay.open_phone' : 'pay.open'),
    });
    this.state.lastChoices = [];
  }

  /** Asks the plan's first unanswered question; false when every one is answered (or there are none). */
  private async askNextQuestion(plan: Plan): Promise<boolean> {
    const questions = await questionsForPlan(this.deps, this.account.id, plan.id);
    const next = questions.findIndex((q) => q.answer === null);
    if (next < 0) return false;
    const q = questions[next]!;
    const group = await this.deps.store.groups.get(q.groupId);
    this.text('review.question', { group: group?.title ?? '', n: next + 1, total: questions.length, question: q.text });
    this.state.answering = { planId: plan.id, questionId: q.id };
    this.state.lastChoices = [];
    return true;
  }

  private async answerBeforePaying(answering: { planId: number; questionId: number }, text: string) {
    const answer = checkAnswer(text.slice(0, 10_000));
    const q = (await questionsForPlan(this.deps, this.account.id, answering.planId)).find((x) => x.id === answering.questionId);
    if (!q) return this.choosePlan(answering.planId); // the question was removed meanwhile
    await answerQuestion(this.deps, this.account, q.id, answer);
    this.text('review.answer_saved', { question: q.text });
    await this.choosePlan(answering.planId);
  }

  /** `/answer`: the questions of the pending application with the answers; `/answer <n> <text>` amends one. */
  private async answer(n: number | null, text: string) {
    const questions = await myPendingQuestions(this.deps, this.account);
    if (n === null) {
      if (text) throw new DomainError('invalid_input', 'write /answer <n> <text>, n being the number of the question');
      const lines = questions.map((q, i) => `${i + 1}. ${q.text}\n→ ${q.answer ?? '-'}`).join('\n');
      // Asking again also re-runs the rules (a username set meanwhile).
      await recheckApplications(this.deps, this.account);
      return this.text('review.questions_list', { lines: lines || '-' });
    }
    const q = questions[n - 1];
    if (!q) throw new DomainError('not_found', `there is no question ${n} (there ${questions.length === 1 ? 'is 1' : `are ${questions.length}`})`);
    await answerQuestion(this.deps, this.account, q.id, text);
    this.text('review.answer_saved', { question: q.text });
  }

  /**
   * `/coupon <code>` (优惠码, `c-CODE`): checks the code for this person now and keeps it for their next checkout;
   * the plans it is for are listed with their price after it (one plan: straight to it). The use itself is booked
   * when the order is paid.
   */
  private async applyCoupon(raw: string | null) {
    if (!raw) return this.text('coupon.usage');
    const code = normalizeCode(raw);
    this.state.coupon = code;
    const now = this.deps.clock.now();
    const usable: Array<{ plan: Plan; discount: number }> = [];
    let refusal: CouponRefusal | null = null;
    for (const plan of await this.plansForMe()) {
      try {
        const q = await quoteCoupon(this.deps.store, { code, plan, accountId: this.account.id, amountMinor: plan.priceMinor, currency: plan.currency, now });
        usable.push({ plan, discount: q.discountMinor });
      } catch (err) {
        if (!(err instanceof CouponRefusal)) throw err;
        // Reasons about the code itself hold for every plan: say that one.
        if (err.reason !== 'other_plan' && err.reason !== 'other_currency' && err.reason !== 'too_large') {
          this.state.coupon = undefined;
          return this.text(`coupon.refused.${err.reason}`, { code });
        }
        // Of the per-plan reasons, the most telling: worth more than the price, then another currency, then other plans.
        const rank = (r: CouponRefusal | null) => (r === null ? -1 : ['other_plan', 'other_currency', 'too_large'].indexOf(r.reason));
        if (rank(err) > rank(refusal)) refusal = err;
      }
    }
    if (usable.length === 0) {
      this.state.coupon = undefined;
      return refusal ? this.text(`coupon.refused.${refusal.reason}`, { code }) : this.text('coupon.no_plan', { code });
    }
    if (usable.length === 1) {
      const { plan, discount } = usable[0]!;
      this.text('coupon.applied_plan', {
        code,
        plan: plan.name,
        price: formatMoney(plan.priceMinor - discount, plan.currency),
        listPrice: formatMoney(plan.priceMinor, plan.currency),
      });
      return this.choosePlan(plan.id);
    }
    const c = (await this.deps.store.coupons.findByCode(code))!;
    const discount = c.percent !== null ? `${c.percent}%` : formatMoney(c.amountMinor!, c.currency!);
    this.choices(
      this.t('coupon.applied', { code, discount }),
      usable.map(({ plan, discount: off }) => ({
        value: `plan:${plan.id}`,
        label: this.t('plans.option', { name: plan.name, price: formatMoney(plan.priceMinor - off, plan.currency), days: plan.durationDays }),
      })),
    );
  }

  /** The plan menu's "start free trial" (issue 16): once per person per plan, never while banned. */
  private async trial(planId: number) {
    const plan = (await this.plansForMe()).find((p) => p.id === planId);
    if (!plan) {
      this.text('plan.unavailable');
      return this.listPlans('plans.pick');
    }
    if (plan.trialDays <= 0) return this.text('trial.none', { plan: plan.name });
    try {
      const { trial } = await startTrial(this.deps, this.account, plan.id);
      this.state.lastChoices = [];
      return this.text('trial.started', { plan: plan.name, days: plan.trialDays, endsAt: trial.endsAt });
    } catch (err) {
      if (err instanceof TrialUsed) return this.text('trial.used', { plan: plan.name, startedAt: err.trial.startedAt });
      if (err instanceof TrialNeedsReview) return this.text('trial.needs_review', { plan: plan.name });
      if (err instanceof DomainError && err.code === 'forbidden') return this.text('pay.banned');
      if (err instanceof DomainError && err.code === 'conflict') return this.text('trial.has_access', { plan: plan.name });
      throw err;
    }
  }

  private async status() {
    const { store } = this.deps;
    // A membership never paid for has no expiry to show, unless it awaits the join review.
    const memberships = (await store.memberships.list({ accountId: this.account.id })).filter((m) => m.expiresAt > 0 || m.status === 'awaiting_review');
    if (memberships.length === 0) return this.text('status.none');
    const lines = [];
    for (const m of memberships) {
      const group = await store.groups.get(m.groupId);
      lines.push(
        m.status === 'awaiting_review'
          ? this.t('status.awaiting_line', { group: group?.title ?? '?' })
          : this.t('status.line', { group: group?.title ?? '?', status: this.t(`status.${m.status}`), expiresAt: m.expiresAt }),
      );
    }
    this.choices(lines.join('\n'), [{ value: 'cmd:renew', label: this.t('button.renew') }]);
  }

  private async renew() {
    const mine = new Set((await this.deps.store.memberships.list({ accountId: this.account.id })).filter((m) => m.status !== 'banned').map((m) => m.groupId));
    const plans = await this.plansForMe();
    const relevant = plans.filter((p) => p.groupIds.some((g) => mine.has(g)));
    await this.listPlans('renew.pick', relevant.length > 0 ? relevant : plans);
  }

  private async orders() {
    const orders = await this.deps.store.orders.page({ accountId: this.account.id, limit: 5 });
    if (orders.length === 0) return this.text('orders.none');
    const plans = new Map((await this.deps.store.plans.list()).map((p) => [p.id, p]));
    this.text('orders.heading');
    this.replies.push({
      type: 'text',
      text: orders
        .map((o) =>
          this.t('orders.line', {
            createdAt: o.createdAt,
            plan: plans.get(o.planId)?.name ?? '?',
            amount: formatMoney(o.amountMinor, o.currency),
            status: this.t(`order.${o.status}`),
          }),
        )
        .join('\n'),
    });
  }

  private async help() {
    const menu: ChoiceOption[] = [
      { value: 'cmd:plans', label: this.t('button.plans') },
      { value: 'cmd:status', label: this.t('button.status') },
      { value: 'cmd:renew', label: this.t('button.renew') },
      { value: 'cmd:orders', label: this.t('button.orders') },
    ];
    this.choices(this.t('help.member'), menu);
    if (this.account.isOwner) this.text('owner.help');
  }

  /** `/cancel` and `/resume`: auto-renewal off (access to the end of the paid period) or back on. */
  private async setRenewal(on: boolean) {
    let done;
    try {
      done = on ? await resumeRenewal(this.deps, this.account) : await cancelRenewal(this.deps, this.account);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'conflict') return this.text(on ? 'renewal.nothing_to_resume' : 'renewal.nothing_to_cancel');
      throw err;
    }
    for (const d of done) this.text(on ? 'renewal.resumed' : d.endedNow ? 'renewal.canceled_now' : 'renewal.canceled', { plan: d.plan, expiresAt: d.until });
  }

  /** `/billing` (账单): a short-lived link to the rail's page for the card that renews the membership. */
  private async billing() {
    let url: string | null;
    try {
      url = await billingPortalLink(this.deps, this.account);
    } catch (err) {
      if (err instanceof ProviderRejectedError || err instanceof ProviderUnreachableError) {
        this.deps.logger.warn({ err: err.message }, 'billing: the portal link could not be made');
        return this.text('renewal.billing_unavailable');
      }
      throw err;
    }
    if (!url) return this.text('renewal.no_billing');
    this.text('renewal.billing_link', { url });
  }

  private paySupport() {
    const own = this.deps.settings.paySupportText;
    if (own) this.replies.push({ type: 'text', text: own });
    else this.text('paysupport.default');
  }

  private async reinvite() {
    const r = await reinvite(this.deps, this.account);
    if (r.queued.length > 0) return this.text('roster.reinvite_queued', { groups: r.queued.join(', ') });
    if (r.alreadyIn.length > 0) return this.text('roster.reinvite_in', { groups: r.alreadyIn.join(', ') });
    this.text('roster.reinvite_none');
  }

  /** `/refund …`: an owner's `/refund <order-id> [reason]` when the first word is one of the orders, else a member's request. */
  private async refund(args: string[], rest: string) {
    const fresh = await this.deps.store.accounts.get(this.account.id);
    const orderId = args[0];
    if (fresh?.isOwner && orderId && /^[A-Za-z0-9_-]{1,64}$/.test(orderId) && (await this.deps.store.orders.get(orderId)))
      return this.owner('refund', args, rest);
    await this.memberRefund(rest);
    if (fresh?.isOwner && this.noRefund) this.text('owner.usage', { usage: OWNER_COMMAND_TABLE.refund.usage });
  }

  /** A member's refund on request (src/app/refund-window.ts), answered in their language. */
  private async memberRefund(reason: string, groupId?: number) {
    const r = await requestRefundOnRequest(this.deps, { account: this.account, reason, groupId });
    this.state.refundReason = undefined;
    switch (r.kind) {
      case 'requested':
        return this.text('refund.requested', { amount: r.amount, group: r.group.title });
      case 'choose':
        this.choices(
          this.t('refund.pick_group'),
          r.groups.map((g) => ({ value: `refund:${g.id}`, label: g.title })),
        );
        this.state.refundReason = reason.trim();
        return;
      case 'refused':
        return this.text(`refund.refused.${r.refusal}`, { group: r.group.title, hours: r.assessment.windowHours, closedAt: r.assessment.closesAt });
      case 'no_paid_order':
        this.noRefund = true;
        return r.group ? this.text('refund.no_order_in_group', { group: r.group.title }) : this.text('refund.no_order');
      case 'reason_needed':
        return this.text('refund.reason_needed', { max: MAX_REFUND_REASON });
      case 'reason_too_long':
        return this.text('refund.reason_too_long', { max: r.max });
    }
  }

  // ------------------------------------------------------------ referrals (issue 16)

  /** `/invite-friends` (邀请好友): the person's deep link where the platform has one, else the code to type. */
  private async inviteFriends() {
    const code = await referralCodeFor(this.deps, this.account);
    const gateway = this.deps.gateways.get(this.account.platform);
    const link = gateway?.startLink ? await gateway.startLink(`ref-${code}`) : null;
    if (link) return this.text('referral.invite_link', { link, code });
    this.text('referral.invite_code', { code });
  }

  /** `邀请码 <code>`: the code of whoever invited this person. */
  private async referralCode(code: string) {
    this.referralAnswer(await recordReferral(this.deps, this.account, code));
  }

  private referralAnswer(r: ReferralResult) {
    if (r.kind === 'recorded') return this.text('referral.recorded', { name: r.referrer.displayName ?? r.referrer.platformUserId });
    this.text(`referral.refused.${r.refusal}`);
  }

  /** `/referrals` (我的邀请): the person's own figures; an owner also gets the top referrers of their groups. */
  private async referrals() {
    const mine = await memberReferrals(this.deps, this.account);
    this.text('referral.summary', { referred: mine.referred, rewarded: mine.rewarded, days: mine.daysEarned });
    const fresh = await this.deps.store.accounts.get(this.account.id);
    if (!fresh?.isOwner) return;
    const top = await topReferrers(this.deps, { kind: 'account', accountId: fresh.id });
    if (top.length === 0) return this.text('referral.top_none');
    this.text('referral.top', {
      lines: top
        .map((r, i) => this.t('referral.top_line', { n: i + 1, name: r.displayName ?? r.platformUserId, referred: r.referred, days: r.days }))
        .join('\n'),
    });
  }

  private async unknown() {
    this.text('help.unknown');
    await this.help();
  }

  // ------------------------------------------------------------ owner

  private async claim(code: string) {
    const account = await redeemClaimCode(this.deps, {
      platform: this.account.platform,
      userId: this.account.platformUserId,
      displayName: this.account.displayName,
      code,
    });
    this.account = account;
    this.text('owner.claimed');
  }

  private async owner(command: OwnerCommand, args: string[], rest: string) {
    // Checked on every message, from the store: an owner flag is never cached.
    const fresh = await this.deps.store.accounts.get(this.account.id);
    if (!fresh?.isOwner) return this.unknown();
    this.asOwner = true;
    const spec = OWNER_COMMAND_TABLE[command];
    const parsed = spec.parse(args, rest);
    if (parsed === null) return this.text('owner.usage', { usage: spec.usage });
    const ctx: OwnerContext = {
      deps: this.deps,
      actor: { kind: 'account', accountId: fresh.id },
      t: (key, params) => this.t(key, params),
      text: (key, params) => this.text(key, params),
      say: (text) => void this.replies.push({ type: 'text', text }),
      money: (minor, currency) => formatMoneyIn(this.locale, minor, currency),
    };
    await spec.run(ctx, parsed);
  }
}

// ------------------------------------------------------------ owner command table

/** What an owner command's handler may use: the use cases' deps, the owner as an actor, and the replies. */
interface OwnerContext {
  deps: AppDeps;
  actor: Actor;
  t(key: string, params?: Record<string, string | number>): string;
  text(key: string, params?: Record<string, string | number>): void;
  say(text: string): void;
  /** An amount as the owner's locale writes it, for text built outside the catalogue ("¥9.90"). */
  money(amountMinor: number, currency: string): string;
}

/**
 * One owner command: its usage line, how its words are read (null: show the usage), and what it does.
 * Scope is checked by the use cases, or here through `assertOwnerOf`/`visibleGroups` (src/app/actors.ts).
 */
interface OwnerCommandSpec<P> {
  usage: string;
  parse(args: string[], rest: string): P | null;
  run(ctx: OwnerContext, input: P): Promise<void>;
}

const command = <P>(spec: OwnerCommandSpec<P>) => spec as OwnerCommandSpec<unknown>;

/** A positive id of up to 9 digits, or NaN. */
const id = (s: string | undefined) => (s && /^\d{1,9}$/.test(s) ? Number(s) : NaN);
/** The words from `from` on as one reason, if there are any. */
const reasonFrom = (args: string[], from: number) => args.slice(from).join(' ') || undefined;

const membershipCommand = (name: 'remove' | 'ban' | 'unban', act: typeof removeMember, replyKey: string) =>
  command({
    usage: `/${name} <membership-id> [reason]`,
    parse: (args) => (Number.isNaN(id(args[0])) ? null : { membershipId: id(args[0]), reason: reasonFrom(args, 1) }),
    run: async (ctx, input) => {
      const m = await act(ctx.deps, { actor: ctx.actor, ...input });
      ctx.text(replyKey, { id: m.id });
    },
  });

const POLICIES: readonly string[] = ['report', 'remove', 'ignore'];

/** The dry run, as the owner reads it. */
async function showDryRun(ctx: OwnerContext, group: Group) {
  const report = await dryRun(ctx.deps, ctx.actor, group);
  const policy = ctx.t(`roster.policy.${group.intruderPolicy}`);
  if (report.intruders.length === 0) return ctx.text('roster.dry_run_none', { group: group.title, policy });
  const lines = report.intruders.map((p, i) => ctx.t('roster.dry_run_line', { n: i + 1, name: p.name, userId: p.userId })).join('\n');
  ctx.text('roster.dry_run', { group: group.title, groupId: group.id, policy, count: report.intruders.length, lines, reportId: report.id });
}

/** A blacklist entry's line, as an owner reads it. */
const blacklistLine = (e: { id: number; groupId: number | null; kind: string; platform: string | null; value: string; reason: string | null }) =>
  `#${e.id} ${e.groupId === null ? '*' : `group ${e.groupId}`}: ${e.kind} ${e.platform ? `${e.platform}:` : ''}${e.value}${e.reason ? ` (${e.reason})` : ''}`;

const OWNER_COMMAND_TABLE: Record<OwnerCommand, OwnerCommandSpec<unknown>> = {
  approve: command({
    usage: '/approve <application-id> [reason]  (通过 <n>)',
    parse: (args) => (Number.isNaN(id(args[0])) ? null : { applicationId: id(args[0]), reason: reasonFrom(args, 1) }),
    run: async (ctx, input) => {
      const app = await approveApplication(ctx.deps, { actor: ctx.actor, ...input });
      ctx.text('owner.review_approved', { id: app.id });
    },
  }),
  reject: command({
    usage: '/reject <application-id> <reason>  (拒绝 <n> <原因>)',
    parse: (args) => (Number.isNaN(id(args[0])) ? null : { applicationId: id(args[0]), reason: reasonFrom(args, 1) }),
    run: async (ctx, input: { applicationId: number; reason?: string }) => {
      // The button carries no reason: the member is told it was not accepted by the owner.
      const app = await rejectApplication(ctx.deps, {
        actor: ctx.actor,
        applicationId: input.applicationId,
        reason: input.reason ?? 'not accepted by the owner',
      });
      ctx.text('owner.review_rejected', { id: app.id });
    },
  }),
  applications: command({
    usage: '/applications',
    parse: () => ({}),
    run: async (ctx) => {
      const apps = await listApplications(ctx.deps, ctx.actor, { status: 'pending', limit: 20 });
      if (apps.length === 0) return ctx.text('owner.applications_none');
      ctx.say(
        apps
          .map((a) =>
            ctx.t('owner.application_line', {
              id: a.id,
              who: a.displayName ?? a.platformUserId,
              amount: ctx.money(a.amountMinor, a.currency),
              verdicts: a.verdicts.map((v) => `${v.rule} ${v.verdict}`).join(', '),
              deadlineAt: a.deadline,
            }),
          )
          .join('\n'),
      );
    },
  }),
  joinmode: command({
    usage: '/joinmode <group-id> auto|review|door',
    parse: (args) =>
      Number.isNaN(id(args[0])) || (args[1] !== 'auto' && args[1] !== 'review' && args[1] !== 'door') || args.length > 2
        ? null
        : { groupId: id(args[0]), mode: args[1] },
    run: async (ctx, input: { groupId: number; mode: 'auto' | 'review' | 'door' }) => {
      const g = await updateGroupSettings(ctx.deps, { actor: ctx.actor, groupId: input.groupId, changes: { joinMode: input.mode } });
      ctx.text('owner.joinmode_set', { groupId: g.id, group: g.title, mode: g.joinMode });
      // Pay at the door: the shared join-request link the owner posts anywhere (app/door.ts).
      const link = g.joinMode === 'door' && ctx.deps.gateways.has(g.platform) ? await doorLinkFor(ctx.deps, ctx.actor, g) : null;
      if (link) ctx.text('owner.door_link', { group: g.title, link });
    },
  }),
  questions: command({
    usage: '/questions <group-id> [add <text> | remove <n> | list]',
    parse: (args, rest) => {
      const groupId = id(args[0]);
      if (Number.isNaN(groupId)) return null;
      const action = args[1] ?? 'list';
      if (action === 'list' && args.length <= 2) return { groupId, action };
      if (action === 'add') {
        const text = rest.slice(rest.indexOf('add') + 3).trim();
        return text ? { groupId, action, text } : null;
      }
      if (action === 'remove' && args.length === 3 && !Number.isNaN(id(args[2]))) return { groupId, action, n: id(args[2]) };
      return null;
    },
    run: async (ctx, input: { groupId: number; action: string; text?: string; n?: number }) => {
      if (input.action === 'add') {
        await addQuestion(ctx.deps, ctx.actor, input.groupId, input.text!);
        return ctx.text('owner.question_added', { groupId: input.groupId });
      }
      if (input.action === 'remove') {
        const q = await removeQuestion(ctx.deps, ctx.actor, input.groupId, input.n!);
        return ctx.text('owner.question_removed', { groupId: input.groupId, question: q.text });
      }
      const list = await listQuestions(ctx.deps, ctx.actor, input.groupId);
      if (list.length === 0) return ctx.text('owner.questions_none', { groupId: input.groupId });
      ctx.text('owner.questions_list', { groupId: input.groupId, lines: list.map((q, i) => `${i + 1}. ${q.text}`).join('\n') });
    },
  }),
  blacklist: command({
    usage: '/blacklist [<group-id>|all add user|account|name <value> [reason] | remove <entry-id>]',
    parse: (args) => {
      if (args.length === 0) return { action: 'list' };
      if (args[0] === 'remove') return args.length === 2 && !Number.isNaN(id(args[1])) ? { action: 'remove', entryId: id(args[1]) } : null;
      const groupId = args[0] === 'all' ? null : id(args[0]);
      if (groupId !== null && Number.isNaN(groupId)) return null;
      if (args.length === 1) return { action: 'list', groupId };
      if (args[1] !== 'add' || !args[2] || !args[3]) return null;
      return { action: 'add', groupId, kind: args[2], value: args[3], reason: reasonFrom(args, 4) };
    },
    run: async (ctx, input: { action: string; groupId?: number | null; kind?: string; value?: string; reason?: string; entryId?: number }) => {
      if (input.action === 'add') {
        const platform = ctx.actor.kind === 'account' ? ((await ctx.deps.store.accounts.get(ctx.actor.accountId))?.platform ?? null) : null;
        const e = await addBlacklist(ctx.deps, ctx.actor, {
          groupId: input.groupId ?? null,
          kind: input.kind!,
          value: input.value!,
          platform,
          reason: input.reason,
        });
        return ctx.text('owner.blacklist_added', { id: e.id });
      }
      if (input.action === 'remove') {
        const e = await removeBlacklist(ctx.deps, ctx.actor, input.entryId!);
        return ctx.text('owner.blacklist_removed', { id: e.id });
      }
      const list = await listBlacklist(ctx.deps, ctx.actor, input.groupId ?? undefined);
      if (list.length === 0) return ctx.text('owner.blacklist_none');
      ctx.text('owner.blacklist_list', { lines: list.map(blacklistLine).join('\n') });
    },
  }),
  digest: command({
    usage: '/digest on|off',
    parse: (args) => (args.length === 1 && (args[0] === 'on' || args[0] === 'off') ? { on: args[0] === 'on' } : null),
    run: async (ctx, { on }) => {
      await setDigest(ctx.deps, ctx.actor, on);
      ctx.text(on ? 'owner.digest_on' : 'owner.digest_off', { hour: ctx.deps.settings.digestHour ?? 9 });
    },
  }),
  ownerhelp: command({
    usage: '/ownerhelp',
    parse: () => ({}),
    run: async (ctx) => ctx.text('owner.help'),
  }),
  groups: command({
    usage: '/groups',
    parse: () => ({}),
    run: async (ctx) => {
      const { store } = ctx.deps;
      const groups = await visibleGroups(store, ctx.actor);
      if (groups.length === 0) return ctx.text('owner.groups_none');
      const lines = [];
      for (const g of groups) {
        const members = [
          ...(await store.memberships.list({ groupId: g.id, status: 'active' })),
          ...(await store.memberships.list({ groupId: g.id, status: 'grace' })),
        ].length;
        const plans = (await store.plans.list({ groupId: g.id, activeOnly: true }))
          .map((p) => `#${p.id} ${p.name} ${ctx.money(p.priceMinor, p.currency)}/${p.durationDays}d`)
          .join(', ');
        lines.push(ctx.t('owner.group_line', { id: g.id, title: g.title, platform: g.platform, members, plans: plans || '-' }));
      }
      ctx.say(lines.join('\n'));
    },
  }),
  members: command({
    usage: '/members <group-id> [soon]',
    parse: (args) => (Number.isNaN(id(args[0])) ? null : { groupId: id(args[0]), soon: args[1] === 'soon' || args[1] === '即将到期' }),
    run: async (ctx, { groupId, soon }) => {
      const { store, clock } = ctx.deps;
      const group = await store.groups.get(groupId);
      if (!group) return ctx.text('owner.error', { reason: `no group with id ${groupId}` });
      await assertOwnerOf(store, ctx.actor, group);
      const members = await store.memberships.page({
        groupId,
        status: soon ? 'active' : undefined,
        expiresBefore: soon ? clock.now() + 7 * DAY_MS : undefined,
        limit: 50,
      });
      if (members.length === 0) return ctx.text('owner.members_none');
      ctx.say(
        members
          .map((m) =>
            ctx.t('owner.member_line', { id: m.id, name: m.displayName ?? m.platformUserId, status: ctx.t(`status.${m.status}`), expiresAt: m.expiresAt }),
          )
          .join('\n'),
      );
    },
  }),
  addplan: command({
    usage: '/addplan <group-id> <price> <currency> <days> <name> [stars=<n>] [trial=<days>] [recurring]',
    parse: (args) => {
      const [g, price, currency, days, ...name] = args;
      // `stars=<n>` (the plan's price in Telegram Stars) and `trial=<days>` (a free trial, issue 16) may come anywhere after the days.
      const stars = name.find((a) => /^stars=/i.test(a));
      const trial = name.find((a) => /^trial=/i.test(a));
      // `recurring` (a last word): the payment rail renews the plan by itself (Stars: 30-day plans).
      const recurring = name.length > 1 && name.at(-1)!.toLowerCase() === 'recurring';
      const words = name.filter((a, i) => a !== stars && a !== trial && !(recurring && i === name.length - 1));
      if (Number.isNaN(id(g)) || !price || !currency || !days || words.length === 0) return null;
      return {
        groupIds: [id(g)],
        name: words.join(' '),
        price,
        currency,
        days: Number.isInteger(Number(days)) ? Number(days) : NaN,
        ...(stars ? { stars: stars.slice('stars='.length) } : {}),
        ...(recurring ? { recurring: true } : {}),
        ...(trial ? { trialDays: /^trial=\d{1,4}$/i.test(trial) ? Number(trial.slice('trial='.length)) : NaN } : {}),
      };
    },
    run: async (ctx, input) => {
      const plan = await addPlan(ctx.deps, { ...input, actor: ctx.actor });
      const price = formatMoney(plan.priceMinor, plan.currency) + (plan.starsPrice === null ? '' : ` / ${plan.starsPrice} ⭐`);
      ctx.text('owner.plan_added', { id: plan.id, name: plan.name, price, days: plan.durationDays });
    },
  }),
  // Coupons (issue 16): the same use cases as `gatekeeper coupon …`; an owner's coupon names their plan.
  addcoupon: command({
    usage: '/addcoupon <code> <percent>% <plan-id> [max-uses]',
    parse: (args) => {
      const [code, pct, plan, max] = args;
      const percent = pct && /^\d{1,3}%$/.test(pct) ? Number(pct.slice(0, -1)) : NaN;
      if (!code || Number.isNaN(percent) || Number.isNaN(id(plan)) || (max !== undefined && Number.isNaN(id(max)))) return null;
      return { code, percent, planIds: [id(plan)], ...(max !== undefined ? { maxUses: id(max) } : {}) };
    },
    run: async (ctx, input) => {
      const c = await createCoupon(ctx.deps, { ...input, actor: ctx.actor });
      ctx.text('owner.coupon_added', { code: c.code, percent: c.percent ?? 0, plans: (c.planIds ?? []).join(', '), max: c.maxUses ?? '∞' });
    },
  }),
  coupons: command({
    usage: '/coupons',
    parse: () => ({}),
    run: async (ctx) => {
      const list = (await listCoupons(ctx.deps, ctx.actor, 50)).filter((c) => c.source !== 'winback');
      if (list.length === 0) return ctx.text('owner.coupons_none');
      ctx.say(
        list
          .map((c) =>
            ctx.t('owner.coupon_line', {
              code: c.code,
              off: c.percent !== null ? `${c.percent}%` : ctx.money(c.amountMinor!, c.currency!),
              uses: c.uses,
              max: c.maxUses ?? '∞',
              state: ctx.t(c.active ? 'owner.coupon_active' : 'owner.coupon_disabled'),
            }),
          )
          .join('\n'),
      );
    },
  }),
  disablecoupon: command({
    usage: '/disablecoupon <code>',
    parse: (args) => (args[0] ? { code: args[0] } : null),
    run: async (ctx, { code }) => {
      const c = await disableCoupon(ctx.deps, { code, actor: ctx.actor });
      ctx.text('owner.coupon_disabled_done', { code: c.code });
    },
  }),
  disableplan: command({
    usage: '/disableplan <plan-id>',
    parse: (args) => (Number.isNaN(id(args[0])) ? null : { planId: id(args[0]) }),
    run: async (ctx, { planId }) => {
      await disablePlan(ctx.deps, { planId, actor: ctx.actor });
      ctx.text('owner.plan_disabled', { id: planId });
    },
  }),
  extend: command({
    usage: '/extend <membership-id> <days> [reason]',
    parse: (args) => {
      const days = args[1] !== undefined && /^-?\d{1,7}$/.test(args[1]) ? Number(args[1]) : NaN;
      if (Number.isNaN(id(args[0])) || Number.isNaN(days)) return null;
      return { membershipId: id(args[0]), days, reason: reasonFrom(args, 2) };
    },
    run: async (ctx, input) => {
      const m = await extendMembership(ctx.deps, { actor: ctx.actor, ...input });
      ctx.text('owner.extended', { id: m.id, expiresAt: m.expiresAt });
    },
  }),
  remove: membershipCommand('remove', removeMember, 'owner.removed'),
  ban: membershipCommand('ban', banMember, 'owner.banned'),
  unban: membershipCommand('unban', unbanMember, 'owner.unbanned'),
  refund: command({
    usage: '/refund <order-id> [reason]',
    parse: (args) => (!args[0] || !/^[A-Za-z0-9_-]{1,64}$/.test(args[0]) ? null : { orderId: args[0], reason: reasonFrom(args, 1) }),
    run: async (ctx, input) => {
      const o = await requestRefund(ctx.deps, { actor: ctx.actor, ...input });
      ctx.text('owner.refund_requested', { id: o.id });
    },
  }),
  console: command({
    usage: '/console',
    parse: () => ({}),
    run: async (ctx) => {
      // Only an account reaches here (owner commands come from chat); the link signs in as that owner.
      if (ctx.actor.kind !== 'account') return;
      const link = await issueLoginLink(ctx.deps, ctx.actor, ctx.actor.accountId);
      ctx.text('owner.console_link', { url: link.url, expiresAt: link.expiresAt });
    },
  }),
  stats: command({
    usage: '/stats',
    parse: () => ({}),
    run: async (ctx) => {
      const s = await computeStats(ctx.deps, ctx.actor);
      const revenue = s.revenue.map((r) => formatMoney(r.netMinor, r.currency)).join(', ') || formatMoney(0, 'CNY');
      ctx.text('owner.stats', { month: s.month, active: s.activeMembers, revenue, renewals: s.renewals, churn: s.churn });
      // Auto-renewal only once there is something to say (a plan that renews, or a renewal that failed).
      if (s.autoRenew.members > 0 || s.autoRenew.failedRenewals > 0)
        ctx.text('owner.stats_auto_renew', { members: s.autoRenew.members, percent: Math.round(s.autoRenew.share * 100), failed: s.autoRenew.failedRenewals });
      // Trials and coupons (issue 16) only once there is something to say.
      if (s.growth.trialsStarted > 0 || s.growth.couponsRedeemed > 0)
        ctx.text('owner.stats_growth', {
          trials: s.growth.trialsStarted,
          converted: s.growth.trialsConverted,
          percent: Math.round(s.growth.trialConversion * 100),
          coupons: s.growth.couponsRedeemed,
        });
    },
  }),
  intruders: command({
    usage: '/intruders [<group-id> [report|remove|ignore]]',
    parse: (args) => {
      if (args.length === 0) return {};
      const policy = args[1]?.toLowerCase();
      if (Number.isNaN(id(args[0])) || args.length > 2 || (policy !== undefined && !POLICIES.includes(policy))) return null;
      return { groupId: id(args[0]), policy: policy as IntruderPolicy | undefined };
    },
    run: async (ctx, input: { groupId?: number; policy?: IntruderPolicy }) => {
      if (input.groupId === undefined) {
        const groups = await visibleGroups(ctx.deps.store, ctx.actor);
        const lines = groups.map((g) => ctx.t('roster.group_line', { id: g.id, title: g.title, policy: ctx.t(`roster.policy.${g.intruderPolicy}`) }));
        return ctx.text('roster.groups', { lines: lines.join('\n') || '-' });
      }
      const group = await ownedGroup(ctx.deps.store, ctx.actor, input.groupId);
      if (input.policy === undefined) return showDryRun(ctx, group);
      if (input.policy === 'remove') {
        const r = await confirmRemove(ctx.deps, ctx.actor, group);
        if (!r.set) {
          // `remove` only after the owner has seen who it would remove.
          await showDryRun(ctx, group);
          return ctx.text('roster.confirm_first', { groupId: group.id });
        }
        ctx.text('roster.policy_set', { group: group.title, policy: ctx.t('roster.policy.remove') });
        return ctx.text('roster.removing', { count: r.queued });
      }
      await setIntruderPolicy(ctx.deps, ctx.actor, group, input.policy);
      ctx.text('roster.policy_set', { group: group.title, policy: ctx.t(`roster.policy.${input.policy}`) });
    },
  }),
  whitelist: command({
    usage: '/whitelist <group-id> [<user-id> | #<n>]',
    parse: (args) => {
      if (Number.isNaN(id(args[0])) || args.length > 2) return null;
      const who = args.length === 2 ? parsePersonRef(args[1]) : undefined;
      return who === null ? null : { groupId: id(args[0]), who };
    },
    run: async (ctx, input: { groupId: number; who?: PersonRef }) => {
      const group = await ownedGroup(ctx.deps.store, ctx.actor, input.groupId);
      if (!input.who) {
        const names = (await listWhitelist(ctx.deps, ctx.actor, group)).map((w) => (w.name && w.name !== w.userId ? `${w.name} (${w.userId})` : w.userId));
        return ctx.text('roster.whitelist_list', { group: group.title, names: names.join(', ') || '-' });
      }
      const p = await resolvePerson(ctx.deps, ctx.actor, group, input.who);
      await whitelist(ctx.deps, ctx.actor, group, p);
      ctx.text('roster.whitelisted', { group: group.title, name: p.name, userId: p.userId });
    },
  }),
  unwhitelist: command({
    usage: '/unwhitelist <group-id> <user-id> | #<n>',
    parse: (args) => {
      const who = parsePersonRef(args[1]);
      return Number.isNaN(id(args[0])) || !who || args.length > 2 ? null : { groupId: id(args[0]), who };
    },
    run: async (ctx, input: { groupId: number; who: PersonRef }) => {
      const group = await ownedGroup(ctx.deps.store, ctx.actor, input.groupId);
      const p = await resolvePerson(ctx.deps, ctx.actor, group, input.who);
      if (!(await unwhitelist(ctx.deps, ctx.actor, group, p.userId))) throw new DomainError('not_found', `${p.userId} is not whitelisted in group ${group.id}`);
      ctx.text('roster.unwhitelisted', { group: group.title, name: p.name, userId: p.userId });
    },
  }),
  refundwindow: command({
    usage: '/refundwindow <group-id> <hours>',
    parse: (args) =>
      Number.isNaN(id(args[0])) || !/^\d{1,4}$/.test(args[1] ?? '') || args.length > 2 ? null : { groupId: id(args[0]), hours: Number(args[1]) },
    run: async (ctx, { groupId, hours }) => {
      const g = await updateGroupSettings(ctx.deps, { actor: ctx.actor, groupId, changes: { refundWindowHours: hours } });
      if (g.refundWindowHours === 0) return ctx.text('owner.refund_window_off', { group: g.title });
      ctx.text('owner.refund_window_set', { group: g.title, hours: g.refundWindowHours });
    },
  }),
  broadcast: command({
    usage: '/broadcast <group-id> <text>',
    parse: (args, rest) => {
      const text = rest.slice((args[0] ?? '').length).trim();
      return Number.isNaN(id(args[0])) || !text ? null : { groupId: id(args[0]), text };
    },
    run: async (ctx, input) => {
      const r = await broadcast(ctx.deps, { actor: ctx.actor, ...input });
      ctx.text('owner.broadcast_queued', { count: r.queued });
    },
  }),
};
