import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIST_TIMEOUT, MAIN, ensureDist } from './helpers/dist.ts';
import { CONFIG_KEYS, ConfigError, loadConfig, readEnv, resolveSecrets } from '../src/config.ts';

const exec = promisify(execFile);

// The service runs compiled, as `npm start` runs it: dist/ is built here once when stale.
beforeAll(ensureDist, DIST_TIMEOUT);

describe('config', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gk-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('has working defaults for the embedded setup', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      dataDir: 'data',
      port: 3000,
      host: '127.0.0.1',
      publicUrl: 'http://localhost:3000',
      databaseUrl: 'sqlite:data/gatekeeper.db',
      dialect: 'sqlite',
      tzDisplay: 'Asia/Shanghai',
      paymentProviders: ['dev'],
      orderTtlMs: 15 * 60_000,
      graceMs: 24 * 3_600_000,
      reminderOffsetsMs: [72 * 3_600_000, 24 * 3_600_000, 0],
      playground: true,
      telegram: null,
      wechat: null,
    });
    // Telegram's message limits, and the window of the calls that post no message (issue 14 part 2).
    expect(loadConfig({}).limits.telegram).toEqual({ perSecond: 30, perChatPerSecond: 1, perGroupPerMinute: 20, callsPerSecond: 30 });
    expect(loadConfig({ TELEGRAM_RATE_CALLS_PER_SECOND: '10' }).limits.telegram.callsPerSecond).toBe(10);
    expect(loadConfig({ PORT: '8080' }).publicUrl).toBe('http://localhost:8080');
    expect(loadConfig({ DATA_DIR: '/srv/gk' }).databaseUrl).toBe('sqlite:/srv/gk/gatekeeper.db');
    expect(loadConfig({ PUBLIC_URL: 'https://pay.example.com/' }).publicUrl).toBe('https://pay.example.com');
  });

  it('names the key of a bad value in one line', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ PORT: 'abc' }, /^PORT must be a whole number from 1 to 65535 \(got "abc"\)$/],
      [{ PORT: '70000' }, /^PORT /],
      [{ PUBLIC_URL: 'ftp://x' }, /^PUBLIC_URL must be an http\(s\) URL/],
      [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL must be sqlite:<path> or postgres/],
      [{ TZ_DISPLAY: 'Mars/Base' }, /^TZ_DISPLAY must be an IANA time zone/],
      [{ DIGEST_HOUR: '25' }, /^DIGEST_HOUR must be a whole number from 0 to 23 \(got "25"\)$/],
      [{ DIGEST_HOUR: 'nine' }, /^DIGEST_HOUR must be a whole number from 0 to 23 \(got "nine"\)$/],
      [{ REFERRAL_REWARD_DAYS: '366' }, /^REFERRAL_REWARD_DAYS must be a whole number from 0 to 365 \(got "366"\)$/],
      [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)$/],
      [{ DEFAULT_LOCALE: 'fr' }, /^DEFAULT_LOCALE must be one of en, zh-CN \(got "fr"\)$/],
      [{ HOST: 'not a host!' }, /^HOST must be an address to listen on/],
      [{ PAYMENT_PROVIDERS: 'paypal' }, /^PAYMENT_PROVIDERS names an unknown provider "paypal" \(known: dev, wechatpay, alipay, stripe, stars\)$/],
      [{ PAYMENT_PROVIDERS: 'stripe' }, /^STRIPE_SECRET_KEY must be set when PAYMENT_PROVIDERS includes stripe$/],
      [
        {
          PAYMENT_PROVIDERS: 'wechatpay',
          WECHATPAY_MCHID: '1900000001',
          WECHATPAY_APPID: 'wxd678efh567hg6787',
          WECHATPAY_SERIAL: 'ABCDEF0123456789',
          WECHATPAY_PRIVATE_KEY: '/nonexistent/key.pem',
        },
        /^WECHATPAY_PRIVATE_KEY points to a file that cannot be read/,
      ],
      [{ PAYMENT_PROVIDERS: 'alipay' }, /^ALIPAY_APP_ID must be set when PAYMENT_PROVIDERS includes alipay$/],
      [{ PAYMENT_PROVIDERS: 'stars' }, /^PAYMENT_PROVIDERS includes stars, which needs TELEGRAM_BOT_TOKEN$/],
      [{ STRIPE_SECRET_KEY: 'pk_test_123' }, /^STRIPE_SECRET_KEY must be a Stripe secret key/],
      [{ ALLOW_DEV_PAYMENTS: 'maybe' }, /^ALLOW_DEV_PAYMENTS /],
      [{ REMINDER_OFFSETS_HOURS: '72,soon' }, /^REMINDER_OFFSETS_HOURS /],
      [{ ORDER_TTL_MINUTES: '0' }, /^ORDER_TTL_MINUTES /],
      [{ SWEEP_CRON: 'every minute' }, /^SWEEP_CRON must be a cron expression/],
      [{ TELEGRAM_RATE_CALLS_PER_SECOND: '0' }, /^TELEGRAM_RATE_CALLS_PER_SECOND must be a whole number from 1 to 1000 \(got "0"\)$/],
      [{ TELEGRAM_RATE_CALLS_PER_SECOND: '2.5' }, /^TELEGRAM_RATE_CALLS_PER_SECOND /],
    ];
    for (const [env, message] of cases) {
      let err: unknown;
      try {
        loadConfig(env);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(env)).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('every key: a bad value gets one line naming the key in our words, never a raw zod message', () => {
    const bad = ['loud', '-1', '0', '99999999', 'not a value!', 'ftp://x', 'x'.repeat(300)];
    let refused = 0;
    for (const key of CONFIG_KEYS) {
      for (const value of bad) {
        let err: unknown;
        try {
          loadConfig({ [key]: value });
        } catch (e) {
          err = e;
        }
        if (err === undefined) continue;
        refused++;
        const m = (err as Error).message;
        expect(err, `${key}=${value}`).toBeInstanceOf(ConfigError);
        // A key first: this one, or the one it conflicts with (TELEGRAM_BOT_TOKEN next to dev payments names PAYMENT_PROVIDERS).
        expect(m, `${key}=${value}`).toMatch(new RegExp(`^(${CONFIG_KEYS.join('|')})[ =]`));
        expect(m, `${key}=${value}`).not.toMatch(/Invalid|expected|received|Too (small|big)|\n/);
        // The value is echoed at most once.
        if (value.length >= 5) expect(m.split(value.slice(0, 40)).length - 1, m).toBeLessThanOrEqual(1);
      }
    }
    expect(refused).toBeGreaterThan(CONFIG_KEYS.length);
  });

  it('never prints a secret value', () => {
    expect(() => loadConfig({ ADMIN_TOKEN: 'short-secret' })).toThrow(/^ADMIN_TOKEN must be at least 16 characters$/);
    try {
      loadConfig({ DEV_PAY_SECRET: 'tiny' });
    } catch (e) {
      expect((e as Error).message).not.toContain('tiny');
    }
  });

  it('requires every secret explicitly on PostgreSQL', () => {
    const pg = { DATABASE_URL: 'postgres://u@h/db' };
    expect(() => loadConfig(pg)).toThrow(/ADMIN_TOKEN must be set when DATABASE_URL is PostgreSQL/);
    expect(() => loadConfig({ ...pg, ADMIN_TOKEN: 'a'.repeat(20) })).toThrow(/DEV_PAY_SECRET must be set/);
    expect(loadConfig({ ...pg, ADMIN_TOKEN: 'a'.repeat(20), DEV_PAY_SECRET: 'b'.repeat(20) }).dialect).toBe('postgres');
  });

  it('refuses dev payments next to a real chat platform unless ALLOW_DEV_PAYMENTS=1', () => {
    expect(() => loadConfig({ TELEGRAM_BOT_TOKEN: '123:abc' })).toThrow(/ALLOW_DEV_PAYMENTS=1/);
    expect(() => loadConfig({ WECHATY_PUPPET_SERVICE_TOKEN: 'tok' })).toThrow(/ALLOW_DEV_PAYMENTS=1/);
    const c = loadConfig({ TELEGRAM_BOT_TOKEN: '123:abc', ALLOW_DEV_PAYMENTS: '1' });
    expect(c.telegram).toMatchObject({ mode: 'polling' });
    // Telegram requires Stars for digital goods: the Stars rail is on whenever Telegram is.
    expect(c.paymentProviders).toEqual(['dev', 'stars']);
    expect(loadConfig({}).paymentProviders).toEqual(['dev']);
    expect(c.playground).toBe(false);
    expect(loadConfig({ PLAYGROUND: 'off' }).playground).toBe(false);
  });

  it('refuses the playground next to a real payment provider unless PLAYGROUND_WITH_REAL_PAYMENTS=1', () => {
    const stripe = { STRIPE_SECRET_KEY: 'sk_test_0123456789', STRIPE_WEBHOOK_SECRET: 'whsec_0123456789' };
    let err: unknown;
    try {
      loadConfig({ ...stripe, PAYMENT_PROVIDERS: 'dev,stripe', PLAYGROUND: 'on' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^PLAYGROUND=on next to a real payment provider \(stripe\).*PLAYGROUND_WITH_REAL_PAYMENTS=1/);
    expect((err as Error).message).not.toContain('\n');
    expect(() => loadConfig({ TELEGRAM_BOT_TOKEN: '123:abc', PAYMENT_PROVIDERS: 'stars', PLAYGROUND: 'on' })).toThrow(
      /^PLAYGROUND=on next to a real payment provider \(stars\)/,
    );
    // `auto` stays off rather than failing; the explicit opt-in turns it on.
    expect(loadConfig({ ...stripe, PAYMENT_PROVIDERS: 'stripe' }).playground).toBe(false);
    expect(loadConfig({ ...stripe, PAYMENT_PROVIDERS: 'stripe', PLAYGROUND: 'on', PLAYGROUND_WITH_REAL_PAYMENTS: '1' }).playground).toBe(true);
    expect(loadConfig({ ...stripe, PAYMENT_PROVIDERS: 'stripe', PLAYGROUND_WITH_REAL_PAYMENTS: '1' }).playground).toBe(true);
    expect(() => loadConfig({ PLAYGROUND_WITH_REAL_PAYMENTS: 'sure' })).toThrow(/^PLAYGROUND_WITH_REAL_PAYMENTS /);
    // dev alone is not real money.
    expect(loadConfig({ PLAYGROUND: 'on' }).playground).toBe(true);
  });

  it('paying on a phone (issue 21): each switch needs its provider, named in one line', () => {
    expect(() => loadConfig({ WECHAT_MP_SECRET: '0123456789abcdef0123456789abcdef' })).toThrow(
      /^WECHAT_MP_SECRET is set but PAYMENT_PROVIDERS does not include wechatpay: JSAPI payments inside WeChat need WeChat Pay$/,
    );
    expect(() => loadConfig({ WECHATPAY_H5: '1' })).toThrow(/^WECHATPAY_H5 is on but PAYMENT_PROVIDERS does not include wechatpay$/);
    expect(() => loadConfig({ ALIPAY_WAP: '1' })).toThrow(/^ALIPAY_WAP is on but PAYMENT_PROVIDERS does not include alipay$/);
    expect(() => loadConfig({ WECHAT_MP_SECRET: 'short' })).toThrow(/^WECHAT_MP_SECRET must be the Official Account AppSecret/);
    // The secret is never echoed.
    expect(() => loadConfig({ WECHAT_MP_SECRET: 'not a secret!!' })).toThrow(
      /^WECHAT_MP_SECRET must be the Official Account AppSecret \(letters and digits\)$/,
    );
    expect(loadConfig({}).phonePay).toEqual({ wechatpayH5: false, alipayWap: false, wechatMp: null });
  });

  it('paying on a phone: WECHAT_MP_APPID defaults to WECHATPAY_APPID, and the authorization hosts to the real ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-mp-'));
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    const wechatpay = {
      PAYMENT_PROVIDERS: 'wechatpay',
      WECHATPAY_MCHID: '1900000001',
      WECHATPAY_APPID: 'wxd678efh567hg6787',
      WECHATPAY_SERIAL: 'ABCDEF0123456789',
      WECHATPAY_PRIVATE_KEY: join(dir, 'key.pem'),
      WECHATPAY_APIV3_KEY: '0123456789abcdef0123456789abcdef',
      WECHATPAY_PLATFORM_PUBLIC_KEY: join(dir, 'pub.pem'),
      WECHATPAY_PLATFORM_SERIAL: 'FEDCBA9876543210',
      WECHAT_MP_SECRET: '0123456789abcdef0123456789abcdef',
    };
    try {
      expect(loadConfig(wechatpay).phonePay.wechatMp).toMatchObject({
        appid: 'wxd678efh567hg6787',
        oauthBase: 'https://open.weixin.qq.com',
        apiBase: 'https://api.weixin.qq.com',
      });
      expect(loadConfig({ ...wechatpay, WECHAT_MP_APPID: 'wx1234567890abcdef' }).phonePay.wechatMp).toMatchObject({ appid: 'wx1234567890abcdef' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("TRUST_PROXY: off by default, on, or the proxies' addresses; one line for anything else", () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    for (const v of ['off', '0', 'false']) expect(loadConfig({ TRUST_PROXY: v }).trustProxy).toBe(false);
    for (const v of ['on', '1', 'true', 'TRUE']) expect(loadConfig({ TRUST_PROXY: v }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: ' 10.0.0.0/8, ::1 ,192.168.1.7,loopback,172.16.0.0/255.240.0.0,fd00::/8' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '::1',
      '192.168.1.7',
      'loopback',
      '172.16.0.0/255.240.0.0',
      'fd00::/8',
    ]);
    for (const v of ['2', 'nginx', '10.0.0.0/33', '::1/129', '10.0.0.1/8/8', '10.0.0.256', '10.0.0.1,,x']) {
      expect(() => loadConfig({ TRUST_PROXY: v })).toThrow(/^TRUST_PROXY must be off, on, or a comma list of your proxies' addresses\/CIDRs .*\(got ".*"\)$/);
    }
  });

  it('reads STARS_PER_UNIT and PAYSUPPORT_TEXT, and names STARS_PER_UNIT in one line when it is bad', () => {
    expect(loadConfig({}).starsRates).toEqual(new Map());
    expect([...loadConfig({ STARS_PER_UNIT: 'CNY=7.5,usd=55' }).starsRates.keys()]).toEqual(['CNY', 'USD']);
    expect(() => loadConfig({ STARS_PER_UNIT: 'CNY=seven' })).toThrow(/^STARS_PER_UNIT .*each entry must be CURRENCY=stars-per-unit/);
    expect(() => loadConfig({ STARS_PER_UNIT: 'CNY=7,CNY=8' })).toThrow(/^STARS_PER_UNIT .*CNY is given twice/);
    expect(loadConfig({}).paySupportText).toBeNull();
    expect(loadConfig({ PAYSUPPORT_TEXT: ' Mail pay@example.com ' }).paySupportText).toBe('Mail pay@example.com');
  });

  it('keeps raw webhook bodies WEBHOOK_PAYLOAD_RETENTION_DAYS (30 by default)', () => {
    expect(loadConfig({}).webhookPayloadRetentionMs).toBe(30 * 86_400_000);
    expect(loadConfig({ WEBHOOK_PAYLOAD_RETENTION_DAYS: '7' }).webhookPayloadRetentionMs).toBe(7 * 86_400_000);
    expect(() => loadConfig({ WEBHOOK_PAYLOAD_RETENTION_DAYS: '0' })).toThrow(
      /^WEBHOOK_PAYLOAD_RETENTION_DAYS must be a whole number from 1 to 36500 \(got "0"\)$/,
    );
    expect(() => loadConfig({ WEBHOOK_PAYLOAD_RETENTION_DAYS: 'forever' })).toThrow(/^WEBHOOK_PAYLOAD_RETENTION_DAYS /);
  });

  it('generates secrets once into DATA_DIR with 0600 and reuses them', () => {
    const c = loadConfig({ DATA_DIR: dir });
    const first = resolveSecrets(c);
    expect(first.generated.sort()).toEqual(['ADMIN_TOKEN', 'DEV_PAY_SECRET']);
    expect(first.adminToken.length).toBeGreaterThanOrEqual(32);
    expect(statSync(join(dir, 'secrets.json')).mode & 0o777).toBe(0o600);
    const second = resolveSecrets(c);
    expect(second.generated).toEqual([]);
    expect(second.adminToken).toBe(first.adminToken);
    const given = resolveSecrets(loadConfig({ DATA_DIR: dir, ADMIN_TOKEN: 'x'.repeat(20) }));
    expect(given.adminToken).toBe('x'.repeat(20));
    expect(JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8')).ADMIN_TOKEN).toBe(first.adminToken);
  });

  it('reads .env under the real environment', () => {
    writeFileSync(join(dir, '.env'), 'PORT=4000\nTZ_DISPLAY=UTC\n');
    const env = readEnv({ PORT: '5000' }, dir);
    expect(loadConfig(env)).toMatchObject({ port: 5000, tzDisplay: 'UTC' });
  });

  it('npm start stops with one line naming the key', async () => {
    const r = await exec('node', [MAIN], { env: { ...process.env, DATA_DIR: dir, PORT: 'abc' } }).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).toBe(1);
    expect((r as { stderr: string }).stderr).toBe('gatekeeper: configuration error: PORT must be a whole number from 1 to 65535 (got "abc")\n');
  });
});
