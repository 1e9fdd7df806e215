// /healthz is public: anyone sees state words only; provider/API URLs, error texts, names and counters
// need the admin token.
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { ADMIN_TOKEN, auth, startTestService, type TestService } from '../helpers/service.ts';

const SECRETISH = ['api.telegram.example', 'ECONNREFUSED', 'gk_secret_bot', 'Boss Account', 'https://', '502 Bad Gateway'];

describe('GET /healthz', () => {
  let t: TestService;
  afterEach(async () => {
    await t?.close();
  });

  it('shows state only without the admin token, every detail with it', async () => {
    t = await startTestService('sqlite');
    // What the Telegram and WeChat adapters report while failing (their real shapes).
    const details = {
      telegram: {
        mode: 'polling',
        state: 'failing',
        bot: 'gk_secret_bot',
        lastUpdateAt: null,
        pollFailures: 7,
        lastError: 'request to https://api.telegram.example/bot123:abc/getUpdates failed, reason: connect ECONNREFUSED',
        calls: 12,
      },
      wechat: {
        status: 'logged_in',
        loggedIn: true,
        since: '2026-01-01T00:00:00.000Z',
        loggedInAs: 'Boss Account',
        lastErrorAt: '2026-01-01T00:00:00.000Z',
        errors: 2,
      },
      provider: 'https://api.mch.weixin.qq.com unreachable: 502 Bad Gateway',
      paused: false,
    };
    const app = await buildApp({ app: t.service.deps, adminToken: ADMIN_TOKEN, health: () => details });
    try {
      const anon = await app.inject({ method: 'GET', url: '/healthz' });
      expect(anon.statusCode).toBe(200);
      expect(anon.json()).toEqual({
        status: 'ok',
        database: 'ok',
        dialect: 'sqlite',
        telegram: { mode: 'polling', state: 'failing' },
        wechat: { status: 'logged_in', loggedIn: true },
        paused: false,
      });
      for (const s of SECRETISH) expect(anon.body).not.toContain(s);
      expect(anon.headers['cache-control']).toBe('no-store');

      // A wrong token is treated as none.
      const wrong = await app.inject({ method: 'GET', url: '/healthz', headers: { authorization: 'Bearer not-the-admin-token-000' } });
      expect(wrong.json()).toEqual(anon.json());

      const admin = await app.inject({ method: 'GET', url: '/healthz', headers: auth });
      expect(admin.json()).toEqual({ status: 'ok', database: 'ok', dialect: 'sqlite', ...details });
    } finally {
      await app.close();
    }
  });
});
