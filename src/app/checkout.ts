// Create checkout: the order row is committed first, then the provider is called outside any
// transaction. If the provider cannot be reached the order stays pending and reconcile settles it.
import { forbidden, invalid, notFound } from '../domain/errors.ts';
import { priceIn, STARS } from '../domain/pricing.ts';
import type { AppDeps } from './deps.ts';
import { isPlatform, type Order, type Plan, type Platform } from './model.ts';
import { ACCESS_CODE_PROVIDER, confirmAccessCode, quoteCoupon } from './coupons.ts';
import { newOrder } from './order-records.ts';
import type { Checkout, PaymentProvider } from './ports.ts';
import { assertNotSubscribedElsewhere } from './subscriptions.ts';

export interface CheckoutInput {
  platform: string;
  userId: string;
  planId: number;
  provider: string;
  displayName?: string | null;
  locale?: string | null;
  /** A coupon code (issue 16): the order stores the list price and the discount; a code making it free is an access code. */
  coupon?: string | null;
}

export interface CheckoutResult {
  order: Order;
  plan: Plan;
  checkout: Checkout;
  payPageUrl: string;
  qrImageUrl: string;
}

export const payPageUrl = (publicUrl: string, orderId: string) => `${publicUrl}/pay/${orderId}`;
export const qrImageUrl = (publicUrl: string, orderId: string) => `${publicUrl}/pay/${orderId}/qr.png`;

/** One way to pay for a plan: a rail and what it charges there. */
export interface Offer {
  provider: PaymentProvider;
  amountMinor: number;
  currency: string;
}

/**
 * What a plan costs on one rail, for a member of a platform; null when that rail cannot sell it there. A rail
 * takes the plan's own currency at the list price; the Stars rail (XTR) takes any plan with a Stars price
 * (domain/pricing.ts), which is how every Telegram plan can be paid with Stars. A rail bound to a platform
 * (Stars: Telegram) is offered to that platform's members only.
 */
export function offerOn(deps: Pick<AppDeps, 'settings'>, plan: Plan, provider: PaymentProvider, platform: Platform): Offer | null {
  if (provider.chatPlatform && provider.chatPlatform !== platform) return null;
  const currency = provider.supportsCurrency(plan.currency) ? plan.currency : provider.supportsCurrency(STARS) ? STARS : null;
  const price = currency && priceIn(plan, currency, deps.settings.starsRates ?? new Map());
  return price ? { provider, ...price } : null;
}

/** Every enabled rail that can sell the plan to a member of the platform, in the providers' configured order. */
export const offersFor = (deps: Pick<AppDeps, 'settings' | 'providers'>, plan: Plan, platform: Platform): Offer[] =>
  [...deps.providers.values()].flatMap((p) => offerOn(deps, plan, p, platform) ?? []);

export async function createCheckout(deps: AppDeps, input: CheckoutInput): Promise<CheckoutResult> {
  const { store, clock, settings } = deps;
  const platform = input.platform;
  if (!isPlatform(platform)) throw invalid(`unknown platform "${platform}" (telegram, wechat or playground)`);
  const userId = String(input.userId ?? '').trim();
  if (!userId || userId.length > 128) throw invalid('userId must be 1–128 characters');
  const provider = deps.providers.get(input.provider);
  if (!provider) throw invalid(`unknown or disabled payment provider "${input.provider}" (enabled: ${[...deps.providers.keys()].join(', ') || 'none'})`);
  const plan = Number.isSafeInteger(input.planId) ? await store.plans.get(input.planId) : null;
  if (!plan) throw notFound(`no plan with id ${String(input.planId)}`);
  if (!plan.active) throw invalid(`plan "${plan.name}" is no longer on sale`);
  const offer = offerOn(deps, plan, provider, platform);
  if (!offer)
    throw invalid(
      provider.chatPlatform && provider.chatPlatform !== platform
        ? `${provider.name} is paid inside ${provider.chatPlatform} only`
        : `${provider.name} cannot take payments in ${plan.currency}`,
    );

  const now = clock.now();
  const coupon = typeof input.coupon === 'string' && input.coupon.trim() !== '' ? input.coupon : null;
  const order = await store.transaction(async (tx) => {
    const account = await tx.accounts.upsert({ platform, platformUserId: userId, displayName: input.displayName ?? null, locale: input.locale ?? null }, now);
    for (const groupId of plan.groupIds) {
      const group = await tx.groups.get(groupId);
      if (group && group.platform !== account.platform) throw invalid(`plan "${plan.name}" opens ${group.platform} groups, not ${account.platform}`);
      const m = await tx.memberships.getForUpdate(account.id, groupId);
      if (m?.status === 'banned') throw forbidden('you cannot buy this plan');
    }
    await assertNotSubscribedElsewhere(tx, account.id, plan, now, (name) => deps.providers.get(name)?.billingPortalUrl !== undefined);
    const quote = coupon
      ? await quoteCoupon(tx, { code: coupon, plan, accountId: account.id, amountMinor: offer.amountMinor, currency: offer.currency, now })
      : null;
    const amountMinor = offer.amountMinor - (quote?.discountMinor ?? 0);
    const o = newOrder({
      accountId: account.id,
      planId: plan.id,
      amountMinor,
      currency: offer.currency,
      // Nothing to pay: an access code, confirmed below without any payment provider.
      provider: amountMinor === 0 ? ACCESS_CODE_PROVIDER : provider.name,
      now,
      expiresAt: now + settings.orderTtlMs,
      ...(quote ? { coupon: { id: quote.coupon.id, listPriceMinor: offer.amountMinor, discountMinor: quote.discountMinor } } : {}),
    });
    await tx.orders.insert(o);
    await tx.audit.insert({
      at: now,
      actor: `account:${account.id}`,
      action: 'order.create',
      subjectType: 'order',
      subjectId: o.id,
      reason: `checkout for plan ${plan.id} via ${provider.name}`,
      detail: {
        amountMinor: o.amountMinor,
        currency: o.currency,
        ...(quote ? { coupon: quote.coupon.code, listPriceMinor: offer.amountMinor, discountMinor: quote.discountMinor } : {}),
      },
    });
    if (o.amountMinor === 0) await confirmAccessCode(deps, tx, o, plan, now);
    return o;
  });

  const pay = payPageUrl(settings.publicUrl, order.id);
  if (order.provider === ACCESS_CODE_PROVIDER) {
    deps.onJobsEnqueued?.();
    const paid = (await store.orders.get(order.id)) ?? order;
    return { order: paid, plan, checkout: { qrContent: pay, payUrl: pay }, payPageUrl: pay, qrImageUrl: qrImageUrl(settings.publicUrl, order.id) };
  }
  const checkout = await provider.createCheckout({ order, plan, notifyUrl: `${settings.publicUrl}/webhooks/${provider.name}`, payPageUrl: pay });
  await store.orders.setCheckout(order.id, checkout, clock.now());
  return {
    order: { ...order, checkoutQr: checkout.qrContent, checkoutUrl: checkout.payUrl },
    plan,
    checkout,
    payPageUrl: pay,
    qrImageUrl: qrImageUrl(settings.publicUrl, order.id),
  };
}
