import type { FastifyInstance } from 'fastify';
import type { Plan } from '../../src/app/model.ts';
import { addGroup, addPlan } from '../../src/app/catalog-admin.ts';
import { createCheckout } from '../../src/app/checkout.ts';
import { handleProviderEvent } from '../../src/app/confirm-payment.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { DevProvider } from '../../src/payments/dev/dev-provider.ts';
import { auth } from './service.ts';

/** A group + plan + pending dev order through the admin API; returns their ids. */
export async function seedOrder(app: FastifyInstance, opts: { userId?: string; price?: string; currency?: string; days?: number; chatId?: string } = {}) {
  const chatId = opts.chatId ?? 'room-1';
  let groupId: number;
  const existing = (await app.inject({ method: 'GET', url: '/api/groups', headers: auth })).json().items as Array<{ id: number; chatId: string }>;
  const found = existing.find((g) => g.chatId === chatId);
  if (found) groupId = found.id;
  else {
    const g = await app.inject({ method: 'POST', url: '/api/groups', headers: auth, payload: { platform: 'playground', chatId, title: `Group ${chatId}` } });
    groupId = g.json().id;
  }
  const p = await app.inject({
    method: 'POST',
    url: '/api/plans',
    headers: auth,
    // force: each seeded order brings its own plan, so one group may get several "Monthly".
    payload: { groupIds: [groupId], name: 'Monthly', price: opts.price ?? '9.90', currency: opts.currency ?? 'CNY', days: opts.days ?? 30, force: true },
  });
  const planId = p.json().id as number;
  const c = await app.inject({
    method: 'POST',
    url: '/api/checkouts',
    headers: auth,
    payload: { platform: 'playground', userId: opts.userId ?? 'alice', planId, provider: 'dev' },
  });
  if (c.statusCode !== 201) throw new Error(`checkout failed: ${c.body}`);
  return { groupId, planId, orderId: c.json().orderId as string };
}

const admin = { kind: 'admin', via: 'api' } as const;

/**
 * seedOrder without the HTTP server: a group (found by chat id or added), a plan and a pending dev
 * order through the same use cases the admin API calls.
 */
export async function seedOrderDirect(
  deps: AppDeps,
  opts: { userId?: string; price?: string; currency?: string; days?: number; chatId?: string; planId?: number } = {},
) {
  const chatId = opts.chatId ?? 'room-1';
  const group =
    (await deps.store.groups.findByChat('playground', chatId)) ??
    (await addGroup(deps, { platform: 'playground', chatId, title: `Group ${chatId}`, actor: admin }));
  const planId =
    opts.planId ??
    (
      await addPlan(deps, {
        groupIds: [group.id],
        name: 'Monthly',
        price: opts.price ?? '9.90',
        currency: opts.currency ?? 'CNY',
        days: opts.days ?? 30,
        actor: admin,
        // Each seeded order may bring its own plan; several "Monthly" in one group are meant here.
        force: true,
      })
    ).id;
  const { order } = await createCheckout(deps, { platform: 'playground', userId: opts.userId ?? 'alice', planId, provider: 'dev' });
  return { groupId: group.id, planId, orderId: order.id, order };
}

/** What the dev "pay" button does, without the HTTP server: the dev provider's signed notification, parsed and handled. */
export async function payDevDirect(deps: AppDeps, orderId: string) {
  const dev = deps.providers.get('dev');
  const order = await deps.store.orders.get(orderId);
  if (!(dev instanceof DevProvider) || !order) throw new Error(`cannot dev-pay ${orderId}`);
  const { body, headers } = dev.pay(order);
  const outcome = await handleProviderEvent(deps, dev, await dev.parseWebhook(body, headers), body.toString('utf8'));
  return { outcome, status: (await deps.store.orders.get(orderId))?.status };
}

/** A plan record for tests that hand one to a provider or a pure function: 9.90 CNY for 30 days, group 1. */
export const testPlan = (over: Partial<Plan> = {}): Plan => ({
  id: 1,
  name: 'Monthly',
  priceMinor: 990,
  currency: 'CNY',
  durationDays: 30,
  trialDays: 0,
  starsPrice: null,
  recurring: false,
  active: true,
  createdAt: 0,
  groupIds: [1],
  ...over,
});
