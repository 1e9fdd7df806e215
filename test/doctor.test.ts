// Issue 20 part 8: `gatekeeper doctor` passes on the quickstart's setup (one warning: PUBLIC_URL is
// http://localhost, right for trying it out) and, on a broken one, fails naming the setting or file to
// fix. Telegram's getMe goes to the loopback emulator through TELEGRAM_API_ROOT.
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, resolveSecrets, secureDataDir } from '../src/config.ts';
import { type Check, runDoctor } from '../src/doctor.ts';
import { migrateDown, migrateToLatest, openDatabase } from '../src/store/database.ts';
import { createStore } from '../src/store/kysely-store.ts';
import { alipayTestKeys } from './fakes/alipay-emulator.ts';
import { TelegramEmulator } from './fakes/telegram-emulator.ts';
import { cli } from './helpers/cli.ts';

const TOKEN = '123456789:AAtest-token_0123456789abcdefghijklmnop';
const STRIPE = { STRIPE_SECRET_KEY: 'sk_test_0123456789abcdef', STRIPE_WEBHOOK_SECRET: 'whsec_0123456789abcdef' };

const byName = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.name, c]));

describe('gatekeeper doctor', () => {
  let dir: string;
  let env: Record<string, string>;
  let emu: TelegramEmulator;
  beforeAll(async () => {
    emu = await TelegramEmulator.start({ token: TOKEN, limits: false });
  });
  afterAll(async () => {
    await emu.close();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gk-doctor-'));
    env = { DATA_DIR: join(dir, 'data') };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** What the first `npm start` leaves behind: DATA_DIR 0700, secrets.json 0600, a migrated database 0600. */
  async function quickstart(extra: Record<string, string> = {}) {
    const config = loadConfig({ ...env, ...extra });
    secureDataDir(config.dataDir);
    resolveSecrets(config);
    const opened = await openDatabase(config.databaseUrl);
    await migrateToLatest(opened);
    return opened;
  }

  it("passes on the quickstart's setup: every check ok, PUBLIC_URL a warning", async () => {
    await (await quickstart()).close();
    const r = await cli(['doctor'], env);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('ok    config: settings parse (SQLite, payments: dev)');
    expect(lines).toContain(`ok    database: ${join(dir, 'data', 'gatekeeper.db')} is reachable and migrated`);
    expect(lines.find((l) => l.includes('data files'))).toMatch(/^ok {4}data files: \d readable by their owner only/);
    expect(lines).toContain(
      'warn  PUBLIC_URL: http://localhost:3000 is fine for trying it out here; before going live set PUBLIC_URL to the https:// address people and providers reach',
    );
    expect(lines.find((l) => l.includes(' dev: '))).toMatch(/^ok {4}dev: test payments/);
    expect(lines).toContain('ok    chat platforms: none but the playground');
    expect(lines.filter((l) => !/^(ok {4}|warn {2})[A-Za-z_ ]+: /.test(l))).toEqual([]);
    // --json: the same checks as data.
    const json = JSON.parse((await cli(['doctor', '--json'], env)).out) as Check[];
    expect(json.map((c) => [c.name, c.status])).toEqual([
      ['config', 'ok'],
      ['data files', 'ok'],
      ['database', 'ok'],
      ['PUBLIC_URL', 'warn'],
      ['dev', 'ok'],
      ['chat platforms', 'ok'],
    ]);
  });

  it('a setting that does not parse: one FAIL line naming the key, exit 1', async () => {
    const r = await cli(['doctor'], { ...env, PAYMENT_PROVIDERS: 'stripe' });
    expect(r).toEqual({
      code: 1,
      out: 'FAIL  config: STRIPE_SECRET_KEY must be set when PAYMENT_PROVIDERS includes stripe',
      err: '1 check failed',
    });
  });

  it('no database, or one not migrated: names the place and "gatekeeper migrate"; creates nothing', async () => {
    const none = byName(await runDoctor(env));
    expect(none.database).toEqual({
      name: 'database',
      status: 'fail',
      detail: `no database at ${join(dir, 'data', 'gatekeeper.db')}; check DATABASE_URL / DATA_DIR, then run "gatekeeper migrate"`,
    });
    expect(existsSync(join(dir, 'data'))).toBe(false);
    const opened = await quickstart();
    const [undone] = await migrateDown(opened);
    await opened.close();
    const behind = byName(await runDoctor(env));
    expect(behind.database!.status).toBe('fail');
    expect(behind.database!.detail).toBe(`${join(dir, 'data', 'gatekeeper.db')} lacks 1 migration(s) (${undone}); run "gatekeeper migrate"`);
    expect((await cli(['doctor'], env)).code).toBe(1);
  });

  it('data files readable by others: the chmod that fixes each', async () => {
    await (await quickstart()).close();
    chmodSync(join(dir, 'data', 'gatekeeper.db'), 0o644);
    chmodSync(join(dir, 'data'), 0o755);
    const c = byName(await runDoctor(env))['data files']!;
    expect(c.status).toBe('fail');
    expect(c.detail).toBe(`readable by others: chmod 700 ${join(dir, 'data')}; chmod 600 ${join(dir, 'data', 'gatekeeper.db')}`);
  });

  it('a real provider: PUBLIC_URL must be https, and the notify URL follows from it', async () => {
    const live = { ...STRIPE, PAYMENT_PROVIDERS: 'stripe' };
    await (await quickstart(live)).close();
    const http = byName(await runDoctor({ ...env, ...live }));
    expect(http.PUBLIC_URL).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^http:\/\/localhost:3000 must be the public https:\/\/ address .*; set PUBLIC_URL$/),
    });
    expect(http.stripe).toMatchObject({
      status: 'fail',
      detail: 'keys load, but http://localhost:3000/webhooks/stripe cannot be reached from the internet; set PUBLIC_URL',
    });
    const https = byName(await runDoctor({ ...env, ...live, PUBLIC_URL: 'https://pay.example.com/' }));
    expect(https.PUBLIC_URL).toEqual({ name: 'PUBLIC_URL', status: 'ok', detail: 'https://pay.example.com is https' });
    expect(https.stripe!.status).toBe('ok');
    expect(https.stripe!.detail).toContain('https://pay.example.com/webhooks/stripe');
    // No chat platform and no playground: nobody could buy; a warning, not a failure.
    expect(Object.values(https).filter((c) => c.status !== 'ok')).toEqual([
      { name: 'chat platforms', status: 'warn', detail: 'none configured, so nobody can buy; set TELEGRAM_BOT_TOKEN or WECHATY_PUPPET_SERVICE_TOKEN' },
    ]);
  });

  it('alipay: its keys load, its notify URL, and its private key file readable by its owner only', async () => {
    const keys = alipayTestKeys();
    try {
      const live = {
        PAYMENT_PROVIDERS: 'alipay',
        ALIPAY_APP_ID: keys.appId,
        ALIPAY_PRIVATE_KEY: keys.app.privateKeyPath,
        ALIPAY_PUBLIC_KEY: keys.alipay.publicKeyPath,
        PUBLIC_URL: 'https://pay.example.com',
      };
      await (await quickstart(live)).close();
      const ok = byName(await runDoctor({ ...env, ...live }));
      expect(ok.alipay).toEqual({
        name: 'alipay',
        status: 'ok',
        detail: 'keys load; the provider calls https://pay.example.com/webhooks/alipay (sent with each order)',
      });
      expect(ok['data files']!.status).toBe('ok');
      chmodSync(keys.app.privateKeyPath, 0o644);
      expect(byName(await runDoctor({ ...env, ...live }))['data files']!.detail).toBe(`readable by others: chmod 600 ${keys.app.privateKeyPath}`);
      const notAKey = byName(await runDoctor({ ...env, ...live, ALIPAY_PRIVATE_KEY: keys.alipay.publicKeyPath }));
      expect(notAKey.config).toEqual({ name: 'config', status: 'fail', detail: `ALIPAY_PRIVATE_KEY is not a PEM private key (${keys.alipay.publicKeyPath})` });
    } finally {
      keys.cleanup();
    }
  });

  describe('Telegram', () => {
    const tg = (token = TOKEN) => ({ TELEGRAM_BOT_TOKEN: token, TELEGRAM_API_ROOT: emu.url, PAYMENT_PROVIDERS: 'stars', PUBLIC_URL: 'https://gk.example.com' });

    it('the token: its shape, then getMe at TELEGRAM_API_ROOT', async () => {
      await (await quickstart(tg())).close();
      expect(byName(await runDoctor({ ...env, ...tg() })).telegram).toEqual({
        name: 'telegram',
        status: 'ok',
        detail: `getMe answers: the bot is @${emu.bot.username}`,
      });
      const wrong = byName(await runDoctor({ ...env, ...tg('987654321:AAwrong-token_0123456789abcdefghijklmn') })).telegram!;
      expect(wrong.status).toBe('fail');
      expect(wrong.detail).toMatch(/^getMe refused \(Unauthorized\); TELEGRAM_BOT_TOKEN is wrong or revoked/);
      const shape = byName(await runDoctor({ ...env, ...tg('not-a-token') })).telegram!;
      expect(shape).toEqual({
        name: 'telegram',
        status: 'fail',
        detail: 'TELEGRAM_BOT_TOKEN does not look like a bot token (123456789:AA…); copy it from @BotFather',
      });
      expect(byName(await runDoctor({ ...env, ...tg() }, { offline: true })).telegram!.detail).toBe(
        'TELEGRAM_BOT_TOKEN has the right shape (not asked: --offline)',
      );
    });

    it("the bot's rights in each bound group, from what Telegram last reported", async () => {
      const opened = await quickstart(tg());
      const store = createStore(opened);
      const now = Date.now();
      const group = (chat: string, title: string) =>
        store.groups.insert({ platform: 'telegram', platformChatId: chat, title, ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] }, now);
      const full = await group('-1001', 'Readers');
      const lacking = await group('-1002', 'Writers');
      const silent = await group('-1003', 'Quiet');
      await store.telegram.setGroupState(full.id, { botStatus: 'administrator', missingRights: '' }, now);
      await store.telegram.setGroupState(lacking.id, { botStatus: 'administrator', missingRights: 'invite,restrict' }, now);
      await opened.close();
      const c = byName(await runDoctor({ ...env, ...tg() }, { offline: true }));
      expect(c[`telegram group ${full.id}`]).toMatchObject({ status: 'ok' });
      expect(c[`telegram group ${lacking.id}`]).toEqual({
        name: `telegram group ${lacking.id}`,
        status: 'fail',
        detail: '"Writers": the bot lacks "Invite users via link" and "Ban users"; an admin of the group must grant them',
      });
      expect(c[`telegram group ${silent.id}`]).toMatchObject({ status: 'warn' });
      const r = await cli(['doctor', '--offline'], { ...env, ...tg() });
      expect(r.code).toBe(1);
      expect(r.out).toContain(`FAIL  telegram group ${lacking.id}: "Writers": the bot lacks`);
    });

    it('every Telegram plan on sale can be paid with Stars (its own price, or a STARS_PER_UNIT rate)', async () => {
      const opened = await quickstart(tg());
      const store = createStore(opened);
      const g = await store.groups.insert(
        { platform: 'telegram', platformChatId: '-1001', title: 'Readers', ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] },
        0,
      );
      await store.plans.insert({ name: 'Own', priceMinor: 990, currency: 'CNY', durationDays: 30, groupIds: [g.id], starsPrice: 80 }, 0);
      const old = await store.plans.insert({ name: 'Old', priceMinor: 500, currency: 'USD', durationDays: 30, groupIds: [g.id] }, 0);
      await opened.close();
      expect(byName(await runDoctor({ ...env, ...tg() }, { offline: true }))['telegram stars']).toEqual({
        name: 'telegram stars',
        status: 'fail',
        detail: `plan ${old.id} "Old" (USD) cannot be paid with Telegram Stars, which Telegram requires; set STARS_PER_UNIT for the currency`,
      });
      expect(byName(await runDoctor({ ...env, ...tg(), STARS_PER_UNIT: 'USD=55' }, { offline: true }))['telegram stars']).toMatchObject({ status: 'ok' });
    });
  });
});
