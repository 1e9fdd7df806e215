// Issue 13 part 11: WeChat on several instances. On PostgreSQL only the instance holding the advisory
// lock (a session of its own, key from the schema) runs the WeChat puppet (one login per account);
// when its session ends another takes over within a minute; /healthz on every instance says which
// instance holds it. Two whole services on one database, each with its own wechaty-puppet-mock.
import { log, WechatyBuilder } from 'wechaty';
import { mock } from 'wechaty-puppet-mock';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inviteJob } from '../src/app/job-kinds.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { DAY_MS } from '../src/domain/time.ts';
import { createService, type Service } from '../src/service.ts';
import { advisoryKey, pgAdvisoryLock } from '../src/store/advisory-lock.ts';
import { FakeClock } from './fakes/fake-clock.ts';
import { ExtendedPuppetMock } from './fakes/wechaty-mock-extensions.ts';
import { openTestDb, PG_URL, type TestDb } from './helpers/db.ts';
import { ADMIN_TOKEN, DEV_SECRET, memoryLogger } from './helpers/service.ts';

log.level('silent');

const RETRY_S = 15;

interface Instance {
  id: string;
  service: Service;
  logger: ReturnType<typeof memoryLogger>;
  /** The puppet runs here (started, whatever its login state). */
  runs(): boolean;
  /** Kinds of the jobs this instance's worker ran (any outcome). */
  ran: string[];
  healthz(): Promise<{ status: number; wechat: Record<string, unknown> }>;
}

async function waitUntil(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

describe.runIf(PG_URL)('WeChat on two instances, one PostgreSQL database', () => {
  let db: TestDb;
  let clock: FakeClock;
  let admin: pg.Client;
  const instances: Instance[] = [];

  async function instance(id: string, store: TestDb['store']): Promise<Instance> {
    const mocker = new mock.Mocker();
    const puppet = new ExtendedPuppetMock(mocker, () => clock.now());
    const logger = memoryLogger();
    const ran: string[] = [];
    const config = loadConfig({
      DATA_DIR: '/nonexistent-test-data-dir',
      DATABASE_URL: PG_URL!,
      ADMIN_TOKEN,
      DEV_PAY_SECRET: DEV_SECRET,
      PUBLIC_URL: 'http://gk.test',
      PAYMENT_PROVIDERS: 'dev',
      ALLOW_DEV_PAYMENTS: '1',
      WECHATY_PUPPET_SERVICE_TOKEN: 'puppet-token-never-used-in-tests',
      INSTANCE_ID: id,
      WECHAT_LOCK_RETRY_SECONDS: String(RETRY_S),
    });
    const service = await createService({
      config,
      adminToken: ADMIN_TOKEN,
      devPaySecret: DEV_SECRET,
      store,
      clock,
      logger,
      worker: { random: () => 0.5, onResult: (job) => void ran.push(job.kind) },
      wechat: { createWechaty: () => WechatyBuilder.build({ puppet }), printQr: () => {} },
      wechatLock: pgAdvisoryLock({ url: PG_URL!, schema: db.schema, name: 'wechat', instanceId: id }),
    });
    const it: Instance = {
      id,
      service,
      logger,
      ran,
      runs: () => service.wechat!.login.status !== 'stopped',
      async healthz() {
        const r = await service.app.inject({ method: 'GET', url: '/healthz', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        return { status: r.statusCode, wechat: r.json().wechat };
      },
    };
    instances.push(it);
    return it;
  }

  /** Moves virtual time in small steps until cond holds (at most `ms`); never two puppets at once. */
  async function advanceUntil(cond: () => boolean, ms: number, what: string): Promise<number> {
    for (let t = 0; t <= ms; t += 1000) {
      await new Promise((r) => setTimeout(r, 30)); // the lock rounds talk to PostgreSQL in real time
      expect(instances.filter((i) => i.runs()).length, 'puppets running at once').toBeLessThanOrEqual(1);
      if (cond()) return t;
      await clock.advance(1000);
    }
    throw new Error(`not within ${ms / 1000} s of virtual time: ${what}`);
  }

  beforeAll(async () => {
    db = await openTestDb('postgres');
    clock = new FakeClock();
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
  });
  afterAll(async () => {
    for (const i of instances) await i.service.stop();
    await admin.end();
    await db.close();
  });

  it('exactly one runs WeChat; when its session dies or it stops, the other takes over within a minute; /healthz says which', async () => {
    const a = await instance('inst-a', db.store);
    const b = await instance('inst-b', (await db.reopen()).store);
    a.service.start();
    await waitUntil(() => a.runs() && a.service.wechatLeader!.isLeader, 'a runs wechat');
    b.service.start();
    await waitUntil(() => b.service.wechatLeader!.health().holder === 'inst-a', 'b sees a holding the lock');
    expect(b.runs()).toBe(false);
    for (const i of [a, b]) {
      const h = await i.healthz();
      expect(h.status).toBe(200);
      expect(h.wechat).toMatchObject({ instance: i.id, holder: 'inst-a', runsHere: i === a });
    }
    // Issue 14 part 5: a paid member's WeChat invite is never claimed (and parked) by b, which cannot
    // send it; a, the holder, takes it at once.
    const now = clock.now();
    const g = await db.store.groups.insert(
      { platform: 'wechat', platformChatId: 'room-paid', title: 'Paid', ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] },
      now,
    );
    const payer = await db.store.accounts.upsert({ platform: 'wechat', platformUserId: 'wx-payer' }, now);
    const m = await db.store.memberships.insert({ accountId: payer.id, groupId: g.id, status: 'active', expiresAt: now + DAY_MS }, now);
    await db.store.jobs.enqueue([inviteJob({ membershipId: m.id, expiresAt: m.expiresAt })], now);
    await b.service.worker.drain();
    expect(b.ran).not.toContain('invite');
    expect((await db.store.jobs.list({ kind: 'invite' }))[0]).toMatchObject({ status: 'queued', attempts: 0, runAt: now });
    await a.service.worker.drain();
    expect(a.ran).toContain('invite');
    expect(b.ran).not.toContain('invite');

    // b keeps trying and keeps seeing a.
    for (let k = 0; k < 3; k++) {
      await clock.advance(RETRY_S * 1000);
      await new Promise((r) => setTimeout(r, 30));
      expect([a.runs(), b.runs()]).toEqual([true, false]);
    }

    // a's database session dies (pg_terminate_backend, as when its connection breaks): a stops its
    // puppet at once, and within a minute exactly one instance runs WeChat again.
    const killed = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'gatekeeper/inst-a'`);
    expect(killed.rowCount).toBe(1);
    await waitUntil(() => !a.runs(), 'a stops its puppet when its lock session dies');
    expect(a.logger.lines.some((l) => /lost the instance lock/.test(l.msg ?? ''))).toBe(true);
    await advanceUntil(() => a.runs() !== b.runs(), 60_000, 'one instance runs wechat again');
    const holder = a.runs() ? a : b;
    const other = holder === a ? b : a;
    // The other notes the new holder on its next round.
    await clock.advance(RETRY_S * 1000);
    await waitUntil(async () => (await other.healthz()).wechat.holder === holder.id, 'the other sees the new holder');
    expect(other.runs()).toBe(false);
    expect((await holder.healthz()).wechat).toMatchObject({ instance: holder.id, holder: holder.id, runsHere: true });

    // The holder stops (shutdown): the other takes over within a minute.
    await holder.service.stop();
    instances.splice(instances.indexOf(holder), 1);
    const took = await advanceUntil(() => other.runs(), 60_000, 'the other takes over');
    expect(took).toBeLessThanOrEqual(60_000);
    expect(other.service.wechatLeader!.isLeader).toBe(true);
    expect((await other.healthz()).wechat).toMatchObject({ instance: other.id, holder: other.id, runsHere: true });
  }, 60_000);

  it('the lock session has server-side TCP keepalives, so PostgreSQL drops a dead holder within seconds, not hours', async () => {
    const lock = pgAdvisoryLock({ url: PG_URL!, schema: db.schema, name: 'keepalive', instanceId: 'k1' });
    try {
      expect(await lock.tryAcquire()).toBe(true);
      // SHOW on the very session that holds the lock (a TCP connection: PG_URL names 127.0.0.1).
      expect(await lock.sessionSetting('tcp_keepalives_idle')).toBe('10');
      expect(await lock.sessionSetting('tcp_keepalives_interval')).toBe('5');
      expect(await lock.sessionSetting('tcp_keepalives_count')).toBe('3');
      // The schema still reaches the same options string.
      expect(await lock.sessionSetting('search_path')).toBe(db.schema);
      // And the server agrees it is that session holding the lock.
      expect(await lock.holder()).toBe('k1');
    } finally {
      await lock.release();
    }
  });

  it('the lock key comes from the schema: neighbour deployments do not collide', async () => {
    expect(advisoryKey('shop_a', 'wechat').key).not.toBe(advisoryKey('shop_b', 'wechat').key);
    const mine = pgAdvisoryLock({ url: PG_URL!, schema: db.schema, name: 'probe', instanceId: 'x1' });
    const same = pgAdvisoryLock({ url: PG_URL!, schema: db.schema, name: 'probe', instanceId: 'x2' });
    const neighbour = pgAdvisoryLock({ url: PG_URL!, schema: `${db.schema}_n`, name: 'probe', instanceId: 'y1' });
    try {
      expect(await mine.tryAcquire()).toBe(true);
      expect(await same.tryAcquire()).toBe(false);
      expect(await same.holder()).toBe('x1');
      expect(await neighbour.tryAcquire()).toBe(true);
      await mine.release();
      expect(await same.tryAcquire()).toBe(true);
    } finally {
      await Promise.all([mine.release(), same.release(), neighbour.release()]);
    }
  });
});

describe('WeChat with one instance, and the settings', () => {
  it('on SQLite nothing changes: no lock, the puppet starts with the service', async () => {
    const db = await openTestDb('sqlite');
    const clock = new FakeClock();
    const puppet = new ExtendedPuppetMock(new mock.Mocker(), () => clock.now());
    const config = loadConfig({
      DATA_DIR: '/nonexistent-test-data-dir',
      DATABASE_URL: db.url,
      ADMIN_TOKEN,
      DEV_PAY_SECRET: DEV_SECRET,
      PAYMENT_PROVIDERS: 'dev',
      ALLOW_DEV_PAYMENTS: '1',
      WECHATY_PUPPET_SERVICE_TOKEN: 'never-used',
    });
    const service = await createService({
      config,
      adminToken: ADMIN_TOKEN,
      devPaySecret: DEV_SECRET,
      store: db.store,
      clock,
      logger: memoryLogger(),
      wechat: { createWechaty: () => WechatyBuilder.build({ puppet }), printQr: () => {} },
    });
    try {
      expect(service.wechatLeader).toBeUndefined();
      service.start();
      await waitUntil(() => service.wechat!.login.status !== 'stopped', 'wechat starts');
      const h = (await service.app.inject({ method: 'GET', url: '/healthz', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json();
      expect(h.wechat).not.toHaveProperty('holder');
    } finally {
      await service.stop();
      await db.close();
    }
  });

  it('INSTANCE_ID and WECHAT_LOCK_RETRY_SECONDS: defaults, and one line for a bad value', () => {
    const c = loadConfig({});
    expect(c.instanceId).toMatch(new RegExp(`^[A-Za-z0-9._@-]+:${process.pid}$`));
    expect(c.wechatLockRetryMs).toBe(15_000);
    expect(loadConfig({ INSTANCE_ID: 'web-1.eu:7', WECHAT_LOCK_RETRY_SECONDS: '30' })).toMatchObject({ instanceId: 'web-1.eu:7', wechatLockRetryMs: 30_000 });
    expect(() => loadConfig({ WECHAT_LOCK_RETRY_SECONDS: '0' })).toThrow(
      new ConfigError('WECHAT_LOCK_RETRY_SECONDS must be a whole number from 1 to 60 (got "0")'),
    );
    expect(() => loadConfig({ WECHAT_LOCK_RETRY_SECONDS: '90' })).toThrow(/^WECHAT_LOCK_RETRY_SECONDS must be a whole number from 1 to 60/);
    expect(() => loadConfig({ INSTANCE_ID: 'has space' })).toThrow(
      new ConfigError('INSTANCE_ID must be 1 to 48 characters of A-Z, a-z, 0-9 and . _ : @ - (got "has space")'),
    );
    expect(() => loadConfig({ INSTANCE_ID: 'x'.repeat(49) })).toThrow(/^INSTANCE_ID must be 1 to 48 characters/);
  });
});
