// Pay on the phone you chat on (issue 21). The rules, once:
//   - Which rail the pay page offers, from where it is opened (chooseRail): inside WeChat a WeChat Pay order
//     pays by JSAPI when an Official Account is configured; a phone browser pays by WeChat Pay H5 or Alipay WAP
//     when switched on; an Alipay order inside WeChat gets the "open in your browser" hint (WeChat blocks
//     Alipay pages); everything else, and "pay on another device", is the QR code as before.
//   - One order, several attempts: each phone rail is an attempt of the same order under its own trade number
//     (payment_attempts), made only when that rail is used and only while the order can be paid. The order's
//     own out_trade_no stays its QR attempt; once a second rail exists it is listed too, so every attempt of
//     such an order maps back to it. A paid notification for any attempt confirms the order through the one
//     exactly-once path (confirm-payment.ts); the fast path there is kept for orders without attempts.
//   - When one attempt is paid the others are closed at the provider (a job, never inside a transaction). A
//     second attempt paid anyway is refunded automatically (its refund number is stored before the call), the
//     member keeps the one period the first payment bought, the owner is told and it is audited. A provider
//     that refuses that refund leaves it for the owner to handle (alert + audit).
//   - The Official Account authorization `state` is bound to the order, signed (HMAC), single-use (consumed in
//     the database, so it holds across instances) and valid for 10 minutes.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { invalid, notFound, ProviderRejectedError } from '../domain/errors.ts';
import { newOutTradeNo } from '../domain/ids.ts';
import { formatMoney } from '../domain/money.ts';
import { MINUTE_MS } from '../domain/time.ts';
import type { AppDeps } from './deps.ts';
import { alertOwnersJob, CLOSE_ATTEMPTS, closeAttemptsJob, REFUND_ATTEMPT, refundAttemptJob } from './job-kinds.ts';
import type { JobRegistry } from './job-registry.ts';
import type { Order, PaymentAttempt, Rail } from './model.ts';
import type { PaymentProvider, PhonePay, PhoneRail, ProviderEvent, Repos } from './ports.ts';
import { payPageUrl } from './checkout.ts';
import { handleProviderEvent } from './confirm-payment.ts';

// ------------------------------------------------------------------ which rail

/** What the pay page shows first. `qr` is also what "pay on another device" always switches to. */
export type RailChoice = { kind: 'qr' } | { kind: 'open_in_browser' } | { kind: 'phone'; rail: PhoneRail };

/** WeChat's in-app browser names itself `MicroMessenger/<version>` in its User-Agent. */
export const isWechatBrowser = (ua: string) => /MicroMessenger\//i.test(ua);
/** A phone or tablet browser (the ones that cannot scan their own screen). */
export const isMobileBrowser = (ua: string) => /Android|iPhone|iPad|iPod|Mobile|HarmonyOS|OpenHarmony/i.test(ua);

export function chooseRail(ua: string, provider: { name: string; phoneRails?: readonly PhoneRail[] } | undefined): RailChoice {
  const rails = provider?.phoneRails ?? [];
  if (isWechatBrowser(ua)) {
    if (provider?.name === 'wechatpay' && rails.includes('jsapi')) return { kind: 'phone', rail: 'jsapi' };
    if (provider?.name === 'alipay') return { kind: 'open_in_browser' };
    return { kind: 'qr' };
  }
  if (isMobileBrowser(ua)) {
    if (provider?.name === 'wechatpay' && rails.includes('h5')) return { kind: 'phone', rail: 'h5' };
    if (provider?.name === 'alipay' && rails.includes('alipay_wap')) return { kind: 'phone', rail: 'alipay_wap' };
  }
  return { kind: 'qr' };
}

const qrRailOf = (provider: string): Rail => (provider === 'alipay' ? 'alipay_qr' : 'native');

/** H5's h5_url lives 5 minutes at WeChat Pay; an attempt older than this gets a fresh one. */
export const H5_URL_REUSE_MS = 4 * MINUTE_MS;

// ------------------------------------------------------------------ attempts

export type PhonePayStart =
  /** The order cannot be paid any more (paid, expired, refunded…): no prepay was made; show its status. */
  { state: 'not_payable'; order: Order } | { state: 'ready'; order: Order; attempt: PaymentAttempt; pay: PhonePay };

/**
 * Opens (or re-shows) the order's attempt on `rail`: the attempt row is committed first, then the provider
 * is called outside any transaction (as checkout does). Throws the provider's errors (the page falls back
 * to the QR code with one sentence).
 */
export async function startPhonePay(deps: AppDeps, input: { orderId: string; rail: PhoneRail; payerIp?: string; openid?: string }): Promise<PhonePayStart> {
  const { store, clock, settings } = deps;
  const first = await store.orders.get(input.orderId);
  if (!first) throw notFound(`no order with id ${input.orderId}`);
  const provider = deps.providers.get(first.provider);
  if (!provider?.startPhonePay || !(provider.phoneRails ?? []).includes(input.rail))
    throw invalid(`${first.provider} orders cannot be paid by ${input.rail} here`);
  if (input.rail === 'jsapi' && !input.openid) throw invalid("a JSAPI payment needs the payer's openid");
  if (input.rail === 'h5' && !input.payerIp) throw invalid("an H5 payment needs the payer's address");
  const payer = input.rail === 'jsapi' ? input.openid! : null;

  const now = clock.now();
  const made = await store.transaction(async (tx) => {
    const order = await tx.orders.getForUpdate(input.orderId);
    if (!order) throw notFound(`no order with id ${input.orderId}`);
    // Never a new way to pay an order that is paid, refunded, in review or past its window.
    if (order.status !== 'pending' || order.expiresAt <= now) return { order, attempt: null, plan: null };
    const plan = await tx.plans.get(order.planId);
    if (!plan) throw notFound(`order ${order.id} names a plan that does not exist`);
    const attempts = await tx.attempts.listForOrder(order.id);
    const reuse = attempts.find(
      (a) =>
        a.rail === input.rail &&
        a.payer === payer &&
        a.closedAt === null &&
        a.paidTxnId === null &&
        (input.rail !== 'h5' || (a.prepay !== null && now - a.createdAt < H5_URL_REUSE_MS)),
    );
    if (reuse) return { order, attempt: reuse, plan };
    // The QR is the order's first attempt: listed once a second rail exists, so every attempt maps back.
    await tx.attempts.insertIfAbsent({ tradeNo: order.outTradeNo, orderId: order.id, rail: qrRailOf(order.provider), payer: null }, now);
    const tradeNo = newOutTradeNo();
    await tx.attempts.insertIfAbsent({ tradeNo, orderId: order.id, rail: input.rail, payer }, now);
    await tx.audit.insert({
      at: now,
      actor: `account:${order.accountId}`,
      action: 'order.attempt',
      subjectType: 'order',
      subjectId: order.id,
      reason: `pay by ${input.rail} under trade number ${tradeNo}`,
      detail: { tradeNo, rail: input.rail },
    });
    return { order, attempt: (await tx.attempts.get(tradeNo))!, plan };
  });
  if (!made.attempt || !made.plan) return { state: 'not_payable', order: made.order };

  const pay = await provider.startPhonePay({
    rail: input.rail,
    order: made.order,
    plan: made.plan,
    tradeNo: made.attempt.tradeNo,
    notifyUrl: `${settings.publicUrl}/webhooks/${provider.name}`,
    payPageUrl: payPageUrl(settings.publicUrl, made.order.id),
    payerIp: input.payerIp,
    openid: input.openid,
    prepay: made.attempt.prepay,
  });
  if (JSON.stringify(pay.prepay) !== JSON.stringify(made.attempt.prepay)) await store.attempts.setPrepay(made.attempt.tradeNo, pay.prepay);
  return { state: 'ready', order: made.order, attempt: { ...made.attempt, prepay: pay.prepay }, pay };
}

/**
 * The order a trade number belongs to: its own out_trade_no, else one of its attempts'. `attempt()` reads the
 * attempt row only when asked (a duplicate's careful path never needs it), at most once.
 */
export async function orderForTrade(tx: Repos, tradeNo: string): Promise<{ order: Order | null; attempt: () => Promise<PaymentAttempt | null> }> {
  const own = await tx.orders.findByOutTradeNo(tradeNo);
  if (own) {
    let read: Promise<PaymentAttempt | null> | undefined;
    return { order: own, attempt: () => (read ??= tx.attempts.get(tradeNo)) };
  }
  const found = await tx.attempts.get(tradeNo);
  if (!found) return { order: null, attempt: async () => null };
  return { order: await tx.orders.get(found.orderId), attempt: async () => found };
}

/** The order as the provider knows the attempt: the same order under that attempt's trade number. */
export const underTrade = (order: Order, tradeNo: string): Order => ({ ...order, outTradeNo: tradeNo });

/**
 * The order under the trade number that paid it (its refund and refund queries name that one). An order
 * paid by its QR, or without attempts, is itself.
 */
export async function asPaid(store: Pick<Repos, 'attempts'>, order: Order): Promise<Order> {
  if (!order.providerTxnId) return order;
  const paid = (await store.attempts.listForOrder(order.id)).find((a) => a.paidTxnId === order.providerTxnId);
  return paid ? underTrade(order, paid.tradeNo) : order;
}

type PaidEvent = Extract<ProviderEvent, { type: 'paid' }>;

/** Inside confirm's transaction: the order moved to paid through `attempt`; the other attempts get closed. */
export async function notePaidAttempt(tx: Repos, attempt: PaymentAttempt, event: PaidEvent, now: number): Promise<void> {
  await tx.attempts.markPaid(attempt.tradeNo, { txnId: event.providerTxnId, paidAt: event.paidAt, amountMinor: event.amountMinor, outRefundNo: null });
  await tx.jobs.enqueue([closeAttemptsJob(attempt.orderId)], now);
}

/**
 * Inside confirm's transaction: `event` paid `attempt` of an order that another attempt had paid already.
 * 'second_payment' when this is news (its refund is queued under a stored number, the owner told, audited),
 * 'duplicate' when this second payment was reported before, null when it is not a second payment at all.
 */
export async function noteSecondPayment(
  tx: Repos,
  provider: PaymentProvider,
  order: Order,
  attempt: PaymentAttempt | null,
  event: PaidEvent,
  now: number,
): Promise<'second_payment' | 'duplicate' | null> {
  if (!attempt || !order.providerTxnId || order.providerTxnId === event.providerTxnId) return null;
  if (attempt.paidTxnId !== null) return attempt.paidTxnId === event.providerTxnId ? 'duplicate' : null;
  const outRefundNo = newOutTradeNo();
  if (!(await tx.attempts.markPaid(attempt.tradeNo, { txnId: event.providerTxnId, paidAt: event.paidAt, amountMinor: event.amountMinor, outRefundNo })))
    return 'duplicate';
  const plan = await tx.plans.get(order.planId);
  const amount = formatMoney(event.amountMinor, event.currency);
  await tx.audit.insert({
    at: now,
    actor: `provider:${provider.name}`,
    action: 'order.second_payment',
    subjectType: 'order',
    subjectId: order.id,
    reason: `paid twice: ${attempt.rail} attempt ${attempt.tradeNo} paid ${amount} after the order was paid; refunding it automatically, the member keeps one period`,
    detail: { tradeNo: attempt.tradeNo, providerTxnId: event.providerTxnId, amountMinor: event.amountMinor, outRefundNo },
  });
  await tx.jobs.enqueue(
    [
      refundAttemptJob(attempt.tradeNo),
      alertOwnersJob(
        { groupIds: plan?.groupIds ?? [], message: { key: 'owner.second_payment', params: { orderId: order.id, amount, rail: attempt.rail } } },
        `alert:second-payment:${attempt.tradeNo}`,
      ),
    ],
    now,
  );
  return 'second_payment';
}

/**
 * Inside the refunded event's transaction: a refund reported for a second payment's attempt. True when it
 * was one (booked on the attempt, never on the order's ledger), false when the trade is the order's payment.
 */
export async function noteAttemptRefund(tx: Repos, attempt: PaymentAttempt | null, refundId: string, now: number): Promise<boolean> {
  if (!attempt?.outRefundNo) return false;
  if (await tx.attempts.markRefunded(attempt.tradeNo, refundId, now))
    await tx.audit.insert({
      at: now,
      actor: 'system',
      action: 'order.second_payment_refunded',
      subjectType: 'order',
      subjectId: attempt.orderId,
      reason: `the second payment under ${attempt.tradeNo} was refunded`,
      detail: { tradeNo: attempt.tradeNo, refundId },
    });
  return true;
}

/** Closes every open, unpaid attempt of the order at the provider (but `skip`); returns those the provider refused to close. */
async function closeAttempts(deps: AppDeps, order: Order, provider: PaymentProvider, skip?: string): Promise<string[]> {
  const stillOpen: string[] = [];
  for (const a of await deps.store.attempts.listForOrder(order.id)) {
    if (a.closedAt !== null || a.paidTxnId !== null || a.tradeNo === skip) continue;
    try {
      await provider.close(underTrade(order, a.tradeNo));
      await deps.store.attempts.close(a.tradeNo, deps.clock.now());
    } catch (err) {
      // Refused: most likely paid at this very moment. Ask, and a payment goes the exactly-once way (refunded if second).
      if (!(err instanceof ProviderRejectedError)) throw err;
      stillOpen.push(a.tradeNo);
    }
  }
  return stillOpen;
}

/** Asks the provider about each attempt of the order (besides its own trade number) and handles what was paid. */
export async function reconcileAttempts(deps: AppDeps, order: Order, provider: PaymentProvider, only?: string[]): Promise<void> {
  for (const a of await deps.store.attempts.listForOrder(order.id)) {
    if (a.tradeNo === order.outTradeNo || a.paidTxnId !== null || (only && !only.includes(a.tradeNo))) continue;
    const result = await provider.query(underTrade(order, a.tradeNo));
    if (result.state === 'paid')
      await handleProviderEvent(
        deps,
        provider,
        { ...result.event, eventId: `query:${result.event.providerTxnId}` },
        JSON.stringify({ source: 'reconcile', tradeNo: a.tradeNo }),
      );
  }
}

/** Closing an expired order closes its phone attempts too (the QR itself is closed by the close_order job). */
export async function closeExpiredAttempts(deps: AppDeps, order: Order, provider: PaymentProvider): Promise<string[]> {
  return closeAttempts(deps, order, provider, order.outTradeNo);
}

export function registerPhonePayJobs(registry: JobRegistry, deps: AppDeps): void {
  registry.register(CLOSE_ATTEMPTS, async ({ orderId }) => {
    const order = await deps.store.orders.get(orderId);
    if (!order) return;
    const provider = deps.providers.get(order.provider);
    if (!provider) return;
    const refused = await closeAttempts(deps, order, provider);
    if (refused.length > 0) await reconcileAttempts(deps, order, provider, refused);
  });

  registry.register(REFUND_ATTEMPT, async ({ tradeNo }) => {
    const attempt = await deps.store.attempts.get(tradeNo);
    if (!attempt?.outRefundNo || attempt.refundedAt !== null || attempt.amountMinor === null) return;
    const order = await deps.store.orders.get(attempt.orderId);
    if (!order) return;
    const provider = deps.providers.get(order.provider);
    if (!provider) throw new ProviderRejectedError(order.provider, 'provider not enabled, cannot refund the second payment');
    let result;
    try {
      result = await provider.refund({
        order: { ...underTrade(order, tradeNo), outRefundNo: attempt.outRefundNo },
        outRefundNo: attempt.outRefundNo,
        amountMinor: attempt.amountMinor,
        reason: 'paid twice for one order',
      });
    } catch (err) {
      if (!(err instanceof ProviderRejectedError)) throw err;
      // The provider will not give it back by itself: the owner has to, in the provider's dashboard.
      const now = deps.clock.now();
      const plan = await deps.store.plans.get(order.planId);
      return {
        audit: [
          {
            at: now,
            actor: `provider:${provider.name}`,
            action: 'order.second_payment_refund_refused',
            subjectType: 'order',
            subjectId: order.id,
            reason: `the refund of the second payment under ${tradeNo} was refused: ${err.message}`,
            detail: { tradeNo },
          },
        ],
        jobs: [
          alertOwnersJob(
            { groupIds: plan?.groupIds ?? [], message: { key: 'owner.refund_refused', params: { orderId: order.id, reason: err.message } } },
            `alert:second-payment-refused:${tradeNo}`,
          ),
        ],
      };
    }
    if (result.state === 'refunded') await deps.store.transaction((tx) => noteAttemptRefund(tx, attempt, result.providerRefundId, deps.clock.now()));
    // `processing`: the provider's refund notification confirms it.
  });
}

// ------------------------------------------------------------------ Official Account authorization state

/** The state of one snsapi_base redirect is good for this long, once. */
export const OAUTH_STATE_TTL_MS = 10 * MINUTE_MS;

export type StateProblem = 'missing' | 'forged' | 'expired' | 'reused';

/** `<32 hex random><32 hex HMAC(secret, random:orderId)>`: only [0-9a-f], within the 128 bytes WeChat allows. */
function sign(secret: string, random: string, orderId: string): string {
  return createHmac('sha256', secret).update(`${random}:${orderId}`).digest('hex').slice(0, 32);
}

export async function issueOauthState(deps: AppDeps, orderId: string, secret: string): Promise<string> {
  const random = randomBytes(16).toString('hex');
  const state = `${random}${sign(secret, random, orderId)}`;
  const now = deps.clock.now();
  await deps.store.oauth.insertState({ state, orderId, expiresAt: now + OAUTH_STATE_TTL_MS }, now);
  return state;
}

/** Checks and uses up a state for `orderId`: null when good (and now used), else what was wrong. */
export async function consumeOauthState(deps: AppDeps, orderId: string, state: string | undefined, secret: string): Promise<StateProblem | null> {
  if (!state) return 'missing';
  if (!/^[0-9a-f]{64}$/.test(state)) return 'forged';
  const random = state.slice(0, 32);
  const mac = Buffer.from(state.slice(32), 'hex');
  if (!timingSafeEqual(mac, Buffer.from(sign(secret, random, orderId), 'hex'))) return 'forged';
  const row = await deps.store.oauth.getState(state);
  if (!row || row.orderId !== orderId) return 'forged';
  const now = deps.clock.now();
  if (row.usedAt !== null) return 'reused';
  if (row.expiresAt <= now) return 'expired';
  return (await deps.store.oauth.consumeState(state, orderId, now)) ? null : 'reused';
}
