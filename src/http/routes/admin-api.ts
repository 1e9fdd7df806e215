// Admin JSON API: `Authorization: Bearer $ADMIN_TOKEN` on every route. Thin: validate, call a use
// case, shape the answer.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { addGroup, addPlan, listMembers } from '../../app/catalog-admin.ts';
import { createCheckout } from '../../app/checkout.ts';
import type { Group, Order, Plan } from '../../app/model.ts';
import type { MembershipView } from '../../app/ports.ts';
import { notFound } from '../../domain/errors.ts';
import { formatMinor } from '../../domain/money.ts';
import { toIso } from '../../domain/time.ts';
import { adminAuth } from '../admin-auth.ts';
import type { HttpDeps } from '../deps.ts';
import { parseInput } from '../validation.ts';

const id = z.coerce.number().int().positive().max(2 ** 31);

export const orderJson = (o: Order) => ({
  id: o.id,
  status: o.status,
  outTradeNo: o.outTradeNo,
  accountId: o.accountId,
  planId: o.planId,
  amountMinor: o.amountMinor,
  amount: formatMinor(o.amountMinor, o.currency),
  currency: o.currency,
  provider: o.provider,
  createdAt: toIso(o.createdAt),
  expiresAt: toIso(o.expiresAt),
  paidAt: o.paidAt === null ? null : toIso(o.paidAt),
  reviewReason: o.reviewReason,
});

export const groupJson = (g: Group) => ({ id: g.id, platform: g.platform, chatId: g.platformChatId, title: g.title, ownerAccountId: g.ownerAccountId, graceHours: g.graceMs / 3_600_000 });

export const planJson = (p: Plan) => ({ id: p.id, name: p.name, priceMinor: p.priceMinor, price: formatMinor(p.priceMinor, p.currency), currency: p.currency, days: p.durationDays, active: p.active, groupIds: p.groupIds });

export const memberJson = (m: MembershipView) => ({
  membershipId: m.id,
  accountId: m.accountId,
  platform: m.platform,
  platformUserId: m.platformUserId,
  displayName: m.displayName,
  groupId: m.groupId,
  status: m.status,
  expiresAt: toIso(m.expiresAt),
});

export async function adminApiRoutes(app: FastifyInstance, deps: HttpDeps) {
  app.addHook('onRequest', adminAuth(deps.adminToken));
  const a = deps.app;

  app.post('/api/checkouts', async (req, reply) => {
    const body = parseInput(
      z.object({ platform: z.string().min(1), userId: z.union([z.string(), z.number()]).transform(String), planId: id, provider: z.string().min(1).default('dev'), displayName: z.string().max(200).optional(), locale: z.string().max(20).optional() }),
      req.body,
    );
    const r = await createCheckout(a, body);
    return reply.status(201).send({ orderId: r.order.id, payUrl: r.payPageUrl, qrUrl: r.qrImageUrl, providerUrl: r.checkout.payUrl, expiresAt: toIso(r.order.expiresAt) });
  });

  app.get<{ Params: { id: string } }>('/api/orders/:id', async (req) => {
    const order = /^[A-Za-z0-9_-]{1,64}$/.test(req.params.id) ? await a.store.orders.get(req.params.id) : null;
    if (!order) throw notFound(`no order with id ${req.params.id.slice(0, 64)}`);
    return orderJson(order);
  });

  app.get('/api/groups', async () => (await a.store.groups.list()).map(groupJson));
  app.post('/api/groups', async (req, reply) => {
    const body = parseInput(z.object({ platform: z.string(), chatId: z.union([z.string(), z.number()]).transform(String), title: z.string() }), req.body);
    return reply.status(201).send(groupJson(await addGroup(a, { ...body, actor: 'admin:api' })));
  });

  app.get('/api/plans', async () => (await a.store.plans.list()).map(planJson));
  app.post('/api/plans', async (req, reply) => {
    const body = parseInput(
      z.object({ groupIds: z.array(id).min(1), name: z.string(), price: z.union([z.string(), z.number()]).transform(String), currency: z.string(), days: z.number().int() }),
      req.body,
    );
    return reply.status(201).send(planJson(await addPlan(a, { ...body, actor: 'admin:api' })));
  });

  app.get('/api/members', async (req) => {
    const q = parseInput(z.object({ groupId: id.optional(), status: z.string().optional() }), req.query);
    return (await listMembers(a, q)).map(memberJson);
  });
}
