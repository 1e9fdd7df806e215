// Login and health: the login QR printed for the terminal and served by the admin API; login state,
// logout and restart in /healthz; work queued while logged out waits (no attempt spent) and goes out
// after the next login, restart included.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as PUPPET from 'wechaty-puppet';
import { terminalQrPrinter } from '../../../bots/wechat/login-health.ts';
import { notifyJob } from '../../../src/app/job-kinds.ts';
import { loadConfig } from '../../../src/config.ts';
import { createService } from '../../../src/service.ts';
import { FakeClock } from '../../fakes/fake-clock.ts';
import { openTestDb } from '../../helpers/db.ts';
import { ADMIN_TOKEN, DEV_SECRET, memoryLogger } from '../../helpers/service.ts';
import { auth, loginBot, person, say, settle, startWorld, waitFor, type World } from './harness.ts';

describe('WeChat login and health', () => {
  let w: World;
  beforeEach(async () => {
    w = await startWorld('sqlite', { login: false });
  });
  afterEach(async () => {
    await w.close();
  });

  it('shows the login QR to the owner (admin token) and the login state in /healthz', async () => {
    const app = w.service.app;
    const before = (await app.inject({ method: 'GET', url: '/healthz', headers: auth })).json();
    expect(before.status).toBe('ok');
    expect(before.wechat).toMatchObject({ loggedIn: false, qrAvailable: false });
    // Without the admin token: the state only.
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json().wechat).toEqual({ status: before.wechat.status, loggedIn: false });

    w.mocker.scan('https://login.weixin.qq.com/l/abc123', PUPPET.types.ScanStatus.Waiting);
    await waitFor(() => w.adapter.login.status === 'waiting_for_scan', 'scan');
    expect(w.printedQr).toEqual(['https://login.weixin.qq.com/l/abc123']);

    expect((await app.inject({ method: 'GET', url: '/api/wechat/login' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/api/wechat/login', headers: { authorization: 'Bearer wrong-token-0123456789' } })).statusCode).toBe(401);
    const login = await app.inject({ method: 'GET', url: '/api/wechat/login', headers: auth });
    expect(login.statusCode).toBe(200);
    expect(login.json()).toMatchObject({ status: 'waiting_for_scan', qr: 'https://login.weixin.qq.com/l/abc123', loggedInAs: null });
    expect(login.json().qrImage).toMatch(/^data:image\/png;base64,/);
    const png = await app.inject({ method: 'GET', url: '/api/wechat/login/qr.png', headers: auth });
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.rawPayload.subarray(1, 4).toString()).toBe('PNG');

    const health = await app.inject({ method: 'GET', url: '/healthz', headers: auth });
    expect(health.json().wechat).toMatchObject({ status: 'waiting_for_scan', loggedIn: false, qrAvailable: true });
    expect(health.body).not.toContain('abc123'); // /healthz is public: never the QR

    // The same code again is not printed twice; a new one is.
    w.mocker.scan('https://login.weixin.qq.com/l/abc123', PUPPET.types.ScanStatus.Waiting);
    w.mocker.scan('https://login.weixin.qq.com/l/def456', PUPPET.types.ScanStatus.Timeout);
    await waitFor(() => w.printedQr.length === 2, 'second qr');
    expect(w.printedQr[1]).toBe('https://login.weixin.qq.com/l/def456');

    w.mocker.login(w.botUser);
    await waitFor(() => w.adapter.login.loggedIn, 'login');
    const after = await app.inject({ method: 'GET', url: '/healthz', headers: auth });
    expect(after.json().wechat).toMatchObject({ status: 'logged_in', loggedIn: true, qrAvailable: false, logins: 1 });
    expect(after.body).not.toContain('Gatekeeper Bot');
    expect((await app.inject({ method: 'GET', url: '/api/wechat/login', headers: auth })).json()).toMatchObject({
      status: 'logged_in',
      qr: null,
      loggedInAs: 'Gatekeeper Bot',
    });
    expect((await app.inject({ method: 'GET', url: '/api/wechat/login/qr.png', headers: auth })).statusCode).toBe(404);
  });

  it('work queued while logged out waits without spending attempts, and goes out after a restart and a new login', async () => {
    await loginBot(w);
    const dan = person(w, 'Dan');
    await say(w, dan, '帮助');
    const account = (await w.db.store.accounts.find('wechat', dan.id))!;
    const sentBefore = w.puppet.textsTo(dan.id).length;
    expect(sentBefore).toBeGreaterThan(0);

    await w.puppet.logout();
    await waitFor(() => w.adapter.login.status === 'logged_out', 'logout');
    expect((await w.service.app.inject({ method: 'GET', url: '/healthz', headers: auth })).json().wechat).toMatchObject({
      status: 'logged_out',
      loggedIn: false,
      logouts: 1,
    });

    await w.db.store.jobs.enqueue(
      [notifyJob({ accountId: account.id, message: { key: 'reminder.grace', params: { group: 'Club', graceUntil: w.clock.now() } } }, 'while-logged-out')],
      w.clock.now(),
    );
    for (let i = 0; i < 3; i++) {
      await w.service.worker.drain();
      await w.clock.advance(31_000);
    }
    const waiting = (await w.db.store.jobs.list({ kind: 'notify' })).find((j) => j.dedupeKey === 'while-logged-out')!;
    expect(waiting).toMatchObject({ status: 'queued', attempts: 0 });
    expect(waiting.lastError).toMatch(/logged out|not logged in/);
    expect(w.puppet.textsTo(dan.id)).toHaveLength(sentBefore);

    const r = await w.service.app.inject({ method: 'POST', url: '/api/wechat/restart', headers: auth });
    expect(r.statusCode).toBe(202);
    await waitFor(() => w.adapter.login.status !== 'logged_out' && w.adapter.login.status !== 'stopped' && w.adapter.login.status !== 'starting', 'restarted');
    expect((await w.service.app.inject({ method: 'GET', url: '/healthz', headers: auth })).json().wechat.restarts).toBe(1);
    await loginBot(w);
    await w.clock.advance(31_000);
    await settle(w);
    expect((await w.db.store.jobs.list({ kind: 'notify' })).find((j) => j.dedupeKey === 'while-logged-out')!.status).toBe('done');
    expect(w.puppet.textsTo(dan.id).at(-1)).toContain('Your membership of "Club" has ended');
  });
});

describe('WeChat configuration', () => {
  it('the production path: WECHATY_PUPPET_SERVICE_TOKEN turns the adapter on (puppet-service), nothing connects before start()', async () => {
    const db = await openTestDb('sqlite');
    try {
      const config = loadConfig({
        DATA_DIR: '/nonexistent-test-data-dir',
        DATABASE_URL: db.url,
        ADMIN_TOKEN,
        PAYMENT_PROVIDERS: 'dev',
        ALLOW_DEV_PAYMENTS: '1',
        WECHATY_PUPPET_SERVICE_TOKEN: 'puppet_service_token_123',
        WECHAT_FRIEND_KEYWORD: ' join ',
      });
      expect(config.wechat).toEqual({ puppet: 'wechaty-puppet-service', token: 'puppet_service_token_123', friendKeyword: 'join' });
      expect(config.playground).toBe(false);
      const service = await createService({
        config,
        adminToken: ADMIN_TOKEN,
        devPaySecret: DEV_SECRET,
        store: db.store,
        clock: new FakeClock(),
        logger: memoryLogger(),
      });
      expect(service.wechat).toBeDefined();
      expect(service.wechat!.wechaty).toBeNull();
      expect(service.deps.gateways.get('wechat')).toBe(service.wechat!.gateway);
      expect((await service.app.inject({ method: 'GET', url: '/healthz' })).json().wechat).toMatchObject({ status: 'stopped', loggedIn: false });
      expect((await service.app.inject({ method: 'GET', url: '/api/wechat/login', headers: auth })).json()).toMatchObject({ status: 'stopped', qr: null });
      await service.stop();
    } finally {
      await db.close();
    }
    expect(() => loadConfig({ WECHATY_PUPPET_SERVICE_TOKEN: 'tok', ALLOW_DEV_PAYMENTS: '1', WECHAT_FRIEND_KEYWORD: 'x'.repeat(51) })).toThrow(
      /^WECHAT_FRIEND_KEYWORD must be at most 50 characters/,
    );
    // Without a token there is no WeChat adapter at all.
    expect(loadConfig({}).wechat).toBeNull();
  });

  it('prints the login QR on the terminal as blocks, with where else to find it', async () => {
    const out: string[] = [];
    terminalQrPrinter((s) => out.push(s))('https://login.weixin.qq.com/l/abc123');
    await waitFor(() => out.length === 1, 'printed');
    expect(out[0]).toContain('WeChat login: scan this code');
    expect(out[0]).toContain('/api/wechat/login');
    expect(out[0]).toMatch(/[█▀▄]/);
  });
});
