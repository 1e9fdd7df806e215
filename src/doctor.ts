// `gatekeeper doctor`: what a live deployment needs, checked one thing at a time. Each check gives one
// line: ok, a warning (fine for trying it out on this machine, to fix before going live), or a failure
// that names the setting or file to fix. The CLI prints them and exits 1 when any failed.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ApiCaller } from '../bots/telegram/bot-api-client.ts';
import { systemClock } from './app/clocks.ts';
import { isLocalUrl, notifyAddress } from './app/system.ts';
import { ConfigError, type Config, loadConfig } from './config.ts';
import { starsPriceOf } from './domain/pricing.ts';
import { createPaymentProviders } from './payments/registry.ts';
import { databaseLocation, migrationStatus, NoDatabaseError, openDatabase, sqlitePath } from './store/database.ts';
import { createStore } from './store/kysely-store.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  /** What was checked: `config`, `database`, `PUBLIC_URL`, `wechatpay`, `telegram group 3`… */
  name: string;
  status: CheckStatus;
  /** One line: what is fine, or what to fix. */
  detail: string;
}

export interface DoctorOptions {
  /** Skip the checks that call out (Telegram getMe). */
  offline?: boolean;
  /** How long a network check may take. */
  timeoutMs?: number;
}

/** A Telegram bot token as @BotFather issues it: the bot's numeric id, a colon, 35 characters. */
const TELEGRAM_TOKEN = /^\d{5,15}:[A-Za-z0-9_-]{30,60}$/;

const isLocalHost = isLocalUrl;

/**
 * Nothing real attached: dev payments only and no chat platform but the playground. That is the
 * quickstart, where an http://localhost PUBLIC_URL is right; anything real needs https.
 */
const tryingOut = (c: Config) => c.telegram === null && c.wechat === null && c.paymentProviders.every((p) => p === 'dev');

/**
 * Runs every check, in the order a person would fix them. Never throws. It creates and migrates nothing;
 * the one change it may make is the service's own: opening a SQLite file tightens it to 0600.
 */
export async function runDoctor(env: Record<string, string | undefined>, opts: DoctorOptions = {}): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (name: string, status: CheckStatus, detail: string) => checks.push({ name, status, detail });

  let config: Config;
  try {
    config = loadConfig(env);
  } catch (e) {
    add('config', 'fail', e instanceof ConfigError ? e.message : String(e));
    return checks;
  }
  add('config', 'ok', `settings parse (${config.dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, payments: ${config.paymentProviders.join(', ')})`);

  // Files first: opening the SQLite database tightens its file to 0600, as the service does.
  fileChecks(config, env, add);
  await databaseChecks(config, add);
  publicUrlCheck(config, add);
  providerChecks(config, add);
  await platformChecks(config, opts, add);
  return checks;
}

type Add = (name: string, status: CheckStatus, detail: string) => void;

async function databaseChecks(config: Config, add: Add): Promise<void> {
  const where = databaseLocation(config.databaseUrl);
  let opened;
  try {
    // mustExist: the doctor never creates a database (nor a PostgreSQL schema).
    opened = await openDatabase(config.databaseUrl, { mustExist: true });
  } catch (e) {
    if (e instanceof NoDatabaseError) add('database', 'fail', `no database at ${where}; check DATABASE_URL / DATA_DIR, then run "gatekeeper migrate"`);
    else add('database', 'fail', `cannot open ${where}: ${firstLine(e)}; check DATABASE_URL`);
    return;
  }
  try {
    const { pending, unknown } = await migrationStatus(opened);
    if (unknown.length > 0) add('database', 'fail', `${where} was migrated by a newer version (${unknown.join(', ')}); run that version`);
    else if (pending.length > 0) add('database', 'fail', `${where} lacks ${pending.length} migration(s) (${pending.join(', ')}); run "gatekeeper migrate"`);
    else add('database', 'ok', `${where} is reachable and migrated`);
    if (config.telegram && unknown.length === 0 && pending.length === 0) {
      await telegramGroupChecks(createStore(opened), add);
      await telegramStarsChecks(createStore(opened), config, add);
    }
  } catch (e) {
    add('database', 'fail', `cannot read ${where}: ${firstLine(e)}; check DATABASE_URL`);
  } finally {
    await opened.close();
  }
}

/**
 * Telegram requires every plan sold in a bot to be purchasable with Stars: a Telegram plan on sale needs its own
 * Stars price or a STARS_PER_UNIT rate for its currency (plans made before that rule may have neither).
 */
async function telegramStarsChecks(store: ReturnType<typeof createStore>, config: Config, add: Add): Promise<void> {
  const telegramGroups = new Set((await store.groups.list()).filter((g) => g.platform === 'telegram').map((g) => g.id));
  const plans = (await store.plans.list({ activeOnly: true })).filter((p) => p.groupIds.some((id) => telegramGroups.has(id)));
  if (plans.length === 0) return;
  const lacking = plans.filter((p) => starsPriceOf(p, config.starsRates) === null);
  if (lacking.length === 0) return add('telegram stars', 'ok', `every Telegram plan on sale has a price in Stars (${plans.length})`);
  const names = lacking.map((p) => `plan ${p.id} "${p.name}" (${p.currency})`).join(', ');
  add('telegram stars', 'fail', `${names} cannot be paid with Telegram Stars, which Telegram requires; set STARS_PER_UNIT for the currency`);
}

/** The bot's standing in each bound Telegram group, as its last my_chat_member update told it. */
async function telegramGroupChecks(store: ReturnType<typeof createStore>, add: Add): Promise<void> {
  const groups = (await store.groups.list()).filter((g) => g.platform === 'telegram');
  for (const g of groups) {
    const name = `telegram group ${g.id}`;
    const state = await store.telegram.getGroupState(g.id);
    if (!state) {
      add(name, 'warn', `"${g.title}": no word from Telegram about the bot there yet; add the bot to the group as an admin`);
      continue;
    }
    if (state.botStatus === 'left' || state.botStatus === 'kicked') {
      add(name, 'fail', `"${g.title}": the bot is not in the group (${state.botStatus}); add it back as an admin`);
      continue;
    }
    const missing = state.missingRights.split(',').filter(Boolean);
    if (missing.length === 0) add(name, 'ok', `"${g.title}": the bot is an admin that can invite and remove members`);
    else {
      const words = missing.map((m) => (m === 'admin' ? 'admin rights' : m === 'invite' ? '"Invite users via link"' : '"Ban users"'));
      add(name, 'fail', `"${g.title}": the bot lacks ${words.join(' and ')}; an admin of the group must grant them`);
    }
  }
}

/** DATA_DIR and the files in it hold the secrets and (SQLite) every member's data: owner only. */
function fileChecks(config: Config, env: Record<string, string | undefined>, add: Add): void {
  const files: string[] = [];
  const dirs: string[] = [];
  if (existsSync(config.dataDir)) dirs.push(resolve(config.dataDir));
  const secrets = join(config.dataDir, 'secrets.json');
  if (existsSync(secrets)) files.push(resolve(secrets));
  if (config.dialect === 'sqlite') {
    const db = sqlitePath(config.databaseUrl);
    if (db !== ':memory:') for (const f of [db, `${db}-wal`, `${db}-shm`]) if (existsSync(f)) files.push(resolve(f));
  }
  for (const key of ['WECHATPAY_PRIVATE_KEY', 'ALIPAY_PRIVATE_KEY']) {
    const f = env[key];
    if (f && existsSync(f)) files.push(resolve(f));
  }
  const open = [
    ...dirs.filter((d) => (statSync(d).mode & 0o077) !== 0).map((d) => `chmod 700 ${d}`),
    ...files.filter((f) => (statSync(f).mode & 0o077) !== 0).map((f) => `chmod 600 ${f}`),
  ];
  if (open.length > 0) add('data files', 'fail', `readable by others: ${open.join('; ')}`);
  else if (dirs.length + files.length === 0) add('data files', 'ok', 'none on this machine');
  else add('data files', 'ok', `${dirs.length + files.length} readable by their owner only (DATA_DIR ${resolve(config.dataDir)})`);
}

function publicUrlCheck(config: Config, add: Add): void {
  const url = config.publicUrl;
  if (url.startsWith('https://') && !isLocalHost(url)) return add('PUBLIC_URL', 'ok', `${url} is https`);
  if (tryingOut(config))
    return add(
      'PUBLIC_URL',
      'warn',
      `${url} is fine for trying it out here; before going live set PUBLIC_URL to the https:// address people and providers reach`,
    );
  add('PUBLIC_URL', 'fail', `${url} must be the public https:// address of this service (payment providers and Telegram call it); set PUBLIC_URL`);
}

/** Each enabled provider: its keys load (loadConfig read them; building the provider uses them) and where it calls us. */
function providerChecks(config: Config, add: Add): void {
  for (const name of config.paymentProviders) {
    if (name === 'dev') {
      add('dev', tryingOut(config) ? 'ok' : 'warn', 'test payments: anyone can "pay" without money; remove dev from PAYMENT_PROVIDERS before going live');
      continue;
    }
    if (name === 'stars') {
      add('stars', 'ok', 'Telegram Stars are paid inside Telegram (no notify URL)');
      continue;
    }
    try {
      createPaymentProviders({ config: { ...config, paymentProviders: [name] }, clock: systemClock, devPaySecret: 'unused' });
    } catch (e) {
      add(name, 'fail', `keys do not load: ${firstLine(e)}`);
      continue;
    }
    // The same rule as the console's System page (app/system.ts).
    const { url: notify, reachable } = notifyAddress(config.publicUrl, name);
    const where =
      name === 'stripe'
        ? `add ${notify} as the webhook endpoint in the Stripe dashboard (events checkout.session.*, charge.refunded)`
        : `the provider calls ${notify} (sent with each order)`;
    add(name, reachable ? 'ok' : 'fail', reachable ? `keys load; ${where}` : `keys load, but ${notify} cannot be reached from the internet; set PUBLIC_URL`);
  }
}

const NO_PLATFORM = 'none configured, so nobody can buy; set TELEGRAM_BOT_TOKEN or WECHATY_PUPPET_SERVICE_TOKEN';

async function platformChecks(config: Config, opts: DoctorOptions, add: Add): Promise<void> {
  if (!config.telegram && !config.wechat) add('chat platforms', config.playground ? 'ok' : 'warn', config.playground ? 'none but the playground' : NO_PLATFORM);
  if (config.telegram) {
    const t = config.telegram;
    if (!TELEGRAM_TOKEN.test(t.token)) add('telegram', 'fail', 'TELEGRAM_BOT_TOKEN does not look like a bot token (123456789:AA…); copy it from @BotFather');
    else if (opts.offline) add('telegram', 'ok', 'TELEGRAM_BOT_TOKEN has the right shape (not asked: --offline)');
    else add(...(await telegramGetMe(t.token, t.apiRoot, opts.timeoutMs ?? 10_000)));
    if (t.mode === 'webhook' && !config.publicUrl.startsWith('https://'))
      add('telegram webhook', 'fail', `Telegram delivers webhooks to https only; set PUBLIC_URL (now ${config.publicUrl}) or TELEGRAM_MODE=polling`);
  }
  if (config.wechat) {
    const token = config.wechat.token;
    if (!/^[A-Za-z0-9_.:-]{8,200}$/.test(token))
      add('wechat', 'fail', 'WECHATY_PUPPET_SERVICE_TOKEN does not look like a puppet service token (8 or more letters, digits, _ . : -)');
    else add('wechat', 'ok', `WECHATY_PUPPET_SERVICE_TOKEN has the right shape (puppet ${config.wechat.puppet}; the login QR shows at start)`);
  }
}

/** getMe through the service's own Bot API client (at TELEGRAM_API_ROOT), without the rate limiter. */
async function telegramGetMe(token: string, apiRoot: string, timeoutMs: number): Promise<[string, CheckStatus, string]> {
  const [{ Telegraf }, { BotApiClient, TelegramApiError }] = await Promise.all([import('telegraf'), import('../bots/telegram/bot-api-client.ts')]);
  const telegram = new Telegraf(token, { telegram: { apiRoot } }).telegram;
  const api = telegram.callApi.bind(telegram) as unknown as ApiCaller;
  const client = new BotApiClient(api, { acquire: async () => {}, pause: () => {} }, { timeoutMs });
  try {
    const me = await client.call<{ username?: string }>('getMe', {}, { lane: 'system' });
    return ['telegram', 'ok', `getMe answers: the bot is @${me.username ?? '?'}`];
  } catch (e) {
    if (e instanceof TelegramApiError)
      return ['telegram', 'fail', `getMe refused (${e.description}); TELEGRAM_BOT_TOKEN is wrong or revoked, copy it again from @BotFather`];
    return ['telegram', 'warn', `token has the right shape, but ${new URL(apiRoot).host} could not be reached to ask getMe (${firstLine(e)})`];
  }
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);

/** One line per check, for a terminal. */
export function formatCheck(c: Check): string {
  return `${c.status === 'ok' ? 'ok  ' : c.status === 'warn' ? 'warn' : 'FAIL'}  ${c.name}: ${c.detail}`;
}
