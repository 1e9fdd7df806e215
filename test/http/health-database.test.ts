// Issue 13 part 10: a database that goes away under the running service is noticed. On SQLite the
// file may be deleted or replaced (the open handle then writes into a file nobody reads again):
// /healthz answers 503, and the log says so once, not on every probe.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { reconcileJob } from '../../src/app/job-kinds.ts';
import { sqlitePath } from '../../src/store/database.ts';
import { DIALECTS } from '../helpers/db.ts';
import { seedOrder } from '../helpers/fixtures.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

const unreachableLines = (t: TestService) => t.logger.lines.filter((l) => l.msg === 'database unreachable: /healthz answers 503');

describe('/healthz when the SQLite file goes away', () => {
  let t: TestService;
  afterEach(async () => {
    await t.close();
  });

  it('deleted: 503 on every probe, one log line', async () => {
    t = await startTestService('sqlite');
    const path = sqlitePath(t.db.url);
    expect((await t.service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    rmSync(path);
    for (let i = 0; i < 3; i++) {
      const r = await t.service.app.inject({ method: 'GET', url: '/healthz' });
      expect(r.statusCode).toBe(503);
      expect(r.json()).toMatchObject({ status: 'error', database: 'unreachable' });
    }
    const lines = unreachableLines(t);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe('error');
    expect(JSON.stringify(lines[0]!.obj)).toContain(`the database file ${path} was deleted`);
  });

  it('replaced by another file (a restore copied over it): 503, one log line', async () => {
    t = await startTestService('sqlite');
    const path = sqlitePath(t.db.url);
    writeFileSync(`${path}.new`, 'another file');
    renameSync(`${path}.new`, path);
    expect((await t.service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(503);
    expect((await t.service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(503);
    expect(unreachableLines(t)).toHaveLength(1);
    expect(JSON.stringify(unreachableLines(t)[0]!.obj)).toContain('was replaced');
  });
});

// The writers that run on their own stand still while the file is gone: payment webhooks answer 503 (the
// provider retries) without taking an idempotency slot, the worker claims nothing, the sweeps do not run.
describe('webhooks, worker and sweeps when the SQLite file goes away', () => {
  let t: TestService;
  afterEach(async () => {
    await t.close();
  });
  const goneLines = () => t.logger.lines.filter((l) => /^database file gone/.test(l.msg ?? ''));
  const events = async () =>
    Number(
      (
        await t.db.opened.db
          .selectFrom('webhook_events')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const paid = async () => {
    const { orderId } = await seedOrder(t.service.app);
    let n: { body: Buffer; headers: Record<string, string> } | undefined;
    // The notification is signed at its first POST (on the fake clock as it is then), and re-sent as is.
    const post = async () => {
      n ??= t.service.devProvider!.pay((await t.service.deps.store.orders.get(orderId))!);
      return t.service.app.inject({ method: 'POST', url: '/webhooks/dev', headers: n.headers, payload: n.body });
    };
    return { orderId, post };
  };

  it('deleted: a valid webhook gets 503 and changes nothing, the worker claims nothing, the tick skips its sweeps; one log line', async () => {
    t = await startTestService('sqlite');
    const { orderId, post } = await paid();
    await t.service.deps.store.transaction((tx) => tx.jobs.enqueue([reconcileJob(orderId, 0)], t.clock.now()));
    // Past the order's time-out, so the timeout sweep would expire it if it ran.
    await t.clock.advance(16 * 60_000);
    rmSync(sqlitePath(t.db.url));

    for (let i = 0; i < 2; i++) {
      const r = await post();
      expect(r.statusCode).toBe(503);
      expect(r.json()).toEqual({ received: false });
    }
    expect(await t.service.worker.runOnce()).toBe(0);
    expect(await t.service.scheduler.tick()).toEqual({ skipped: expect.stringContaining('was deleted') });
    // The open handle still reads the deleted file: nothing was written into it either.
    expect((await t.service.deps.store.orders.get(orderId))!.status).toBe('pending');
    expect(await events()).toBe(0);
    expect((await t.service.deps.store.jobs.countByStatus()).find((c) => c.status === 'running')).toBeUndefined();
    expect(goneLines()).toHaveLength(1);
    expect(goneLines()[0]!.level).toBe('error');
  });

  it('moved away and back: 503 meanwhile, then the same notification is booked (no slot was taken) and work resumes', async () => {
    t = await startTestService('sqlite');
    const { orderId, post } = await paid();
    const path = sqlitePath(t.db.url);
    renameSync(path, `${path}.aside`);
    expect((await post()).statusCode).toBe(503);
    expect(await t.service.app.inject({ method: 'POST', url: `/pay/${orderId}/dev-pay`, headers: { accept: 'application/json' } })).toMatchObject({
      statusCode: 503,
    });
    expect(await t.service.worker.runOnce()).toBe(0);
    renameSync(`${path}.aside`, path);
    const r = await post();
    expect(r.statusCode).toBe(200);
    expect((await t.service.deps.store.orders.get(orderId))!.status).toBe('paid');
    expect(await t.service.worker.drain()).toBeGreaterThan(0);
    expect(t.gateway.of('invite').length + t.gateway.of('text').length).toBeGreaterThan(0);
    expect(goneLines()).toHaveLength(1);
    expect(t.logger.lines.some((l) => /^database file is back/.test(l.msg ?? ''))).toBe(true);
  });
});

describe.each(DIALECTS)('storageState (%s)', (dialect) => {
  it('is ok for a store whose database is in place (PostgreSQL: always)', async () => {
    const t = await startTestService(dialect);
    try {
      expect(t.service.deps.store.storageState()).toEqual({ state: 'ok' });
      expect(await t.service.worker.runOnce()).toBe(0);
      expect(await t.service.scheduler.tick()).not.toHaveProperty('skipped');
    } finally {
      await t.close();
    }
  });
});

describe.each(DIALECTS)('/healthz when the database is unreachable (%s)', (dialect) => {
  it('logs once while it stays down', async () => {
    const t = await startTestService(dialect);
    try {
      expect((await t.service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      expect(unreachableLines(t)).toHaveLength(0);
      await t.service.deps.store.close();
      for (let i = 0; i < 3; i++) expect((await t.service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(503);
      expect(unreachableLines(t)).toHaveLength(1);
    } finally {
      await t.service.stop();
      if (dialect === 'sqlite') rmSync(sqlitePath(t.db.url).replace(/\/test\.db$/, ''), { recursive: true, force: true });
    }
  });
});
