// Admin JSON API: `Authorization: Bearer $ADMIN_TOKEN` on every route. Thin: validate, call a use
// case, shape the answer.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createHash } from 'node:crypto';
import type { Actor } from '../../app/actors.ts';
import { addGroup, addPlan, setPlanPrice } from '../../app/catalog-admin.ts';
import { createCheckout } from '../../app/checkout.ts';
import { createBatch, createCoupon, disableCoupon, listCoupons } from '../../app/coupons.ts';
import { SETTINGS, updateGroupSettings } from '../../app/group-settings.ts';
import type { Membership } from '../../app/model.ts';
import { approveOrder, banMember, createClaimCode, extendMembership, removeMember, unbanMember } from '../../app/owners.ts';
import { Cursors, pageLimit } from '../../app/paging.ts';
import { requestRefund } from '../../app/refunds.ts';
import { approveApplication, listApplications, rejectApplication } from '../../app/review.ts';
import { computeStats } from '../../app/stats.ts';
import { listDeadLetters, retryDeadLetter } from '../../app/system.ts';
import { topReferrers } from '../../app/referrals.ts';
import { invalid, notFound } from '../../domain/errors.ts';
import { isMembershipStatus, MEMBERSHIP_STATUSES, type MembershipStatus } from '../../domain/membership.ts';
import { formatMinor } from '../../domain/money.ts';
import { isOrderStatus, type OrderStatus } from '../../domain/order.ts';
import { DAY_MS, toIso } from '../../domain/time.ts';
import { couponJson, groupJson, memberJson, membershipResult, oneOrderJson, ordersJson, planJson } from '../../app/views.ts';
import { adminAuth } from '../admin-auth.ts';
import type { HttpDeps } from '../deps.ts';
import { parseInput } from '../validation.ts';

const id = z.coerce
  .number()
  .int()
  .positive()
  .max(2 ** 31);

const page = z.object({ limit: z.coerce.number().int().optional(), cursor: z.string().max(600).optional() });
const reasonBody = z.object({ reason: z.string().max(500).optional() });
const isIdPos = (v: unknown): v is { id: number } => typeof v === 'object' && v !== null && Number.isSafeInteger((v as { id: unknown }).id);
const isOrderPos = (v: unknown): v is { c: number; id: string } =>
  typeof v === 'object' &&
  v !== null &&
  Number.isSafeInteger((v as { c: unknown }).c) &&
  typeof (v as { id: unknown }).id === 'string' &&
  (v as { id: string }).id.length <= 64;

export async function adminApiRoutes(app: FastifyInstance, deps: HttpDeps) {
  app.addHook('onRequest', adminAuth(deps.adminToken));
  const a = deps.app;
  const actor: Actor = { kind: 'admin', via: 'api' };
  // Keyed from the admin token, so every instance accepts the others' cursors.
  const cursors = new Cursors(createHash('sha256').update(`cursor:${deps.adminToken}`).digest('hex'));

  /** Keyset paging over an id-ordered list: fetch one extra row to know whether there is a next page. */
  async function idPage<T, J>(
    list: string,
    q: { limit?: number; cursor?: string },
    fetch: (afterId: number | undefined, limit: number) => Promise<T[]>,
    idOf: (t: T) => number,
    json: (t: T) => J,
  ) {
    const limit = pageLimit(q.limit);
    const after = q.cursor ? cursors.decode(list, q.cursor, isIdPos).id : undefined;
    const rows = await fetch(after, limit + 1);
    const items = rows.slice(0, limit);
    return { items: items.map(json), nextCursor: rows.length > limit ? cursors.encode(list, { id: idOf(items[items.length - 1]!) }) : null };
  }

  async function orderPage(list: string, q: { limit?: number; cursor?: string; status?: OrderStatus; accountId?: number }) {
    const limit = pageLimit(q.limit);
    const pos = q.cursor ? cursors.decode(list, q.cursor, isOrderPos) : undefined;
    const rows = await a.store.orders.page({
      status: q.status,
      accountId: q.accountId,
      after: pos ? { createdAt: pos.c, id: pos.id } : undefined,
      limit: limit + 1,
    });
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: await ordersJson(a.store, items),
      nextCursor: rows.length > limit && last ? cursors.encode(list, { c: last.createdAt, id: last.id }) : null,
    };
  }

  app.post('/api/checkouts', async (req, reply) => {
    const body = parseInput(
      z.object({
        platform: z.string().min(1),
        userId: z.union([z.string(), z.number()]).transform(String),
        planId: id,
        provider: z.string().min(1).default('dev'),
        displayName: z.string().max(200).optional(),
        locale: z.string().max(20).optional(),
        /** Issue 16: a coupon code; one that makes the price 0 is an access code (the order is paid at once). */
        coupon: z.string().max(64).optional(),
      }),
      req.body,
    );
    const r = await createCheckout(a, body);
    return reply.status(201).send({
      orderId: r.order.id,
      payUrl: r.payPageUrl,
      qrUrl: r.qrImageUrl,
      providerUrl: r.checkout.payUrl,
      expiresAt: toIso(r.order.expiresAt),
      ...(r.order.couponId
        ? {
            status: r.order.status,
            provider: r.order.provider,
            amountMinor: r.order.amountMinor,
            listPriceMinor: r.order.listPriceMinor,
            discountMinor: r.order.discountMinor,
          }
        : {}),
    });
  });

  // ---- groups and plans
  app.get('/api/groups', async (req) => {
    const q = parseInput(page, req.query);
    return idPage(
      'groups',
      q,
      async (after, limit) => (await a.store.groups.list()).filter((g) => after === undefined || g.id > after).slice(0, limit),
      (g) => g.id,
      groupJson,
    );
  });
  app.post('/api/groups', async (req, reply) => {
    const body = parseInput(z.object({ platform: z.string(), chatId: z.union([z.string(), z.number()]).transform(String), title: z.string() }), req.body);
    return reply.status(201).send(groupJson(await addGroup(a, { ...body, actor })));
  });

  // The body's keys are the group settings' (SETTINGS); the use case checks each value. Unknown keys: 400.
  const settingsBody = z.object(Object.fromEntries(SETTINGS.map((s) => [s.key, z.unknown().optional()]))).strict();
  app.patch<{ Params: { id: string } }>('/api/groups/:id', async (req) => {
    const groupId = parseInput(id, req.params.id);
    const changes = parseInput(settingsBody, req.body ?? {});
    return groupJson(await updateGroupSettings(a, { actor, groupId, changes }));
  });

  app.get('/api/plans', async (req) => {
    const q = parseInput(page.extend({ groupId: id.optional(), active: z.enum(['true', 'false']).optional() }), req.query);
    const all = await a.store.plans.list({ groupId: q.groupId });
    const filtered = q.active === undefined ? all : all.filter((p) => p.active === (q.active === 'true'));
    return idPage(
      'plans',
      q,
      async (after, limit) => filtered.filter((p) => after === undefined || p.id > after).slice(0, limit),
      (p) => p.id,
      planJson,
    );
  });
  app.post('/api/plans', async (req, reply) => {
    const body = parseInput(
      z.object({
        groupIds: z.array(id).min(1),
        name: z.string(),
        price: z.union([z.string(), z.number()]).transform(String),
        currency: z.string(),
        days: z.number().int(),
        starsPrice: z.union([z.string(), z.number()]).optional(),
        recurring: z.boolean().optional(),
        trialDays: z.unknown().optional(),
        force: z.boolean().optional(),
      }),
      req.body,
    );
    const { starsPrice, trialDays, ...rest } = body;
    return reply.status(201).send(planJson(await addPlan(a, { ...rest, stars: starsPrice, trialDays: trialDays as number | undefined, actor })));
  });

  // A plan's price for new orders (orders already made keep theirs); starsPrice null: none of its own.
  app.patch<{ Params: { id: string } }>('/api/plans/:id', async (req) => {
    const planId = parseInput(id, req.params.id);
    const body = parseInput(
      z
        .object({
          price: z.union([z.string(), z.number()]).transform(String).optional(),
          starsPrice: z.union([z.string(), z.number(), z.null()]).optional(),
        })
        .strict(),
      req.body ?? {},
    );
    return planJson(await setPlanPrice(a, { planId, actor, price: body.price, stars: body.starsPrice }));
  });

  // ---- coupons (issue 16): the same use cases as `gatekeeper coupon …`.
  app.get('/api/coupons', async () => ({ items: (await listCoupons(a, actor)).map(couponJson) }));
  const couponTermsBody = {
    percent: z.unknown().optional(),
    amount: z.union([z.string(), z.number()]).transform(String).optional(),
    currency: z.string().max(10).optional(),
    planIds: z.array(id).max(100).optional(),
    perPerson: z.number().optional(),
    validFrom: z.string().max(40).optional(),
    validUntil: z.string().max(40).optional(),
  };
  app.post('/api/coupons', async (req, reply) => {
    const body = parseInput(z.object({ ...couponTermsBody, code: z.string().max(64), maxUses: z.number().optional() }).strict(), req.body);
    return reply.status(201).send(couponJson(await createCoupon(a, { ...body, percent: body.percent as number | undefined, actor })));
  });
  app.post('/api/coupons/batch', async (req, reply) => {
    const body = parseInput(z.object({ ...couponTermsBody, prefix: z.string().max(40), count: z.number() }).strict(), req.body);
    return reply.status(201).send({ items: (await createBatch(a, { ...body, percent: body.percent as number | undefined, actor })).map(couponJson) });
  });
  app.post<{ Params: { code: string } }>('/api/coupons/:code/disable', async (req) => {
    const c = await disableCoupon(a, { code: req.params.code, actor });
    return couponJson(c);
  });

  // ---- members
  app.get('/api/members', async (req) => {
    const q = parseInput(
      page.extend({
        groupId: id.optional(),
        status: z.string().optional(),
        accountId: id.optional(),
        expiringWithinDays: z.coerce.number().int().min(0).max(3660).optional(),
      }),
      req.query,
    );
    if (q.status !== undefined && !isMembershipStatus(q.status)) throw invalid(`unknown status "${q.status.slice(0, 40)}" (${MEMBERSHIP_STATUSES.join(', ')})`);
    const status = q.status as MembershipStatus | undefined;
    const expiresBefore = q.expiringWithinDays === undefined ? undefined : a.clock.now() + q.expiringWithinDays * DAY_MS;
    return idPage(
      'members',
      q,
      (afterId, limit) =>
        a.store.memberships.page({
          groupId: q.groupId,
          status: status ?? (expiresBefore !== undefined ? 'active' : undefined),
          accountId: q.accountId,
          expiresBefore,
          afterId,
          limit,
        }),
      (m) => m.id,
      memberJson,
    );
  });
  const memberAction = <S extends z.ZodType>(path: string, schema: S, run: (membershipId: number, body: z.infer<S>) => Promise<Membership>) =>
    app.post<{ Params: { id: string } }>(`/api/members/:id/${path}`, async (req) => {
      const m = await run(parseInput(id, req.params.id), parseInput(schema, req.body ?? {}));
      return membershipResult(m);
    });
  const reasonOnly = z.object({ reason: z.string().max(500).optional() });
  memberAction('extend', reasonOnly.extend({ days: z.number() }), (membershipId, b) =>
    extendMembership(a, { actor, membershipId, days: b.days, reason: b.reason }),
  );
  memberAction('remove', reasonOnly, (membershipId, b) => removeMember(a, { actor, membershipId, reason: b.reason }));
  memberAction('ban', reasonOnly, (membershipId, b) => banMember(a, { actor, membershipId, reason: b.reason }));
  memberAction('unban', reasonOnly, (membershipId, b) => unbanMember(a, { actor, membershipId, reason: b.reason }));

  // ---- orders
  app.get('/api/orders', async (req) => {
    const q = parseInput(page.extend({ status: z.string().optional(), accountId: id.optional() }), req.query);
    if (q.status !== undefined && !isOrderStatus(q.status)) throw invalid(`unknown order status "${q.status.slice(0, 40)}"`);
    return orderPage('orders', { ...q, status: q.status as OrderStatus | undefined });
  });
  app.get('/api/reviews', async (req) => orderPage('reviews', { ...parseInput(page, req.query), status: 'review' }));
  app.get<{ Params: { id: string } }>('/api/orders/:id', async (req) => {
    const order = /^[A-Za-z0-9_-]{1,64}$/.test(req.params.id) ? await a.store.orders.get(req.params.id) : null;
    if (!order) throw notFound(`no order with id ${req.params.id.slice(0, 64)}`);
    return oneOrderJson(a.store, order);
  });
  app.post<{ Params: { id: string } }>('/api/orders/:id/refund', async (req, reply) => {
    const body = parseInput(reasonBody, req.body ?? {});
    return reply.status(202).send(await oneOrderJson(a.store, await requestRefund(a, { actor, orderId: req.params.id, reason: body.reason })));
  });
  app.post<{ Params: { id: string } }>('/api/orders/:id/approve', async (req) => {
    const body = parseInput(reasonBody, req.body ?? {});
    return oneOrderJson(a.store, await approveOrder(a, { actor, orderId: req.params.id, reason: body.reason }));
  });

  // ---- join review (issue 17)
  const applicationJson = (x: Awaited<ReturnType<typeof listApplications>>[number] | Awaited<ReturnType<typeof approveApplication>>) => ({
    ...x,
    deadline: toIso(x.deadline),
    createdAt: toIso(x.createdAt),
    updatedAt: toIso(x.updatedAt),
    decidedAt: x.decidedAt === null ? null : toIso(x.decidedAt),
    appealedAt: x.appealedAt === null ? null : toIso(x.appealedAt),
  });
  app.get('/api/applications', async (req) => {
    const q = parseInput(z.object({ status: z.string().max(20).optional(), limit: z.coerce.number().int().optional() }), req.query);
    return { items: (await listApplications(a, actor, q)).map(applicationJson) };
  });
  const applicationId = (raw: string) => {
    if (!/^\d{1,9}$/.test(raw)) throw invalid(`application id must be a number, not "${raw.slice(0, 20)}"`);
    return Number(raw);
  };
  app.post<{ Params: { id: string } }>('/api/applications/:id/approve', async (req) => {
    const body = parseInput(reasonBody, req.body ?? {});
    return applicationJson(await approveApplication(a, { actor, applicationId: applicationId(req.params.id), reason: body.reason }));
  });
  app.post<{ Params: { id: string } }>('/api/applications/:id/reject', async (req) => {
    const body = parseInput(z.object({ reason: z.string().min(1).max(500) }), req.body ?? {});
    return applicationJson(await rejectApplication(a, { actor, applicationId: applicationId(req.params.id), reason: body.reason }));
  });

  // ---- owners, audit, stats
  app.post('/api/owner-claims', async (req, reply) => {
    const body = parseInput(z.object({ groupIds: z.array(id).min(1).max(1000).optional() }), req.body ?? {});
    const c = await createClaimCode(a, actor, body.groupIds);
    return reply.status(201).send({ code: c.code, expiresAt: toIso(c.expiresAt), groupIds: c.groupIds });
  });
  app.get('/api/audit', async (req) => {
    const q = parseInput(
      page.extend({ subjectType: z.string().max(40).optional(), subjectId: z.string().max(64).optional(), action: z.string().max(60).optional() }),
      req.query,
    );
    const limit = pageLimit(q.limit);
    const before = q.cursor ? cursors.decode('audit', q.cursor, isIdPos).id : undefined;
    const rows = await a.store.audit.page({ subjectType: q.subjectType, subjectId: q.subjectId, action: q.action, beforeId: before, limit: limit + 1 });
    const items = rows.slice(0, limit);
    return {
      items: items.map((e) => ({
        id: e.id,
        at: toIso(e.at),
        actor: e.actor,
        action: e.action,
        subjectType: e.subjectType,
        subjectId: e.subjectId,
        reason: e.reason,
        detail: e.detail,
      })),
      nextCursor: rows.length > limit ? cursors.encode('audit', { id: items[items.length - 1]!.id }) : null,
    };
  });
  // ---- dead letters (the console's System page, app/system.ts): list them, queue one again
  app.get('/api/jobs/dead', async (req) => {
    const q = parseInput(page, req.query);
    const limit = pageLimit(q.limit);
    const before = q.cursor ? cursors.decode('dead', q.cursor, isIdPos).id : undefined;
    const rows = await listDeadLetters(a, actor, { ...(before !== undefined ? { beforeId: before } : {}), limit: limit + 1 });
    const items = rows.slice(0, limit);
    return {
      items: items.map((d) => ({ id: d.id, kind: d.kind, lane: d.lane, attempts: d.attempts, lastError: d.lastError, at: toIso(d.at), groupIds: d.groupIds })),
      nextCursor: rows.length > limit ? cursors.encode('dead', { id: items[items.length - 1]!.id }) : null,
    };
  });
  app.post<{ Params: { id: string } }>('/api/jobs/:id/retry', async (req) => {
    const jobId = parseInput(id, req.params.id);
    return { id: jobId, result: await retryDeadLetter(a, { actor, jobId }) };
  });
  // Issue 16: the top referrers (booked rewards, by days earned); `limit` 1–100, default 10.
  app.get('/api/referrals', async (req) => {
    const q = parseInput(z.object({ limit: z.coerce.number().int().min(1).max(100).optional() }).strict(), req.query);
    const top = await topReferrers(a, actor, q.limit ?? 10);
    return {
      items: top.map((r) => ({
        accountId: r.accountId,
        platform: r.platform,
        userId: r.platformUserId,
        name: r.displayName,
        referred: r.referred,
        days: r.days,
      })),
    };
  });
  app.get('/api/stats', async () => {
    const s = await computeStats(a, actor);
    return {
      ...s,
      revenue: s.revenue.map((r) => ({ ...r, net: formatMinor(r.netMinor, r.currency) })),
      refundsOnRequest: s.refundsOnRequest.map((r) => ({ ...r, amount: formatMinor(r.amountMinor, r.currency) })),
    };
  });
}
