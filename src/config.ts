// Environment (plus an optional .env file) → one typed, validated config. A bad value stops start-up
// with one line naming the key; secret values are never echoed. See README "Configuration".
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import cron from 'node-cron';
import { z } from 'zod';
import type { AppSettings } from './app/deps.ts';
import { parseStarsRates, type StarsRate } from './domain/pricing.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const KNOWN_PROVIDERS = ['dev', 'wechatpay', 'alipay', 'stripe', 'stars'] as const;
/** Providers this build can run; the others are named so the error says "not available yet" rather than "unknown". */
export const AVAILABLE_PROVIDERS = ['dev', 'wechatpay', 'alipay', 'stripe', 'stars'] as const;

const SECRET_KEYS = new Set([
  'ADMIN_TOKEN',
  'DEV_PAY_SECRET',
  'WECHATPAY_APIV3_KEY',
  'WECHAT_MP_SECRET',
  'STRIPE_SECRET_KEY',
  'STRIPE_WEBHOOK_SECRET',
  'TELEGRAM_BOT_TOKEN',
  'TELEGRAM_WEBHOOK_SECRET',
  'WECHATY_PUPPET_SERVICE_TOKEN',
  'DATABASE_URL',
]);

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', ''].includes(v), 'must be 1/0, true/false, yes/no or on/off')
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);

const url = z
  .string()
  .trim()
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL')
  .transform((v) => v.replace(/\/+$/, ''));

/**
 * TRUST_PROXY → fastify's `trustProxy`: false (off), true (believe every X-Forwarded-For hop), or the
 * proxies' addresses/CIDRs (and proxy-addr's names loopback, linklocal, uniquelocal). Hop counts are
 * refused: fastify 5.12.1 dropped them (a count cannot tell a proxy from a direct client writing its own
 * header) and now treats a number as "trust nobody", which would silently count every client as the proxy.
 */
export type TrustProxy = boolean | string[];
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
const proxyEntry = (v: string): boolean => {
  if (PROXY_NAMES.has(v)) return true;
  const [addr = '', range, ...rest] = v.split('/');
  const family = isIP(addr);
  if (family === 0 || rest.length > 0) return false;
  if (range === undefined) return true;
  if (/^\d{1,3}$/.test(range)) return Number(range) <= (family === 4 ? 32 : 128);
  return family === 4 && isIP(range) === 4;
};
const TRUST_PROXY_HELP = "must be off, on, or a comma list of your proxies' addresses/CIDRs such as 10.0.0.0/8,::1 (hop counts are not supported)";
const trustProxy = z
  .string()
  .trim()
  .transform((v): TrustProxy | null => {
    const low = v.toLowerCase();
    if (['off', 'false', 'no', '0'].includes(low)) return false;
    if (['on', 'true', 'yes', '1'].includes(low)) return true;
    const list = low
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    return list.length > 0 && list.every(proxyEntry) ? list : null;
  })
  .refine((v) => v !== null, TRUST_PROXY_HELP)
  .transform((v) => v!);

/** One of a fixed list, worded as ours (zod's own "Invalid option: expected one of …" is not). */
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: () => `must be one of ${values.join(', ')}` });

const secret = (min: number) => z.string().min(min, `must be at least ${min} characters`).optional();

const Env = z.object({
  DATA_DIR: z.string().trim().min(1, 'must be a directory path').default('data'),
  PORT: int(1, 65535).default(3000),
  HOST: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9.:-]{1,253}$/, 'must be an address to listen on, such as 127.0.0.1, 0.0.0.0 or ::')
    .default('127.0.0.1'),
  TRUST_PROXY: trustProxy.default(false),
  PUBLIC_URL: url.optional(),
  DATABASE_URL: z
    .string()
    .trim()
    .refine((v) => /^sqlite:.+/.test(v) || /^postgres(ql)?:\/\/.+/.test(v), 'must be sqlite:<path> or postgres://…')
    .optional(),
  ADMIN_TOKEN: secret(16),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TZ_DISPLAY: z
    .string()
    .trim()
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone such as Asia/Shanghai')
    .default('Asia/Shanghai'),
  DEFAULT_LOCALE: oneOf(['en', 'zh-CN']).default('en'),
  ALLOW_DEV_PAYMENTS: bool.default(false),
  PAYMENT_PROVIDERS: z
    .string()
    .default('dev')
    .transform((v) => [
      ...new Set(
        v
          .split(',')
          .map((s) => s.trim().toLowerCase())
          .filter(Boolean),
      ),
    ])
    .superRefine((list, ctx) => {
      if (list.length === 0) ctx.addIssue({ code: 'custom', message: 'must name at least one provider' });
      for (const p of list) {
        if (!(KNOWN_PROVIDERS as readonly string[]).includes(p))
          ctx.addIssue({
            code: 'custom',
            message: `names an unknown provider "${p.length > 40 ? `${p.slice(0, 40)}…` : p}" (known: ${KNOWN_PROVIDERS.join(', ')})`,
          });
        else if (!(AVAILABLE_PROVIDERS as readonly string[]).includes(p))
          ctx.addIssue({
            code: 'custom',
            message: `names provider "${p}", which is not available in this version (available: ${AVAILABLE_PROVIDERS.join(', ')})`,
          });
      }
    }),
  DEV_PAY_SECRET: secret(16),
  WECHATPAY_MCHID: z
    .string()
    .trim()
    .regex(/^\d{6,32}$/, 'must be the merchant number (digits)')
    .optional(),
  WECHATPAY_APPID: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_]{6,64}$/, 'must be an AppID such as wx1234567890abcdef')
    .optional(),
  WECHATPAY_SERIAL: z
    .string()
    .trim()
    .regex(/^[0-9A-Fa-f]{8,64}$/, 'must be the merchant certificate serial number (hex)')
    .optional(),
  WECHATPAY_PRIVATE_KEY: z.string().trim().optional(),
  WECHATPAY_APIV3_KEY: z.string().length(32, 'must be exactly 32 characters').optional(),
  WECHATPAY_PLATFORM_PUBLIC_KEY: z.string().trim().optional(),
  WECHATPAY_PLATFORM_SERIAL: z
    .string()
    .trim()
    .regex(/^(PUB_KEY_ID_[0-9A-Za-z_]+|[0-9A-Fa-f]{8,64})$/, 'must be a platform certificate serial or a PUB_KEY_ID_… id')
    .optional(),
  WECHATPAY_API_BASE: url.default('https://api.mch.weixin.qq.com'),
  WECHATPAY_H5: bool.default(false),
  WECHAT_MP_APPID: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_]{6,64}$/, 'must be the Official Account AppID such as wx1234567890abcdef')
    .optional(),
  WECHAT_MP_SECRET: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9]{16,64}$/, 'must be the Official Account AppSecret (letters and digits)')
    .optional(),
  WECHAT_MP_OAUTH_BASE: url.default('https://open.weixin.qq.com'),
  WECHAT_MP_API_BASE: url.default('https://api.weixin.qq.com'),
  ALIPAY_APP_ID: z
    .string()
    .trim()
    .regex(/^\d{8,32}$/, 'must be the app id (digits)')
    .optional(),
  ALIPAY_PRIVATE_KEY: z.string().trim().optional(),
  ALIPAY_PUBLIC_KEY: z.string().trim().optional(),
  ALIPAY_GATEWAY: url.default('https://openapi.alipay.com/gateway.do'),
  ALIPAY_WAP: bool.default(false),
  ALIPAY_SELLER_ID: z
    .string()
    .trim()
    .regex(/^\d{8,32}$/, 'must be the seller id (digits)')
    .optional(),
  STRIPE_SECRET_KEY: z
    .string()
    .trim()
    .regex(/^(sk|rk)_(test|live)_[A-Za-z0-9]{8,}$/, 'must be a Stripe secret key (sk_test_… or sk_live_…)')
    .optional(),
  STRIPE_WEBHOOK_SECRET: z
    .string()
    .trim()
    .regex(/^whsec_[A-Za-z0-9+/=_-]{8,}$/, 'must be a webhook signing secret (whsec_…)')
    .optional(),
  STRIPE_API_BASE: url.default('https://api.stripe.com'),
  ORDER_TTL_MINUTES: int(1, 1440).default(15),
  GRACE_HOURS: int(0, 24 * 30).default(24),
  REVIEW_WINDOW_HOURS: int(1, 24 * 30).default(72),
  REFERRAL_REWARD_DAYS: int(0, 365).default(7),
  DIGEST_HOUR: int(0, 23).default(9),
  CONSOLE_SESSION_DAYS: int(1, 365).default(7),
  REMINDER_OFFSETS_HOURS: z
    .string()
    .default('72,24,0')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine((l) => l.every((s) => /^\d{1,4}$/.test(s)), 'must be a comma list of whole hours, e.g. 72,24,0')
    .transform((l) => [...new Set(l.map(Number))].sort((a, b) => b - a)),
  SWEEP_CRON: z
    .string()
    .trim()
    .refine((v) => cron.validate(v), 'must be a cron expression such as */30 * * * * * (with seconds) or */1 * * * *')
    .default('*/30 * * * * *'),
  TELEGRAM_BOT_TOKEN: z.string().trim().optional(),
  TELEGRAM_API_ROOT: url.default('https://api.telegram.org'),
  TELEGRAM_MODE: oneOf(['polling', 'webhook']).default('polling'),
  TELEGRAM_WEBHOOK_SECRET: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,256}$/, 'must be 1 to 256 characters of A-Z, a-z, 0-9, _ and -')
    .optional(),
  TELEGRAM_RATE_PER_SECOND: int(1, 1000).default(30),
  TELEGRAM_RATE_PER_CHAT_PER_SECOND: int(1, 100).default(1),
  TELEGRAM_RATE_PER_GROUP_PER_MINUTE: int(1, 1000).default(20),
  TELEGRAM_RATE_CALLS_PER_SECOND: int(1, 1000).default(30),
  // Stars per one unit of a currency (CNY=7.5,USD=55): the Stars price of a Telegram plan without its own.
  STARS_PER_UNIT: z
    .string()
    .optional()
    .transform((v, ctx) => {
      try {
        return parseStarsRates(v ?? '');
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
        return z.NEVER;
      }
    }),
  PAYSUPPORT_TEXT: z.string().trim().max(2000, 'must be at most 2000 characters').optional(),
  WECHATY_PUPPET: z.string().trim().optional(),
  WECHATY_PUPPET_SERVICE_TOKEN: z.string().trim().optional(),
  WECHAT_FRIEND_KEYWORD: z.string().trim().max(50, 'must be at most 50 characters').optional(),
  WECHAT_MIN_INTERVAL_MS: int(0, 60_000).default(1000),
  WECHAT_DAILY_CAP: int(1, 1_000_000).default(2000),
  WECHAT_LOCK_RETRY_SECONDS: int(1, 60).default(15),
  INSTANCE_ID: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._:@-]{1,48}$/, 'must be 1 to 48 characters of A-Z, a-z, 0-9 and . _ : @ -')
    .optional(),
  PLAYGROUND: oneOf(['on', 'off', 'auto']).default('auto'),
  PLAYGROUND_WITH_REAL_PAYMENTS: bool.default(false),
  WEBHOOK_PAYLOAD_RETENTION_DAYS: int(1, 36_500).default(30),
});

export type RawEnv = z.infer<typeof Env>;

/** Every setting the service reads (README "Configuration"). */
export const CONFIG_KEYS = Object.keys(Env.shape) as Array<keyof RawEnv>;
/** Keys whose message already quotes the offending part of the value: not echoed twice. */
const QUOTES_ITSELF = new Set(['PAYMENT_PROVIDERS']);

export interface Config {
  dataDir: string;
  port: number;
  host: string;
  /** Who may set X-Forwarded-For (the client address the playground's caps count); fastify's trustProxy. */
  trustProxy: TrustProxy;
  publicUrl: string;
  databaseUrl: string;
  dialect: 'sqlite' | 'postgres';
  adminToken: string | undefined;
  devPaySecret: string | undefined;
  logLevel: RawEnv['LOG_LEVEL'];
  tzDisplay: string;
  defaultLocale: 'en' | 'zh-CN';
  allowDevPayments: boolean;
  /** PAYMENT_PROVIDERS, plus `stars` whenever Telegram runs (Telegram requires Stars for digital goods). */
  paymentProviders: string[];
  /** STARS_PER_UNIT: stars per unit of a currency, for Telegram plans without their own Stars price. */
  starsRates: Map<string, StarsRate>;
  /** PAYSUPPORT_TEXT: the owner's answer to /paysupport (null: the catalogue's default). */
  paySupportText: string | null;
  orderTtlMs: number;
  graceMs: number;
  /** Join review (issue 17): how long a paid person waits for a decision before the group's timeout action. */
  reviewWindowHours: number;
  /** Issue 16: days a referral earns where a group sets none (0: off), and the owners' digest hour in TZ_DISPLAY. */
  referralRewardDays: number;
  digestHour: number;
  /** The owner console (issue 15): days a session lasts without use. */
  consoleSessionDays: number;
  reminderOffsetsMs: number[];
  sweepCron: string;
  wechatpay: WechatPayConfig | null;
  alipay: AlipayConfig | null;
  /** Issue 21, paying on a phone: WeChat Pay H5 and Alipay WAP switched on, and the Official Account for JSAPI. */
  phonePay: { wechatpayH5: boolean; alipayWap: boolean; wechatMp: WechatMpConfig | null };
  stripe: StripeConfig | null;
  telegram: { token: string; apiRoot: string; mode: 'polling' | 'webhook'; webhookSecret: string | undefined } | null;
  /** friendKeyword: friend requests are accepted only when their greeting contains it (null: all). */
  wechat: { puppet: string; token: string; friendKeyword: string | null } | null;
  playground: boolean;
  /** This instance in /healthz and in the database's view of who runs WeChat: INSTANCE_ID, or hostname:pid. */
  instanceId: string;
  /** PostgreSQL: how often an instance tries to take over the WeChat puppet (and its holder checks it still holds it). */
  wechatLockRetryMs: number;
  /** Raw webhook bodies are purged after this long (the parsed fields the ledger needs stay). */
  webhookPayloadRetentionMs: number;
  limits: {
    telegram: { perSecond: number; perChatPerSecond: number; perGroupPerMinute: number; callsPerSecond: number };
    wechat: { minIntervalMs: number; perDay: number };
  };
}

export interface WechatPayConfig {
  mchid: string;
  appid: string;
  serial: string;
  /** PEM text of the merchant API private key (read from WECHATPAY_PRIVATE_KEY's path). */
  privateKeyPem: string;
  apiV3Key: string;
  /** PEM text of the WeChat Pay platform public key or certificate, and the serial/id it is known by. */
  platformPublicKeyPem: string;
  platformSerial: string;
  apiBase: string;
}

/** The Official Account whose web authorization gives a payer's openid for JSAPI (WECHAT_MP_*). */
export interface WechatMpConfig {
  appid: string;
  secret: string;
  oauthBase: string;
  apiBase: string;
}

export interface AlipayConfig {
  appId: string;
  privateKeyPem: string;
  alipayPublicKeyPem: string;
  gateway: string;
  sellerId: string | null;
}

export interface StripeConfig {
  secretKey: string;
  webhookSecret: string;
  apiBase: string;
}

/** Reads a PEM key file named by `key`; a missing, unreadable or non-key file stops start-up naming the key. */
function readKeyFile(key: string, path: string | undefined, kind: 'private' | 'public'): string {
  if (!path) throw new ConfigError(`${key} must be set (path to a PEM file) when its provider is enabled`);
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`${key} points to a file that cannot be read (${path})`);
  }
  try {
    if (kind === 'private') createPrivateKey(pem);
    else createPublicKey(pem);
  } catch {
    throw new ConfigError(`${key} is not a PEM ${kind} key${kind === 'public' ? ' or certificate' : ''} (${path})`);
  }
  return pem;
}

function need<T>(key: string, v: T | undefined, provider: string): T {
  if (v === undefined || v === '') throw new ConfigError(`${key} must be set when PAYMENT_PROVIDERS includes ${provider}`);
  return v;
}

/** Reads `.env` from `cwd` (if present) under the real environment: a variable already set wins. */
export function readEnv(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Record<string, string | undefined> {
  const file = join(cwd, '.env');
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...env };
}

export function loadConfig(env: Record<string, string | undefined>, opts: { forCli?: boolean } = {}): Config {
  // Empty strings count as unset, so `KEY=` in .env falls back to the default.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = Env.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? 'config');
    const shown = SECRET_KEYS.has(key) || QUOTES_ITSELF.has(key) || cleaned[key] === undefined ? '' : ` (got "${String(cleaned[key]).slice(0, 60)}")`;
    throw new ConfigError(`${key} ${issue.message}${shown}`);
  }
  const e = parsed.data;
  const databaseUrl = e.DATABASE_URL ?? `sqlite:${join(e.DATA_DIR, 'gatekeeper.db')}`;
  const dialect = databaseUrl.startsWith('sqlite:') ? 'sqlite' : 'postgres';
  const telegram = e.TELEGRAM_BOT_TOKEN
    ? { token: e.TELEGRAM_BOT_TOKEN, apiRoot: e.TELEGRAM_API_ROOT, mode: e.TELEGRAM_MODE, webhookSecret: e.TELEGRAM_WEBHOOK_SECRET }
    : null;
  const wechat = e.WECHATY_PUPPET_SERVICE_TOKEN
    ? { puppet: e.WECHATY_PUPPET ?? 'wechaty-puppet-service', token: e.WECHATY_PUPPET_SERVICE_TOKEN, friendKeyword: e.WECHAT_FRIEND_KEYWORD ?? null }
    : null;
  const realChat = telegram !== null || wechat !== null;
  const enabled = (p: string) => e.PAYMENT_PROVIDERS.includes(p);
  const wechatpay: WechatPayConfig | null = enabled('wechatpay')
    ? {
        mchid: need('WECHATPAY_MCHID', e.WECHATPAY_MCHID, 'wechatpay'),
        appid: need('WECHATPAY_APPID', e.WECHATPAY_APPID, 'wechatpay'),
        serial: need('WECHATPAY_SERIAL', e.WECHATPAY_SERIAL, 'wechatpay'),
        privateKeyPem: readKeyFile('WECHATPAY_PRIVATE_KEY', e.WECHATPAY_PRIVATE_KEY, 'private'),
        apiV3Key: need('WECHATPAY_APIV3_KEY', e.WECHATPAY_APIV3_KEY, 'wechatpay'),
        platformPublicKeyPem: readKeyFile('WECHATPAY_PLATFORM_PUBLIC_KEY', e.WECHATPAY_PLATFORM_PUBLIC_KEY, 'public'),
        platformSerial: need('WECHATPAY_PLATFORM_SERIAL', e.WECHATPAY_PLATFORM_SERIAL, 'wechatpay'),
        apiBase: e.WECHATPAY_API_BASE,
      }
    : null;
  const alipay: AlipayConfig | null = enabled('alipay')
    ? {
        appId: need('ALIPAY_APP_ID', e.ALIPAY_APP_ID, 'alipay'),
        privateKeyPem: readKeyFile('ALIPAY_PRIVATE_KEY', e.ALIPAY_PRIVATE_KEY, 'private'),
        alipayPublicKeyPem: readKeyFile('ALIPAY_PUBLIC_KEY', e.ALIPAY_PUBLIC_KEY, 'public'),
        gateway: e.ALIPAY_GATEWAY,
        sellerId: e.ALIPAY_SELLER_ID ?? null,
      }
    : null;
  const stripe: StripeConfig | null = enabled('stripe')
    ? {
        secretKey: need('STRIPE_SECRET_KEY', e.STRIPE_SECRET_KEY, 'stripe'),
        webhookSecret: need('STRIPE_WEBHOOK_SECRET', e.STRIPE_WEBHOOK_SECRET, 'stripe'),
        apiBase: e.STRIPE_API_BASE,
      }
    : null;
  // Paying on a phone (issue 21): each switch needs its provider, so a typo never silently does nothing.
  if (e.WECHAT_MP_SECRET && !wechatpay)
    throw new ConfigError('WECHAT_MP_SECRET is set but PAYMENT_PROVIDERS does not include wechatpay: JSAPI payments inside WeChat need WeChat Pay');
  if (e.WECHATPAY_H5 && !wechatpay) throw new ConfigError('WECHATPAY_H5 is on but PAYMENT_PROVIDERS does not include wechatpay');
  if (e.ALIPAY_WAP && !alipay) throw new ConfigError('ALIPAY_WAP is on but PAYMENT_PROVIDERS does not include alipay');
  const wechatMp: WechatMpConfig | null =
    wechatpay && e.WECHAT_MP_SECRET
      ? { appid: e.WECHAT_MP_APPID ?? wechatpay.appid, secret: e.WECHAT_MP_SECRET, oauthBase: e.WECHAT_MP_OAUTH_BASE, apiBase: e.WECHAT_MP_API_BASE }
      : null;
  if (e.WECHAT_MP_APPID && !wechatMp) throw new ConfigError('WECHAT_MP_APPID is set but WECHAT_MP_SECRET is not: JSAPI payments need both');
  if (enabled('stars') && !telegram) throw new ConfigError('PAYMENT_PROVIDERS includes stars, which needs TELEGRAM_BOT_TOKEN');

  if (e.PAYMENT_PROVIDERS.includes('dev') && realChat && !e.ALLOW_DEV_PAYMENTS) {
    throw new ConfigError(
      'PAYMENT_PROVIDERS includes dev next to a real chat platform: anyone could join for free. Remove dev, or set ALLOW_DEV_PAYMENTS=1 if you really mean it',
    );
  }
  // The playground lets anyone on the page act as a person; next to real money that must be a deliberate choice.
  // `auto` simply stays off when a real provider is enabled; an explicit `on` needs the opt-in.
  const realProviders = e.PAYMENT_PROVIDERS.filter((p) => p !== 'dev');
  const playground = e.PLAYGROUND === 'on' || (e.PLAYGROUND === 'auto' && !realChat && (realProviders.length === 0 || e.PLAYGROUND_WITH_REAL_PAYMENTS));
  if (playground && realProviders.length > 0 && !e.PLAYGROUND_WITH_REAL_PAYMENTS) {
    throw new ConfigError(
      `PLAYGROUND=on next to a real payment provider (${realProviders.join(', ')}): anyone opening /playground could pay real money. Set PLAYGROUND=off, or PLAYGROUND_WITH_REAL_PAYMENTS=1 if you really mean it`,
    );
  }
  if (telegram?.mode === 'webhook' && !telegram.webhookSecret) throw new ConfigError('TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_MODE=webhook');
  if (dialect === 'postgres' && !opts.forCli) {
    // Instances share no disk, so nothing can be generated: every secret must be given.
    if (!e.ADMIN_TOKEN) throw new ConfigError('ADMIN_TOKEN must be set when DATABASE_URL is PostgreSQL');
    if (e.PAYMENT_PROVIDERS.includes('dev') && !e.DEV_PAY_SECRET)
      throw new ConfigError('DEV_PAY_SECRET must be set when DATABASE_URL is PostgreSQL and dev payments are enabled');
  }
  return {
    dataDir: e.DATA_DIR,
    port: e.PORT,
    host: e.HOST,
    trustProxy: e.TRUST_PROXY,
    publicUrl: e.PUBLIC_URL ?? `http://localhost:${e.PORT}`,
    databaseUrl,
    dialect,
    adminToken: e.ADMIN_TOKEN,
    devPaySecret: e.DEV_PAY_SECRET,
    logLevel: e.LOG_LEVEL,
    tzDisplay: e.TZ_DISPLAY,
    defaultLocale: e.DEFAULT_LOCALE,
    allowDevPayments: e.ALLOW_DEV_PAYMENTS,
    // Telegram's rule for bots selling digital goods: Stars must be offered (telegram.org/tos/bot-developers).
    paymentProviders: telegram && !enabled('stars') ? [...e.PAYMENT_PROVIDERS, 'stars'] : e.PAYMENT_PROVIDERS,
    starsRates: e.STARS_PER_UNIT,
    paySupportText: e.PAYSUPPORT_TEXT || null,
    orderTtlMs: e.ORDER_TTL_MINUTES * 60_000,
    graceMs: e.GRACE_HOURS * 3_600_000,
    reviewWindowHours: e.REVIEW_WINDOW_HOURS,
    referralRewardDays: e.REFERRAL_REWARD_DAYS,
    digestHour: e.DIGEST_HOUR,
    consoleSessionDays: e.CONSOLE_SESSION_DAYS,
    reminderOffsetsMs: e.REMINDER_OFFSETS_HOURS.map((h) => h * 3_600_000),
    sweepCron: e.SWEEP_CRON,
    wechatpay,
    alipay,
    phonePay: { wechatpayH5: e.WECHATPAY_H5, alipayWap: e.ALIPAY_WAP, wechatMp },
    stripe,
    telegram,
    wechat,
    playground,
    instanceId:
      e.INSTANCE_ID ??
      `${
        hostname()
          .replace(/[^A-Za-z0-9._@-]/g, '-')
          .slice(0, 38) || 'host'
      }:${process.pid}`,
    wechatLockRetryMs: e.WECHAT_LOCK_RETRY_SECONDS * 1000,
    webhookPayloadRetentionMs: e.WEBHOOK_PAYLOAD_RETENTION_DAYS * 86_400_000,
    limits: {
      telegram: {
        perSecond: e.TELEGRAM_RATE_PER_SECOND,
        perChatPerSecond: e.TELEGRAM_RATE_PER_CHAT_PER_SECOND,
        perGroupPerMinute: e.TELEGRAM_RATE_PER_GROUP_PER_MINUTE,
        callsPerSecond: e.TELEGRAM_RATE_CALLS_PER_SECOND,
      },
      wechat: { minIntervalMs: e.WECHAT_MIN_INTERVAL_MS, perDay: e.WECHAT_DAILY_CAP },
    },
  };
}

export interface ResolvedSecrets {
  adminToken: string;
  devPaySecret: string;
  /** Names of the secrets generated just now (first run): show them once on the terminal, never log them. */
  generated: Array<'ADMIN_TOKEN' | 'DEV_PAY_SECRET'>;
  file: string;
}

/**
 * Fills missing secrets on SQLite from DATA_DIR/secrets.json, generating them (0600) on first run.
 * On PostgreSQL loadConfig has already required them.
 */
export function resolveSecrets(config: Config): ResolvedSecrets {
  const file = resolve(config.dataDir, 'secrets.json');
  let stored: Partial<Record<'ADMIN_TOKEN' | 'DEV_PAY_SECRET', string>> = {};
  if (existsSync(file)) {
    try {
      stored = JSON.parse(readFileSync(file, 'utf8')) as typeof stored;
    } catch {
      throw new ConfigError(`${file} is not valid JSON; fix it or delete it to generate new secrets`);
    }
  }
  const generated: ResolvedSecrets['generated'] = [];
  const pick = (key: 'ADMIN_TOKEN' | 'DEV_PAY_SECRET', given: string | undefined) => {
    if (given) return given;
    if (stored[key]) return stored[key]!;
    if (config.dialect === 'postgres') throw new ConfigError(`${key} must be set when DATABASE_URL is PostgreSQL`);
    stored[key] = randomBytes(24).toString('base64url');
    generated.push(key);
    return stored[key]!;
  };
  const adminToken = pick('ADMIN_TOKEN', config.adminToken);
  const devPaySecret = pick('DEV_PAY_SECRET', config.devPaySecret);
  if (generated.length > 0) {
    secureDataDir(config.dataDir);
    writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return { adminToken, devPaySecret, generated, file };
}

/** DATA_DIR holds the database and the secrets: created 0700, and tightened to 0700 if it already exists. */
export function secureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** The part of the config the use cases read (AppSettings), for every composition root. */
export function appSettings(config: Config): AppSettings {
  return {
    publicUrl: config.publicUrl,
    orderTtlMs: config.orderTtlMs,
    defaultGraceMs: config.graceMs,
    reviewWindowHours: config.reviewWindowHours,
    consoleSessionDays: config.consoleSessionDays,
    defaultReminderOffsetsMs: config.reminderOffsetsMs,
    defaultLocale: config.defaultLocale,
    tzDisplay: config.tzDisplay,
    webhookPayloadRetentionMs: config.webhookPayloadRetentionMs,
    starsRates: config.starsRates,
    paySupportText: config.paySupportText,
    referralRewardDays: config.referralRewardDays,
    digestHour: config.digestHour,
  };
}

/**
 * Why the HTTP listener could not start, worded as which setting to change (HOST or PORT), or null when
 * the error is not about the address. `getaddrinfo ENOTFOUND` alone does not say that HOST is the culprit.
 */
export function listenError(err: unknown, c: { host: string; port: number }): ConfigError | null {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(`PORT ${c.port} is already in use on ${c.host}; stop whatever listens there or set PORT to a free port`);
    case 'EACCES':
      return new ConfigError(`PORT ${c.port} needs privileges this user does not have; set PORT to 1024 or above (and put a proxy in front)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return new ConfigError(`HOST "${c.host}" is not a name this machine can resolve; set HOST to an address such as 127.0.0.1, 0.0.0.0 or ::`);
    case 'EADDRNOTAVAIL':
      return new ConfigError(`HOST "${c.host}" is not an address of this machine; set HOST to one of its addresses, or 0.0.0.0 / :: for all`);
    default:
      return null;
  }
}
