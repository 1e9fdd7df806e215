// The console's System page (issue 15 part 7): health of the database, the chat platform and the payment
// providers; jobs by lane, kind and status; dead letters with a "Retry" that asks first and re-queues once
// (a double click retries once); a POST without the CSRF token refused; an owner sees and retries only the
// dead letters about their own groups; WeChat's login QR shown to the operator only.
import { describe, expect } from 'vitest';
import type { Actor } from '../../src/app/actors.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { createClaimCode } from '../../src/app/owners.ts';
import type { NewJob } from '../../src/app/ports.ts';
import { createConversation } from '../../src/conversation/engine.ts';
import type { Reply } from '../../src/conversation/types.ts';
import { buildApp } from '../../src/http/app.ts';
import { consoleClient } from '../helpers/console-scene.ts';
import { DIALECTS } from '../helpers/db.ts';
import { payDevDirect, seedOrderDirect } from '../helpers/fixtures.ts';
import { serviceTest } from '../helpers/service-fixture.ts';
import { ADMIN_TOKEN, auth, type TestService } from '../helpers/service.ts';

const admin: Actor = { kind: 'admin', via: 'cli' };
const textOf = (replies: Reply[]) => replies.map((r) => ('text' in r ? r.text : '')).join('\n');

async function paid(t: TestService, userId: string, chatId: string) {
  const deps = t.service.deps;
  const s = await seedOrderDirect(deps, { userId, chatId });
  await payDevDirect(deps, s.orderId);
  await t.service.worker.drain();
  const order = (await deps.store.orders.get(s.orderId))!;
  const m = (await deps.store.memberships.list({ accountId: order.accountId }))[0]!;
  return { ...s, membershipId: m.id, accountId: order.accountId };
}

/** A job given up on: queued, claimed and buried as the worker does with a refusal retrying cannot fix. */
async function deadLetter(deps: AppDeps, job: NewJob, error: string): Promise<number> {
  const now = deps.clock.now();
  await deps.store.jobs.enqueue([job], now);
  const claimed = await deps.store.jobs.claim('test-worker', now, 60_000, 10);
  expect(claimed.map((j) => j.kind)).toEqual([job.kind]);
  expect(await deps.store.jobs.bury(claimed[0]!.id, 'test-worker', error, now)).toBe(true);
  return claimed[0]!.id;
}

const client = consoleClient;

const deadIds = (body: string) => [...body.matchAll(/data-dead="(\d+)"/g)].map((m) => Number(m[1]));

describe.each(DIALECTS)('console System page (%s)', (dialect) => {
  const it = serviceTest(dialect).extend<{
    scene: {
      ownerA: number;
      ownerB: number;
      /** Dead letters: an invite in A's group, a removal in B's group, a reconcile of A's order, a notice to a person (no group). */
      deadA: number;
      deadB: number;
      deadOrderA: number;
      deadNotice: number;
      c: ReturnType<typeof client>;
    };
  }>({
    scene: async ({ t }, use) => {
      const deps = t.service.deps;
      const bot = createConversation(deps);
      const say = async (userId: string, text: string) => textOf(await bot.handle({ platform: 'playground', userId, text }));
      const one = await paid(t, 'ann', 'room-1');
      const two = await paid(t, 'ben', 'room-2');
      expect(await say('owner-a', (await createClaimCode(deps, admin, [one.groupId])).code)).toMatch(/You are now an owner/);
      expect(await say('owner-b', (await createClaimCode(deps, admin, [two.groupId])).code)).toMatch(/You are now an owner/);
      await t.service.worker.drain();
      const ownerA = (await deps.store.accounts.find('playground', 'owner-a'))!.id;
      const ownerB = (await deps.store.accounts.find('playground', 'owner-b'))!.id;
      const deadA = await deadLetter(
        deps,
        { kind: 'invite', payload: { membershipId: one.membershipId, expiresAt: 1 }, lane: 'invite', dedupeKey: 'test:a' },
        'chat not found',
      );
      const deadB = await deadLetter(
        deps,
        { kind: 'remove', payload: { membershipId: two.membershipId, reason: 'expired', expectStatus: 'expired' }, lane: 'removal', dedupeKey: 'test:b' },
        'not enough rights',
      );
      const deadOrderA = await deadLetter(deps, { kind: 'reconcile_order', payload: { orderId: one.orderId }, lane: 'system', dedupeKey: 'test:o' }, 'boom');
      const deadNotice = await deadLetter(
        deps,
        { kind: 'notify', payload: { accountId: two.accountId, message: { key: 'x', params: {} } }, lane: 'notice', dedupeKey: 'test:n' },
        'bot was blocked by the user',
      );
      await use({ ownerA, ownerB, deadA, deadB, deadOrderA, deadNotice, c: client(t.service.app, deps) });
    },
  });

  it('shows the operator the health of the database and the payment providers, the jobs by status and every dead letter; the overview links to it', async ({
    t,
    scene: { c, deadA, deadB, deadOrderA, deadNotice },
  }) => {
    const op = await c.signIn(null);
    const res = await c.get(op, '/console/system');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toContain("img-src 'self' data:");
    expect(res.body).toMatch(/<tr id="health-database" data-state="ok">/);
    expect(res.body).toContain(dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL');
    expect(res.body).toMatch(/<tr id="health-provider-dev" data-state="warn">/);
    expect(res.body).toMatch(/<tr id="health-playground" data-state="ok">/);
    // Job counts: the same rows as the store's count by status (the figure /metrics shows), per lane and kind too.
    const byStatus = await t.service.deps.store.jobs.countByStatus();
    const total = (st: string) => byStatus.filter((r) => r.status === st).reduce((n, r) => n + r.count, 0);
    expect(total('dead')).toBe(4);
    for (const st of ['queued', 'running', 'done', 'dead'])
      expect(res.body).toMatch(new RegExp(`id="jobs-${st}">\\s*<div class="k">[^<]+</div>\\s*<div class="v">${total(st)}</div>`));
    expect(res.body).toMatch(/data-lane="invite" data-kind="invite" data-status="dead">[\s\S]*?<td class="num">1<\/td>/);
    expect(deadIds(res.body).sort((x, y) => x - y)).toEqual([deadA, deadB, deadOrderA, deadNotice].sort((x, y) => x - y));
    expect(res.body).toContain('chat not found');
    expect(res.body).not.toContain('id="wechat-login"'); // WeChat is not configured here
    const overview = await c.get(op, '/console');
    expect(overview.body).toMatch(/id="card-dead">[\s\S]*?<a href="\/console\/system#dead-letters">4<\/a>/);
  });

  it('Retry asks first, then re-queues the dead letter once: a double click retries once and is audited once', async ({ t, scene: { c, deadA } }) => {
    const deps = t.service.deps;
    const op = await c.signIn(null);
    const url = `/console/system/jobs/${deadA}/retry`;
    const ask = await c.post(op, url, { _csrf: op.csrf });
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain('id="confirm-question"');
    expect(ask.body).toContain(`Retry job #${deadA} (invite)?`);
    expect((await deps.store.jobs.get(deadA))!.status).toBe('dead'); // nothing changed yet
    const [r1, r2] = await Promise.all([c.post(op, url, { _csrf: op.csrf, confirm: 'yes' }), c.post(op, url, { _csrf: op.csrf, confirm: 'yes' })]);
    expect([r1.statusCode, r2.statusCode]).toEqual([303, 303]);
    expect([r1.headers.location, r2.headers.location].sort()).toEqual(['/console/system?done=system_already', '/console/system?done=system_retry']);
    const job = (await deps.store.jobs.get(deadA))!;
    expect(job).toMatchObject({ status: 'queued', attempts: 0, runAt: deps.clock.now() });
    const audit = await deps.store.audit.list({ subjectType: 'job', subjectId: String(deadA) });
    expect(audit.map((e) => [e.action, e.actor])).toEqual([['job.retry', 'admin:console']]);
    // A third press after the page reloaded: nothing to confirm, nothing changes.
    const again = await c.post(op, url, { _csrf: op.csrf });
    expect(again.headers.location).toBe('/console/system?done=system_already');
    const page = await c.get(op, '/console/system?done=system_retry');
    expect(page.body).toContain('id="done"');
    expect(deadIds(page.body)).not.toContain(deadA);
  });

  it('a POST without the CSRF token or without a session is refused and re-queues nothing; a job id that is not a number is a clear 400', async ({
    t,
    scene: { c, deadA },
  }) => {
    const op = await c.signIn(null);
    const url = `/console/system/jobs/${deadA}/retry`;
    const noCsrf = await c.post(op, url, { confirm: 'yes' });
    expect(noCsrf.statusCode).toBe(403);
    const wrongCsrf = await c.post(op, url, { confirm: 'yes', _csrf: 'x'.repeat(43) });
    expect(wrongCsrf.statusCode).toBe(403);
    const noSession = await c.post(null, url, { confirm: 'yes', _csrf: op.csrf });
    expect(noSession.statusCode).toBe(401);
    expect((await t.service.deps.store.jobs.get(deadA))!.status).toBe('dead');
    const bad = await c.post(op, '/console/system/jobs/abc/retry', { _csrf: op.csrf, confirm: 'yes' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('job id must be a number');
    const missing = await c.post(op, '/console/system/jobs/999999/retry', { _csrf: op.csrf, confirm: 'yes' });
    expect(missing.statusCode).toBe(404);
    expect(await t.service.deps.store.audit.list({ subjectType: 'job' })).toEqual([]);
  });

  it("an owner sees and retries only the dead letters about their own groups: another owner's, or one about no group, is refused and stays dead", async ({
    t,
    scene: { c, ownerA, ownerB, deadA, deadB, deadOrderA, deadNotice },
  }) => {
    const deps = t.service.deps;
    const a = await c.signIn(ownerA);
    const page = await c.get(a, '/console/system');
    expect(page.statusCode).toBe(200);
    // Their invite and their order's reconcile job; not B's removal, not the notice to a person.
    expect(deadIds(page.body).sort((x, y) => x - y)).toEqual([deadA, deadOrderA].sort((x, y) => x - y));
    expect(page.body).not.toContain('not enough rights');
    expect(page.body).not.toContain('bot was blocked');
    // Health as state words: the database is ok, no error texts or provider addresses beyond the state.
    expect(page.body).toMatch(/<tr id="health-database" data-state="ok">/);
    for (const id of [deadB, deadNotice, 999_999]) {
      for (const form of [{ _csrf: a.csrf }, { _csrf: a.csrf, confirm: 'yes' }] as Array<Record<string, string>>) {
        const res = await c.post(a, `/console/system/jobs/${id}/retry`, form);
        expect(res.statusCode).toBe(403);
        expect(res.body).toContain(`job ${id} is not about one of your groups`);
      }
    }
    expect((await deps.store.jobs.get(deadB))!.status).toBe('dead');
    expect((await deps.store.jobs.get(deadNotice))!.status).toBe('dead');
    // Their own: retried.
    const own = await c.post(a, `/console/system/jobs/${deadOrderA}/retry`, { _csrf: a.csrf, confirm: 'yes' });
    expect(own.headers.location).toBe('/console/system?done=system_retry');
    expect((await deps.store.jobs.get(deadOrderA))!.status).toBe('queued');
    expect((await deps.store.audit.list({ subjectType: 'job', subjectId: String(deadOrderA) }))[0]!.actor).toBe(`account:${ownerA}`);
    // B sees B's removal only; A's session cookie is A's, whatever B posts with it.
    const b = await c.signIn(ownerB);
    expect(deadIds((await c.get(b, '/console/system')).body)).toEqual([deadB]);
    expect((await c.post(b, `/console/system/jobs/${deadA}/retry`, { _csrf: b.csrf, confirm: 'yes' })).statusCode).toBe(403);
    expect((await deps.store.jobs.get(deadA))!.status).toBe('dead');
  });

  it('the admin API lists the dead letters and re-queues one through the same use case, once', async ({
    t,
    scene: { deadA, deadB, deadOrderA, deadNotice },
  }) => {
    const app = t.service.app;
    const list = await app.inject({ method: 'GET', url: '/api/jobs/dead?limit=3', headers: auth });
    expect(list.statusCode).toBe(200);
    const first = list.json();
    const next = (await app.inject({ method: 'GET', url: `/api/jobs/dead?cursor=${first.nextCursor}`, headers: auth })).json();
    expect([...first.items, ...next.items].map((d: { id: number }) => d.id)).toEqual([deadNotice, deadOrderA, deadB, deadA]);
    expect(next.nextCursor).toBeNull();
    const retry = () => app.inject({ method: 'POST', url: `/api/jobs/${deadB}/retry`, headers: auth });
    expect((await retry()).json()).toEqual({ id: deadB, result: 'retried' });
    expect((await retry()).json()).toEqual({ id: deadB, result: 'already' });
    expect((await t.service.deps.store.audit.list({ subjectType: 'job', subjectId: String(deadB) })).map((e) => e.actor)).toEqual(['admin:api']);
    expect((await app.inject({ method: 'POST', url: '/api/jobs/abc/retry', headers: auth })).statusCode).toBe(400);
    expect((await app.inject({ method: 'POST', url: '/api/jobs/999999/retry', headers: auth })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: `/api/jobs/${deadA}/retry` })).statusCode).toBe(401);
    expect((await t.service.deps.store.jobs.get(deadA))!.status).toBe('dead');
  });

  it("shows WeChat's login QR (an image from a data: URL) to the operator while WeChat waits for a scan, and only a note to an owner", async ({
    t,
    scene: { ownerA },
  }) => {
    const deps = t.service.deps;
    let login = { status: 'waiting_for_scan', qr: 'https://login.weixin.qq.com/l/test-code' as string | null };
    const app = await buildApp({
      app: deps,
      adminToken: ADMIN_TOKEN,
      health: () => ({ wechat: { status: login.status, loggedIn: login.status === 'logged_in', errors: 2 } }),
      wechatLogin: () => login,
    });
    try {
      const c = client(app, deps);
      const op = await c.signIn(null);
      const page = (await c.get(op, '/console/system')).body;
      expect(page).toMatch(/<tr id="health-wechat" data-state="warn">/);
      expect(page).toContain('errors: 2'); // the operator sees the details
      expect(page).toMatch(/<img class="sys-qr" id="wechat-qr" src="data:image\/png;base64,[A-Za-z0-9+/=]+"/);
      const a = await c.signIn(ownerA);
      const owner = (await c.get(a, '/console/system')).body;
      expect(owner).toContain('id="wechat-login"');
      expect(owner).not.toContain('id="wechat-qr"');
      expect(owner).not.toContain('data:image/png');
      expect(owner).not.toContain('errors: 2');
      login = { status: 'logged_in', qr: null };
      const after = (await c.get(op, '/console/system')).body;
      expect(after).not.toContain('id="wechat-login"');
      expect(after).toMatch(/<tr id="health-wechat" data-state="ok">/);
    } finally {
      await app.close();
    }
  });
});
