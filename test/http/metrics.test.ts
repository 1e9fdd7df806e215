import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inviteJob, notifyJob } from '../../src/app/job-kinds.ts';
import { DIALECTS } from '../helpers/db.ts';
import { seedOrder } from '../helpers/fixtures.ts';
import { auth, startTestService, type TestService } from '../helpers/service.ts';

describe.each(DIALECTS)('GET /metrics (%s)', (dialect) => {
  let t: TestService;
  beforeEach(async () => {
    t = await startTestService(dialect);
  });
  afterEach(async () => {
    await t.close();
  });
  const scrape = () => t.service.app.inject({ method: 'GET', url: '/metrics', headers: auth });

  it('needs the admin token (it shows revenue)', async () => {
    const none = await t.service.app.inject({ method: 'GET', url: '/metrics' });
    expect(none.statusCode).toBe(401);
    expect(none.body).not.toContain('gatekeeper_');
    const wrong = await t.service.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer not-the-token' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).not.toContain('gatekeeper_');
  });

  it('serves Prometheus text on an empty database', async () => {
    const res = await scrape();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('# TYPE gatekeeper_orders gauge');
    expect(res.body).toContain('gatekeeper_active_members 0');
    expect(res.body).toContain('# TYPE gatekeeper_outbound_calls_total counter');
    // Nothing from prom-client's default (process) metrics, and no cross-app leakage.
    expect(res.body).not.toContain('process_cpu');
  });

  it('counts jobs waiting for a chat platform with no adapter here, in /metrics and in the admin /healthz', async () => {
    const { store } = t.service.deps;
    const now = Date.now();
    const g = await store.groups.insert(
      { platform: 'wechat', platformChatId: 'room', title: 'Room', ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] },
      now,
    );
    const a = await store.accounts.upsert({ platform: 'wechat', platformUserId: 'wx-1' }, now);
    const m = await store.memberships.insert({ accountId: a.id, groupId: g.id, status: 'active', expiresAt: now + 86_400_000 }, now);
    await store.jobs.enqueue(
      [inviteJob({ membershipId: m.id, expiresAt: m.expiresAt }), notifyJob({ accountId: a.id, message: { key: 'x', params: {} } })],
      now,
    );
    // Never claimed here (this service runs no WeChat adapter): they stay queued, untried.
    await t.service.worker.drain();
    expect((await store.jobs.list({ status: 'queued' })).map((j) => [j.kind, j.attempts])).toEqual([
      ['invite', 0],
      ['notify', 0],
    ]);
    expect((await scrape()).body).toContain('gatekeeper_jobs_waiting_for_adapter{platform="wechat"} 2');
    const admin = await t.service.app.inject({ method: 'GET', url: '/healthz', headers: auth });
    expect(admin.json()).toMatchObject({ status: 'ok', jobsWaitingForAdapter: { wechat: 2 } });
    // A counter: not for anyone without the token.
    const anyone = await t.service.app.inject({ method: 'GET', url: '/healthz' });
    expect(anyone.json()).not.toHaveProperty('jobsWaitingForAdapter');
  });

  it('reports orders, revenue, members, jobs and webhook outcomes after a paid order', async () => {
    const { orderId } = await seedOrder(t.service.app);
    const before = await scrape();
    expect(before.body).toContain('gatekeeper_orders{status="pending"} 1');
    expect(before.body).not.toContain('gatekeeper_revenue_minor_total{');

    const paid = await t.service.app.inject({ method: 'POST', url: `/pay/${orderId}/dev-pay`, headers: { accept: 'application/json' } });
    expect(paid.json()).toMatchObject({ outcome: 'granted', status: 'paid' });

    const body = (await scrape()).body;
    expect(body).toContain('gatekeeper_orders{status="paid"} 1');
    // A status that no longer has rows disappears rather than sticking at its last value.
    expect(body).not.toContain('gatekeeper_orders{status="pending"}');
    expect(body).toContain('gatekeeper_revenue_minor_total{currency="CNY",kind="charge"} 990');
    expect(body).toContain('gatekeeper_revenue_minor_total{currency="CNY",kind="refund"} 0');
    expect(body).toContain('gatekeeper_revenue_minor_total{currency="CNY",kind="net"} 990');
    expect(body).toContain('gatekeeper_active_members 1');
    expect(body).toContain('gatekeeper_memberships{status="active"} 1');
    expect(body).toMatch(/gatekeeper_webhook_events\{provider="dev",outcome="granted"\} 1/);

    // The grant enqueued its jobs in the same transaction; the metric matches the store, lane by lane.
    const jobs = await t.service.deps.store.jobs.countByStatus();
    expect(jobs.length).toBeGreaterThan(0);
    for (const j of jobs) expect(body).toContain(`gatekeeper_jobs{status="${j.status}",lane="${j.lane}"} ${j.count}`);
    expect(body).toMatch(/gatekeeper_jobs\{status="queued",lane="invite"\} [1-9]/);
    expect(body).toMatch(/gatekeeper_jobs\{status="queued",lane="notice"\} [1-9]/);
  });

  it('reports outbound calls and 429 pauses per platform', async () => {
    expect((await scrape()).body).not.toContain('gatekeeper_outbound_calls_total{');
    await t.service.limiter.acquire({ platform: 'telegram', lane: 'notice' });
    t.service.limiter.pause('telegram', 1000);
    const body = (await scrape()).body;
    expect(body).toContain('gatekeeper_outbound_calls_total{platform="telegram"} 1');
    expect(body).toContain('gatekeeper_outbound_throttled_total{platform="telegram"} 1');
    // Scraping again does not double-count.
    expect((await scrape()).body).toContain('gatekeeper_outbound_calls_total{platform="telegram"} 1');
  });

  it('each app has its own registry', async () => {
    const other = await startTestService(dialect);
    try {
      await other.service.limiter.acquire({ platform: 'wechat', lane: 'invite' });
      expect((await other.service.app.inject({ method: 'GET', url: '/metrics', headers: auth })).body).toContain(
        'gatekeeper_outbound_calls_total{platform="wechat"} 1',
      );
      expect((await scrape()).body).not.toContain('platform="wechat"');
    } finally {
      await other.close();
    }
  });
});
