// The join review through the HTTP surface (issue 17): PATCH /api/groups/:id, GET /api/applications,
// POST /api/applications/:id/approve|reject, the figures in GET /api/stats and /metrics, and the payment
// arriving as a signed dev webhook (POST /pay/:id/dev-pay goes the same way).
import { describe, expect } from 'vitest';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { auth } from '../helpers/service.ts';

describe.each(DIALECTS)('join review admin API (%s)', (dialect) => {
  const it = serviceTest(dialect);

  it('review mode set by PATCH; approve and reject; bad input answered 4xx; stats and metrics count it', async ({ t, deps }) => {
    const inject = t.service.app.inject.bind(t.service.app);
    const a = await seedOrderDirect(deps, { userId: 'alice' });
    const bad = await inject({ method: 'PATCH', url: `/api/groups/${a.groupId}`, headers: auth, payload: { joinMode: 'manual' } });
    expect(bad.statusCode).toBe(400);
    const set = await inject({
      method: 'PATCH',
      url: `/api/groups/${a.groupId}`,
      headers: auth,
      payload: { joinMode: 'review', reviewWindowHours: 48 },
    });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toMatchObject({ joinMode: 'review', reviewWindowHours: 48, reviewTimeoutAction: 'refund' });

    await payDevDirect(deps, a.orderId);
    const b = await seedOrderDirect(deps, { userId: 'bob', planId: a.planId });
    await payDevDirect(deps, b.orderId);
    const list = await inject({ method: 'GET', url: '/api/applications?status=pending', headers: auth });
    expect(list.statusCode).toBe(200);
    const items = list.json().items as Array<{ id: number; orderId: string; platformUserId: string; verdicts: unknown[] }>;
    expect(items.map((i) => i.platformUserId)).toEqual(['bob', 'alice']);
    expect(items[0]!.verdicts).toHaveLength(3);
    expect((await inject({ method: 'GET', url: '/api/applications?status=maybe', headers: auth })).statusCode).toBe(400);
    expect((await inject({ method: 'GET', url: '/api/applications' })).statusCode).toBe(401);

    const alice = items.find((i) => i.platformUserId === 'alice')!;
    const bobApp = items.find((i) => i.platformUserId === 'bob')!;
    const approved = await inject({ method: 'POST', url: `/api/applications/${alice.id}/approve`, headers: auth, payload: {} });
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({ status: 'approved', decidedBy: 'admin:api' });
    const again = await inject({ method: 'POST', url: `/api/applications/${alice.id}/approve`, headers: auth, payload: {} });
    expect(again.statusCode).toBe(409);
    expect(again.json().message).toMatch(/already approved/);
    const noReason = await inject({ method: 'POST', url: `/api/applications/${bobApp.id}/reject`, headers: auth, payload: {} });
    expect(noReason.statusCode).toBe(400);
    const rejected = await inject({ method: 'POST', url: `/api/applications/${bobApp.id}/reject`, headers: auth, payload: { reason: 'unknown to us' } });
    expect(rejected.statusCode).toBe(200);
    expect((await inject({ method: 'POST', url: '/api/applications/abc/approve', headers: auth, payload: {} })).statusCode).toBe(400);
    expect((await inject({ method: 'POST', url: '/api/applications/999/approve', headers: auth, payload: {} })).statusCode).toBe(404);
    await t.service.worker.drain();
    expect((await deps.store.orders.get(b.orderId))!.status).toBe('refunded');

    const stats = (await inject({ method: 'GET', url: '/api/stats', headers: auth })).json();
    expect(stats.reviews).toMatchObject({ applications: 2, pending: 0, approved: 1, rejected: 1, timedOut: 0, meanDecisionMs: 0 });
    const metrics = (await inject({ method: 'GET', url: '/metrics', headers: auth })).body;
    expect(metrics).toMatch(/gatekeeper_review_applications\{status="approved"\} 1/);
    expect(metrics).toMatch(/gatekeeper_review_applications\{status="rejected"\} 1/);
    expect(metrics).toMatch(/gatekeeper_review_decision_seconds_mean 0/);
  });
});
