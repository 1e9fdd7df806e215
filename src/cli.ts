// `gatekeeper` — the owner's command line: a table of commands (COMMANDS) on commander. Every command
// and every group of commands has --help, bad input exits non-zero with one line, and --json prints
// JSON. It talks to the same database as the service (DATABASE_URL
// or DATA_DIR, also from .env) and goes through the same use cases as the admin API.
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { type Actor } from './app/actors.ts';
import type { AppDeps } from './app/deps.ts';
import { addGroup, addPlan, disablePlan, setPlanPrice } from './app/catalog-admin.ts';
import { createBatch, createCoupon, disableCoupon, listCoupons, MAX_BATCH } from './app/coupons.ts';
import { MAX_TRIAL_DAYS } from './app/trials.ts';
import { clockWithOffset } from './app/clocks.ts';
import { describeSettings, SETTINGS, updateGroupSettings } from './app/group-settings.ts';
import type { Coupon, Order } from './app/model.ts';
import { banMember, createClaimCode, extendMembership, MAX_EXTEND_DAYS, removeMember, unbanMember } from './app/owners.ts';
import type { Logger, MembershipView, PaymentProvider, Store } from './app/ports.ts';
import { endAllSessions, issueLoginLink } from './app/console-auth.ts';
import { csvCell, memberCsvHeader, memberCsvLine } from './app/members-csv.ts';
import { requestRefund } from './app/refunds.ts';
import {
  addBlacklist,
  addQuestion,
  applicationForMembership,
  approveApplication,
  listBlacklist,
  listQuestions,
  rejectApplication,
  removeBlacklist,
  removeQuestion,
} from './app/review.ts';
import { couponJson, groupJson, memberJson, membershipResult, oneOrderJson, ordersJson, planJson } from './app/views.ts';
import { appSettings, ConfigError, type Config, loadConfig, readEnv, secureDataDir } from './config.ts';
import { createCatalog } from './conversation/catalog.ts';
import { conflict, DomainError, invalid, notFound } from './domain/errors.ts';
import { isMembershipStatus, MEMBERSHIP_STATUSES, type MembershipStatus } from './domain/membership.ts';
import { formatMinor } from './domain/money.ts';
import { isOrderStatus, type OrderStatus } from './domain/order.ts';
import { DAY_MS, toIso } from './domain/time.ts';
import { migrateToLatest, NoDatabaseError, openDatabase, sqlitePath } from './store/database.ts';
import { createStore } from './store/kysely-store.ts';
import { countOf } from './domain/text.ts';
import { railTakesCurrency } from './payments/currencies.ts';

class UsageError extends Error {}
/** `doctor` found something to fix: it has printed what; the exit line only counts. */
class DoctorFailed extends Error {}

const CLI: Actor = { kind: 'admin', via: 'cli' };
/** Rows fetched per query when a command walks a whole list. */
const PAGE = 500;

const HELP: Record<string, string> = {
  main: `Usage: gatekeeper <command> [options]

Commands:
  migrate                      apply database migrations
  owner claim [--group <id> …] print a one-time code that makes a chat account an owner
                               (of those groups only; without --group, of every group)
  owner login-link [--owner <account-id>]
                               print a one-time sign-in link to the web console (10 minutes)
  owner logout --all [--owner <account-id>]
                               end every console session (or one owner's)
  group add | list | set       register a chat group, list groups, change a group's settings
  plan add | list | set | disable
                               create, list, change the price of, or take a plan off sale
  coupon add | list | disable | batch
                               coupon codes and access codes (100 %), single-use batches for resellers
  member list                  list memberships
  member extend | remove | ban | unban
                               act on one membership
  member approve | reject      decide a membership awaiting review (join review)
  group questions <id> [add <text> | remove <n> | list]
                               the questions a review group asks before paying
  blacklist add | remove | list
                               who a review group rejects at once
  order list | refund          list orders, refund a paid one
  backup <file>                copy the SQLite database to a new file while the service runs
  export members --format csv  members as CSV on stdout
  doctor [--offline]           check what a live deployment needs: one line per check, exit 1 if any fails

Run "gatekeeper <command> --help" for a command's options, "gatekeeper plan --help" (and so on) for a
group of commands, "gatekeeper --version" for the version.
Database: DATABASE_URL, or sqlite under DATA_DIR (default data/). Also read from .env.`,
  migrate: `Usage: gatekeeper migrate [--json]

Applies every pending migration to the database (SQLite or PostgreSQL). Safe to run again.`,
  'owner claim': `Usage: gatekeeper owner claim [--group <group-id> …] [--json]

Prints a one-time owner claim code. Send it to the bot in a private chat within 24 hours: the
account that sends it becomes an owner. Each code works once.
--group (repeatable) limits the code to those groups: that owner sees and acts on them only (and on
groups they bind in chat themselves). Without --group the code makes an operator, who acts on every
group. --json prints {"code", "expiresAt", "groupIds"} (groupIds null: every group).`,
  'owner login-link': `Usage: gatekeeper owner login-link [--owner <account-id>] [--json]

Prints a one-time sign-in link to the owner console (PUBLIC_URL/console), valid 10 minutes. Open it in a
browser and press "Sign in": the session lasts CONSOLE_SESSION_DAYS (7) since its last use.
--owner signs in as that owner account (it sees and acts on its own groups only); without --owner the
link opens an operator session over every group. --json prints {"url", "expiresAt"}.`,
  'owner logout': `Usage: gatekeeper owner logout --all [--owner <account-id>] [--json]

Ends every console session at once (with --owner, that owner account's only): their cookies stop
working and each must sign in again with a new link. --json prints {"ended": n}.`,
  'group add': `Usage: gatekeeper group add --platform <telegram|wechat|playground> --chat <chat-id> --title <title> [--json]

Registers a group so plans can open it. --json prints {"id": …}.`,
  'group list': `Usage: gatekeeper group list [--json]

Lists the registered groups: id, platform, chat id, title, owner account.
--json prints [{id, platform, chatId, title, ownerAccountId, ${SETTINGS.map((s) => s.key).join(', ')}}].`,
  'group set': `Usage: gatekeeper group set <group-id> ${SETTINGS.map((s) => `[--${s.flag} ${s.valueHelp}]`).join(' ')} [--json]

Changes a group's settings; the ones not given stay as they are. At least one is needed.
${SETTINGS.map((s) => `  --${`${s.flag} ${s.valueHelp}`.padEnd(32)}${s.description}`).join('\n')}
A bad value changes nothing. Prints the group's settings after the change; --json prints the group
as group list --json does.`,
  'plan add': `Usage: gatekeeper plan add --group <group-id> [--group <id> …] --name <name> --price <decimal> --currency <code> --days <n> [--stars <n>] [--recurring] [--trial-days <n>] [--force] [--json]

Creates a plan. --price is a decimal in the currency's units (9.90 CNY = 990 fen); --days is the
length of one paid period. --stars is its price in Telegram Stars (whole stars): Telegram requires
Stars for digital goods sold in a bot, so a plan for Telegram groups needs --stars unless
STARS_PER_UNIT gives a rate for its currency. A plan on sale in one of those groups with the same
name is refused (buyers could not tell them apart); --force adds it anyway. --recurring lets the
payment rail renew it by itself: only for 7, 30 or 365 days (Telegram Stars renews 30-day plans;
other rails sell it as a one-off). --trial-days offers a free trial of that many days (1 to 90):
a person may start it once from the plan menu, without paying, unless banned. --json prints {"id": …}.`,
  'coupon add': `Usage: gatekeeper coupon add --code <CODE> (--percent <1-100> | --amount <decimal> --currency <code>) [--plan <id> …] [--max-uses <n>] [--per-person <n>] [--valid-from <iso>] [--valid-until <iso>] [--json]

Creates a coupon code (3–32 letters, digits, - or _; stored upper-case). --percent takes that share
off the price (rounded down to the minor unit); --amount takes a fixed amount off prices in
--currency only, and is refused when larger than a --plan's price. A code taking the whole price
(--percent 100) is an access code: the member gets in without paying (a comp period, never revenue).
--plan limits it to those plans (an owner must name their plans); --max-uses caps redemptions (a
use is booked when the order is paid); --per-person caps one person's; --valid-from/--valid-until
are ISO 8601 dates or times with an offset (2026-12-31 or 2026-12-31T23:59:00+08:00).
Members apply it with /coupon <code> (优惠码 <code> on WeChat), the Telegram link
t.me/<bot>?start=c-<code>, or on the pay page. --json prints the coupon ({"id", "code", …}).`,
  'coupon list': `Usage: gatekeeper coupon list [--json]

Lists coupons, newest first: code, discount, uses (of max), state, plans, validity.
--json prints [{id, code, percent, amountMinor, amount, currency, planIds, maxUses, perPerson,
validFrom, validUntil, accountId, uses, overshoot, active, source, createdAt}].`,
  'coupon disable': `Usage: gatekeeper coupon disable <code> [--json]

Disables a coupon: nobody can apply it any more. Orders already made with it are not affected.
--json prints {"id", "code", "active": false}.`,
  'coupon batch': `Usage: gatekeeper coupon batch --prefix <letters> --count <n> (--percent <1-100> | --amount <decimal> --currency <code>) [--plan <id> …] [--per-person <n>] [--valid-from <iso>] [--valid-until <iso>] [--csv | --json]

Creates <n> (up to 1000) single-use codes PREFIX-XXXXXXXXXX for resellers, and prints them one per
line; --csv prints "code" and one code per row, --json the coupons.`,
  'plan list': `Usage: gatekeeper plan list [--group <group-id>] [--json]

Lists plans (on sale and disabled), optionally only those opening one group.
--json prints [{id, name, priceMinor, price, currency, days, starsPrice, recurring, active, groupIds}].`,
  'plan set': `Usage: gatekeeper plan set <plan-id> [--price <decimal>] [--stars <n>] [--json]

Changes a plan's price for new orders: --price in the plan's currency (9.90 CNY = 990 fen), --stars its
price in Telegram Stars (whole stars, 1 to 100000). At least one is needed. Orders already made keep the
price they were made at. The price must be one an enabled payment provider can take. --json prints the
plan as plan list --json does.`,
  'plan disable': `Usage: gatekeeper plan disable <plan-id> [--reason <text>] [--json]

Takes a plan off sale: nobody can buy it any more. Memberships already paid for are not affected.
--json prints {"id", "active": false}.`,
  'member list': `Usage: gatekeeper member list [--group <group-id>] [--status <active|grace|expired|revoked|banned|awaiting_review>] [--expiring-within <days>] [--json]

Lists memberships under a header row, one per line: membership id (what extend, remove, ban and
unban take), group (id and title), the member's name, platform:user id, status, paid until.
--expiring-within <days> lists only memberships whose paid time ends within that many days (active
ones, unless --status says otherwise).
--json prints [{membershipId, accountId, platform, platformUserId, displayName, groupId, status, expiresAt}].`,
  'member approve': `Usage: gatekeeper member approve <membership-id> [--reason <text>] [--json]

Approves the join review application covering a membership that is awaiting_review (member list
--status awaiting_review shows them): the plan is granted, its period starting now, and the member is
invited. An application covers every group of its order's plan. --json prints the application.`,
  'member reject': `Usage: gatekeeper member reject <membership-id> --reason <text> [--json]

Rejects the join review application covering a membership that is awaiting_review: the order is
refunded in full through its payment provider (by the running service's job worker) and the member is
told the reason. --json prints the application.`,
  'group questions': `Usage: gatekeeper group questions <group-id> [add <text> | remove <n> | list] [--json]

The questions a review group asks in chat before the plan is paid (at most 5; answers up to 1000
characters, shown to the reviewer). Without an action, or with list, lists them numbered.`,
  'blacklist add': `Usage: gatekeeper blacklist add --kind <user|account|name> --value <value> [--platform <telegram|wechat|playground>] [--group <group-id>] [--reason <text>] [--json]

Adds a blacklist entry: a platform user id (with --platform), an account id, or a display-name pattern
(a JavaScript regular expression, matched case-insensitively against the display name and username;
an invalid pattern is refused). Without --group the entry covers every group. A person on the
blacklist who pays in a review group is rejected and refunded at once. --json prints the entry.`,
  'blacklist remove': `Usage: gatekeeper blacklist remove <entry-id> [--json]

Removes a blacklist entry.`,
  'blacklist list': `Usage: gatekeeper blacklist list [--group <group-id>] [--json]

Lists blacklist entries (those of one group and the every-group ones with --group).`,
  'member extend': `Usage: gatekeeper member extend <membership-id> --days <n> [--reason <text>] [--json]

Adds n whole days (1 to ${MAX_EXTEND_DAYS}) to the later of the membership's expiry and now: it never
shortens a membership. A member not in the group (lapsed or removed) is invited back. The member is told.
--json prints {"membershipId", "status", "expiresAt"}.`,
  'member remove': `Usage: gatekeeper member remove <membership-id> [--reason <text>] [--json]

Withdraws access now; the running service takes the member out of the group. They may buy again.
--json prints {"membershipId", "status", "expiresAt"}.`,
  'member ban': `Usage: gatekeeper member ban <membership-id> [--reason <text>] [--json]

Bans the member from the group: removed if in it, and unable to buy again until unbanned.
--json prints {"membershipId", "status", "expiresAt"}.`,
  'member unban': `Usage: gatekeeper member unban <membership-id> [--reason <text>] [--json]

Lifts a ban. With paid time left the member is invited back; otherwise they may buy again.
--json prints {"membershipId", "status", "expiresAt"}.`,
  'order list': `Usage: gatekeeper order list [--status <pending|paid|expired|review|refund_pending|refunded>] [--json]

Lists orders, newest first: id, status, amount, provider, account, plan, created.
--json prints [{id, status, outTradeNo, accountId, planId, amountMinor, amount, currency, provider,
createdAt, expiresAt, paidAt, reviewReason}].`,
  'order refund': `Usage: gatekeeper order refund <order-id> [--reason <text>] [--json]

Requests a full refund of a paid order. The refund is recorded here; the running service's job
worker asks the payment provider and, once it confirms, removes the paid days and tells the member.
(An order id that starts with "-" may be given after "--".) --json prints the order.`,
  backup: `Usage: gatekeeper backup <file> [--json]

Writes a consistent copy of the SQLite database to <file>, safely while the service is running.
Never overwrites: <file> must not exist. The copy is taken as it is, without migrating first.
On PostgreSQL use pg_dump instead. --json prints {"file", "bytes"}.`,
  doctor: `Usage: gatekeeper doctor [--offline] [--json]

Checks what a live deployment needs and prints one line per check: ok, warn (fine for trying it out
on this machine, fix it before going live) or FAIL with what to fix. It checks that the settings
parse; that the database is reachable and migrated (it never creates or migrates one); that DATA_DIR
and the files in it are readable by their owner only; that PUBLIC_URL is https; that each enabled
payment provider's keys load and which notify URL it calls; that each chat platform's token has the
right shape and (unless --offline) that Telegram's getMe answers; and the bot's rights in each bound
Telegram group, as Telegram last reported them. Exits 1 when any check fails.
--json prints [{name, status, detail}].`,
  'export members': `Usage: gatekeeper export members --format csv [--group <group-id>] [--status <active|grace|expired|revoked|banned>]

Writes memberships as CSV (RFC 4180, header row) to stdout:
membershipId,accountId,platform,platformUserId,displayName,groupId,status,expiresAt
Numbers are bare and every text cell is quoted. A formula trigger (= + - @, tab, CR, or the full-width
＝ ＋ － ＠) at the start of a cell or after a ; or , inside it gets a ' before it, so a spreadsheet
shows it as text.`,
};

type Flags = Record<string, string | boolean | string[] | undefined>;
type Options = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

/** User input echoed in an error: quoted, shortened, never more than one line. */
const shown = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);
/** A value in a tab-separated text line. */
const cell = (s: string | number | null) => (s === null ? '-' : String(s).replace(/[\t\r\n]+/g, ' '));

/** Columns a terminal gives a string: East Asian wide and full-width characters take two. */
const width = (s: string) =>
  [...s].reduce((n, ch) => n + (/[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]/u.test(ch) ? 2 : 1), 0);

/** A header row and rows, each column padded to its widest cell (two spaces between columns). */
function table(header: string[], rows: Array<Array<string | number | null>>): string {
  const cells = [header, ...rows.map((r) => r.map(cell))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => width(r[i]!))));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - width(c)))).join('  ')).join('\n');
}

function required(flags: Flags, name: string): string {
  const v = flags[name];
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`missing --${name}`);
  return v;
}

const optional = (flags: Flags, name: string) => (typeof flags[name] === 'string' ? (flags[name] as string) : undefined);

function positiveInt(value: string, name: string): number {
  if (!/^\d{1,9}$/.test(value.trim()) || Number(value) < 1) throw invalid(`--${name} must be a positive whole number (got ${shown(value)})`);
  return Number(value);
}

function wholeNumber(value: string, name: string, min: number, max: number): number {
  const v = value.trim();
  if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) throw invalid(`--${name} must be a whole number from ${min} to ${max} (got ${shown(value)})`);
  return Number(v);
}

function idArg(value: string, what: string): number {
  const v = value.trim();
  if (!/^\d{1,15}$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < 1)
    throw invalid(`${what} must be a positive whole number (got ${shown(value)})`);
  return Number(v);
}

const quietLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * The CLI never calls a payment provider: a refund is recorded here and the running service's job
 * worker makes the call. These stand-ins only tell the use cases which providers the service runs.
 */
function serviceProvider(name: string): PaymentProvider {
  const elsewhere = (): never => {
    throw new Error(`the CLI does not call the ${name} provider; the running service does`);
  };
  return {
    name,
    merchantId: null,
    ...(name === 'stars' ? { chatPlatform: 'telegram' as const } : {}),
    supportsCurrency: (currency) => railTakesCurrency(name, currency),
    createCheckout: elsewhere,
    parseWebhook: elsewhere,
    webhookReply: elsewhere,
    query: elsewhere,
    close: elsewhere,
    refund: elsewhere,
  };
}

/** The database in DATA_DIR (no DATABASE_URL): DATA_DIR is ours to create, as the service does. */
function ownDataDir(config: Config): void {
  if (config.databaseUrl === `sqlite:${join(config.dataDir, 'gatekeeper.db')}`) secureDataDir(config.dataDir);
}

/**
 * kysely's migrator reads the tables of every schema on PostgreSQL, and fails if another deployment
 * (or test run) sharing the database drops its schema or tables at that moment. Nothing has been
 * applied when that happens, so try again.
 */
async function withDeps<T>(config: Config, fn: (deps: AppDeps, store: Store) => Promise<T>, opts: { readOnly?: boolean } = {}): Promise<T> {
  // A command that only reads never creates a database: a typo in DATA_DIR or DATABASE_URL (or a
  // database that went missing) would otherwise answer with an empty list, as if nobody had paid.
  if (!opts.readOnly) ownDataDir(config);
  const opened = await openDatabase(config.databaseUrl, { mustExist: opts.readOnly });
  try {
    await migrateToLatest(opened);
    const store = createStore(opened);
    const deps: AppDeps = {
      store,
      // The playground's time travel stores how far its clock runs ahead; the CLI counts from the same "now".
      clock: clockWithOffset(await store.clock.offset()),
      providers: new Map(config.paymentProviders.map((name) => [name, serviceProvider(name)])),
      gateways: new Map(),
      messages: createCatalog({ defaultLocale: config.defaultLocale, timeZone: config.tzDisplay }),
      logger: quietLogger,
      settings: appSettings(config),
    };
    return await fn(deps, store);
  } finally {
    await opened.close();
  }
}

/** The --group/--status filter of member list and export, checked before anything is read. */
async function memberFilter(store: Store, f: Flags): Promise<{ groupId?: number; status?: MembershipStatus }> {
  const status = optional(f, 'status');
  if (status !== undefined && !isMembershipStatus(status)) throw invalid(`unknown status ${shown(status)} (${MEMBERSHIP_STATUSES.join(', ')})`);
  const group = optional(f, 'group');
  const groupId = group === undefined ? undefined : positiveInt(group, 'group');
  if (groupId !== undefined && !(await store.groups.get(groupId))) throw notFound(`no group with id ${groupId}`);
  return { groupId, status };
}

/** Walks a membership list in id order, a page at a time. */
async function eachMembership(
  store: Store,
  q: { groupId?: number; status?: MembershipStatus; expiresBefore?: number },
  fn: (m: MembershipView) => void,
): Promise<void> {
  let afterId: number | undefined;
  for (;;) {
    const rows = await store.memberships.page({ ...q, afterId, limit: PAGE });
    rows.forEach(fn);
    if (rows.length < PAGE) return;
    afterId = rows[rows.length - 1]!.id;
  }
}

export { csvCell };

async function backup(config: Config, file: string, json: boolean, out: (s: string) => void): Promise<void> {
  if (config.dialect !== 'sqlite') throw invalid('backup works on SQLite only; on PostgreSQL use pg_dump');
  const source = sqlitePath(config.databaseUrl);
  if (source === ':memory:' || !existsSync(source)) throw new NoDatabaseError(source);
  const target = resolve(file);
  if (target === resolve(source)) throw invalid('the backup file must not be the database itself');
  // Claim the name first (O_EXCL): even a file created a moment ago by someone else is never overwritten.
  let fd: number;
  try {
    fd = openSync(target, 'wx', 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw invalid(`${shown(file)} already exists; backup never overwrites a file, choose a new name`);
    if (code === 'ENOENT') throw invalid(`cannot create ${shown(file)}: directory ${shown(dirname(target))} does not exist`);
    if (code === 'EACCES' || code === 'EPERM') throw invalid(`cannot create ${shown(file)}: permission denied`);
    throw invalid(`cannot create ${shown(file)}: ${(e as Error).message.split('\n')[0]}`);
  }
  closeSync(fd);
  try {
    const opened = await openDatabase(config.databaseUrl);
    try {
      await opened.sqlite!.backup(target);
    } finally {
      await opened.close();
    }
  } catch (e) {
    rmSync(target, { force: true });
    throw e;
  }
  const bytes = statSync(target).size;
  out(json ? JSON.stringify({ file: target, bytes }) : `backed up ${source} to ${target} (${bytes} bytes)`);
}

/** The flags `coupon add` and `coupon batch` share. */
const COUPON_TERMS = {
  percent: { type: 'string' },
  amount: { type: 'string' },
  currency: { type: 'string' },
  plan: { type: 'string', multiple: true },
  'per-person': { type: 'string' },
  'valid-from': { type: 'string' },
  'valid-until': { type: 'string' },
} as const;

/** A CLI word that is a whole number (maybe negative) becomes a number; anything else stays text for the use case's error. */
const numberOrText = (v: string | undefined) => (v === undefined ? undefined : /^\s*-?\d{1,9}\s*$/.test(v) ? Number(v) : v);

function couponTerms(f: Flags) {
  const perPerson = optional(f, 'per-person');
  const percent = numberOrText(optional(f, 'percent'));
  return {
    percent: percent as number | undefined,
    amount: optional(f, 'amount'),
    currency: optional(f, 'currency'),
    planIds: ((f.plan as string[] | undefined) ?? []).map((p) => positiveInt(p, 'plan')),
    perPerson: perPerson === undefined ? undefined : positiveInt(perPerson, 'per-person'),
    validFrom: optional(f, 'valid-from'),
    validUntil: optional(f, 'valid-until'),
  };
}

function couponLine(c: Coupon): string {
  const off = c.percent !== null ? `${c.percent}% off` : `${formatMinor(c.amountMinor!, c.currency!)} ${c.currency} off`;
  const uses = `${c.uses}${c.maxUses === null ? '' : `/${c.maxUses}`} used${c.overshoot > 0 ? ` (+${c.overshoot} past the limit)` : ''}`;
  const plans = c.planIds === null ? 'any plan' : `plans ${c.planIds.join(',')}`;
  const valid = [c.validFrom === null ? '' : `from ${toIso(c.validFrom)}`, c.validUntil === null ? '' : `until ${toIso(c.validUntil)}`]
    .filter(Boolean)
    .join(' ');
  return [
    c.code,
    off,
    uses,
    c.active ? 'active' : 'disabled',
    plans,
    valid || 'no time limit',
    c.accountId === null ? c.source : `personal (account ${c.accountId})`,
  ]
    .map(cell)
    .join('\t');
}

/** What a command's handler gets: its flags, its positional arguments, and where to print. */
interface Invocation {
  f: Flags;
  pos: string[];
  out: (s: string) => void;
  /** Prints `value` as JSON with --json, else `text`. */
  print: (value: unknown, text: string) => void;
  config: () => Config;
  /** The environment (with .env) the command runs under. */
  env: Record<string, string | undefined>;
}

/** One CLI command: its name ("group add"), a one-line summary, its options and positional arguments, and what it does. */
interface CommandSpec {
  name: string;
  summary: string;
  options?: Options;
  args?: string[];
  /** Positional arguments after `args` are allowed (up to this many). */
  moreArgs?: number;
  handler: (i: Invocation) => Promise<void> | void;
}

const membershipCommand = (verb: 'extend' | 'remove' | 'ban' | 'unban', summary: string): CommandSpec => ({
  name: `member ${verb}`,
  summary,
  options: verb === 'extend' ? { days: { type: 'string' }, reason: { type: 'string' } } : { reason: { type: 'string' } },
  args: ['membership-id'],
  handler: async ({ f, pos, print, config }) => {
    const membershipId = idArg(pos[0]!, 'membership id');
    const days = verb === 'extend' ? wholeNumber(required(f, 'days'), 'days', 1, MAX_EXTEND_DAYS) : 0;
    const input = { actor: CLI, membershipId, reason: optional(f, 'reason') };
    const m = await withDeps(config(), (deps) => {
      if (verb === 'extend') return extendMembership(deps, { ...input, days });
      if (verb === 'remove') return removeMember(deps, input);
      if (verb === 'ban') return banMember(deps, input);
      return unbanMember(deps, input);
    });
    const until = toIso(m.expiresAt);
    const text =
      verb === 'extend'
        ? `membership ${m.id} extended by ${countOf(days, 'day', 'days')}: ${m.status} until ${until}; the member is told`
        : verb === 'remove'
          ? `membership ${m.id} removed (${m.status}); the service will take them out of the group`
          : verb === 'ban'
            ? `membership ${m.id} banned; the service will keep them out of the group`
            : `membership ${m.id} unbanned: now ${m.status}${m.status === 'active' ? `, paid until ${until}; the service will invite them back` : '; they may buy again'}`;
    print(membershipResult(m), text);
  },
});

/** Every command, in the order the help lists them. Its help text is HELP[name]. */
const COMMANDS: CommandSpec[] = [
  {
    name: 'migrate',
    summary: 'apply database migrations',
    handler: async ({ print, config }) => {
      const c = config();
      ownDataDir(c);
      const opened = await openDatabase(c.databaseUrl);
      try {
        const applied = await migrateToLatest(opened);
        print({ applied }, applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
      } finally {
        await opened.close();
      }
    },
  },
  {
    name: 'owner claim',
    summary: 'print a one-time code that makes a chat account an owner',
    options: { group: { type: 'string', multiple: true } },
    handler: async ({ f, print, config }) => {
      const groups = f.group as string[] | undefined;
      const groupIds = groups?.map((g) => positiveInt(g, 'group'));
      const c = await withDeps(config(), (deps) => createClaimCode(deps, CLI, groupIds));
      const expiresAt = toIso(c.expiresAt);
      const who = c.groupIds ? `an owner of group${c.groupIds.length > 1 ? 's' : ''} ${c.groupIds.join(', ')} only` : 'an owner of every group (an operator)';
      print(
        { code: c.code, expiresAt, groupIds: c.groupIds },
        `${c.code}\nSend this code to the bot in a private chat within 24 hours (before ${expiresAt}). It works once: the account that sends it becomes ${who}.`,
      );
    },
  },
  {
    name: 'owner login-link',
    summary: 'print a one-time sign-in link to the web console',
    options: { owner: { type: 'string' } },
    handler: async ({ f, print, config }) => {
      const owner = optional(f, 'owner');
      const accountId = owner === undefined ? null : positiveInt(owner, 'owner');
      const l = await withDeps(config(), (deps) => issueLoginLink(deps, CLI, accountId));
      const expiresAt = toIso(l.expiresAt);
      const who = accountId === null ? 'an operator session over every group' : `a session as owner account ${accountId}`;
      print({ url: l.url, expiresAt }, `${l.url}\nOpen this link within 10 minutes (before ${expiresAt}); it works once and opens ${who}.`);
    },
  },
  {
    name: 'owner logout',
    summary: 'end every console session',
    options: { all: { type: 'boolean' }, owner: { type: 'string' } },
    handler: async ({ f, print, config }) => {
      if (f.all !== true) throw new UsageError("owner logout needs --all (it ends every console session, or with --owner one owner's)");
      const owner = optional(f, 'owner');
      const accountId = owner === undefined ? undefined : positiveInt(owner, 'owner');
      const ended = await withDeps(config(), (deps) => endAllSessions(deps, CLI, accountId));
      print({ ended }, `${countOf(ended, 'console session', 'console sessions')} ended`);
    },
  },
  {
    name: 'group add',
    summary: 'register a chat group',
    options: { platform: { type: 'string' }, chat: { type: 'string' }, title: { type: 'string' } },
    handler: async ({ f, print, config }) => {
      const input = { platform: required(f, 'platform'), chatId: required(f, 'chat'), title: required(f, 'title'), actor: CLI };
      const g = await withDeps(config(), (deps) => addGroup(deps, input));
      print({ id: g.id }, `group ${g.id} added: ${g.platform} ${g.platformChatId} "${g.title}"`);
    },
  },
  {
    name: 'group list',
    summary: 'list groups',
    handler: async ({ print, config }) => {
      const groups = await withDeps(config(), (_deps, store) => store.groups.list(), { readOnly: true });
      const text =
        groups.length === 0
          ? 'no groups'
          : groups
              .map((g) =>
                [g.id, g.platform, g.platformChatId, g.title, g.ownerAccountId === null ? 'no owner' : `owner ${g.ownerAccountId}`].map(cell).join('\t'),
              )
              .join('\n');
      print(groups.map(groupJson), text);
    },
  },
  {
    name: 'group set',
    summary: "change a group's settings",
    options: Object.fromEntries(SETTINGS.map((s) => [s.flag, { type: 'string' as const }])),
    args: ['group-id'],
    handler: async ({ f, pos, print, config }) => {
      const groupId = idArg(pos[0]!, 'group id');
      const changes = Object.fromEntries(SETTINGS.flatMap((s) => (typeof f[s.flag] === 'string' ? [[s.key, s.fromText(f[s.flag] as string)]] : [])));
      if (Object.keys(changes).length === 0) throw new UsageError(`nothing to change: give at least one of ${SETTINGS.map((s) => `--${s.flag}`).join(', ')}`);
      const g = await withDeps(config(), (deps) => updateGroupSettings(deps, { actor: CLI, groupId, changes }));
      print(groupJson(g), `group ${g.id} "${cell(g.title)}": ${describeSettings(g)}`);
    },
  },
  {
    name: 'plan add',
    summary: 'create a plan',
    options: {
      group: { type: 'string', multiple: true },
      name: { type: 'string' },
      price: { type: 'string' },
      currency: { type: 'string' },
      days: { type: 'string' },
      stars: { type: 'string' },
      recurring: { type: 'boolean' },
      'trial-days': { type: 'string' },
      force: { type: 'boolean' },
    },
    handler: async ({ f, print, config }) => {
      const groups = (f.group as string[] | undefined) ?? [];
      const trial = optional(f, 'trial-days');
      if (groups.length === 0) throw new UsageError('missing --group');
      const input = {
        groupIds: groups.map((g) => positiveInt(g, 'group')),
        name: required(f, 'name'),
        price: required(f, 'price'),
        currency: required(f, 'currency'),
        days: positiveInt(required(f, 'days'), 'days'),
        stars: optional(f, 'stars'),
        recurring: f.recurring === true,
        trialDays: trial === undefined ? undefined : wholeNumber(trial, 'trial-days', 0, MAX_TRIAL_DAYS),
        force: f.force === true,
        actor: CLI,
      };
      const p = await withDeps(config(), (deps) => addPlan(deps, input)).catch((e: unknown) => {
        throw e instanceof DomainError && e.code === 'conflict' && /already has a plan on sale named/.test(e.message)
          ? conflict(`${e.message}, or add it anyway with --force`)
          : e;
      });
      print(
        { id: p.id },
        `plan ${p.id} added: "${p.name}" ${formatMinor(p.priceMinor, p.currency)} ${p.currency}${p.starsPrice === null ? '' : ` or ${p.starsPrice} Stars`} for ${countOf(p.durationDays, 'day', 'days')}${p.recurring ? ', renewing' : ''}${p.trialDays > 0 ? `, ${countOf(p.trialDays, 'day', 'days')} free trial` : ''}, groups ${p.groupIds.join(', ')}`,
      );
    },
  },
  {
    name: 'coupon add',
    summary: 'create a coupon code',
    options: { ...COUPON_TERMS, code: { type: 'string' }, 'max-uses': { type: 'string' } },
    handler: async ({ f, print, config }) => {
      const maxUses = optional(f, 'max-uses');
      const input = { ...couponTerms(f), code: required(f, 'code'), maxUses: maxUses === undefined ? undefined : positiveInt(maxUses, 'max-uses'), actor: CLI };
      const c = await withDeps(config(), (deps) => createCoupon(deps, input));
      print(couponJson(c), `coupon ${c.id} added: ${couponLine(c)}`);
    },
  },
  {
    name: 'coupon list',
    summary: 'list coupons',
    handler: async ({ print, config }) => {
      const coupons = await withDeps(config(), (deps) => listCoupons(deps, CLI), { readOnly: true });
      print(coupons.map(couponJson), coupons.length === 0 ? 'no coupons' : coupons.map(couponLine).join('\n'));
    },
  },
  {
    name: 'coupon disable',
    summary: 'disable a coupon code',
    args: ['code'],
    handler: async ({ pos, print, config }) => {
      const c = await withDeps(config(), (deps) => disableCoupon(deps, { code: pos[0]!, actor: CLI }));
      print(
        { id: c.id, code: c.code, active: c.active },
        `coupon ${c.code} disabled: nobody can apply it any more; orders already made with it are not affected`,
      );
    },
  },
  {
    name: 'coupon batch',
    summary: 'create single-use codes for resellers',
    options: { ...COUPON_TERMS, prefix: { type: 'string' }, count: { type: 'string' }, csv: { type: 'boolean' } },
    handler: async ({ f, out, print, config }) => {
      const input = { ...couponTerms(f), prefix: required(f, 'prefix'), count: wholeNumber(required(f, 'count'), 'count', 1, MAX_BATCH), actor: CLI };
      const coupons = await withDeps(config(), (deps) => createBatch(deps, input));
      if (f.csv === true && f.json !== true) return out(['code', ...coupons.map((c) => csvCell(c.code))].join('\n'));
      print(coupons.map(couponJson), coupons.map((c) => c.code).join('\n'));
    },
  },
  {
    name: 'plan list',
    summary: 'list plans',
    options: { group: { type: 'string' } },
    handler: async ({ f, print, config }) => {
      const group = optional(f, 'group');
      const groupId = group === undefined ? undefined : positiveInt(group, 'group');
      const plans = await withDeps(
        config(),
        async (_deps, store) => {
          if (groupId !== undefined && !(await store.groups.get(groupId))) throw notFound(`no group with id ${groupId}`);
          return store.plans.list({ groupId });
        },
        { readOnly: true },
      );
      const text =
        plans.length === 0
          ? 'no plans'
          : plans
              .map((p) =>
                [
                  p.id,
                  p.name,
                  `${formatMinor(p.priceMinor, p.currency)} ${p.currency}`,
                  countOf(p.durationDays, 'day', 'days'),
                  p.active ? 'on sale' : 'disabled',
                  `groups ${p.groupIds.join(',')}`,
                ]
                  .map(cell)
                  .join('\t'),
              )
              .join('\n');
      print(plans.map(planJson), text);
    },
  },
  {
    name: 'plan set',
    summary: "change a plan's price for new orders",
    options: { price: { type: 'string' }, stars: { type: 'string' } },
    args: ['plan-id'],
    handler: async ({ f, pos, print, config }) => {
      const planId = idArg(pos[0]!, 'plan id');
      const price = optional(f, 'price');
      const stars = optional(f, 'stars');
      if (price === undefined && stars === undefined) throw new UsageError('nothing to change: give --price or --stars');
      const p = await withDeps(config(), (deps) => setPlanPrice(deps, { planId, actor: CLI, price, stars }));
      print(
        planJson(p),
        `plan ${p.id} "${cell(p.name)}" now costs ${formatMinor(p.priceMinor, p.currency)} ${p.currency}${p.starsPrice === null ? '' : ` or ${p.starsPrice} Stars`} for new orders; orders already made keep their price`,
      );
    },
  },
  {
    name: 'plan disable',
    summary: 'take a plan off sale',
    options: { reason: { type: 'string' } },
    args: ['plan-id'],
    handler: async ({ f, pos, print, config }) => {
      const planId = idArg(pos[0]!, 'plan id');
      const p = await withDeps(config(), (deps) => disablePlan(deps, { planId, actor: CLI, reason: optional(f, 'reason') }));
      print({ id: p.id, active: p.active }, `plan ${p.id} disabled: "${cell(p.name)}" is no longer on sale; memberships already paid for are not affected`);
    },
  },
  {
    name: 'member list',
    summary: 'list memberships',
    options: { group: { type: 'string' }, status: { type: 'string' }, 'expiring-within': { type: 'string' } },
    handler: async ({ f, print, config }) => {
      const within = optional(f, 'expiring-within');
      const days = within === undefined ? undefined : wholeNumber(within, 'expiring-within', 0, MAX_EXTEND_DAYS);
      const rows: ReturnType<typeof memberJson>[] = [];
      const groupTitles = new Map<number, string>();
      await withDeps(
        config(),
        async (deps, store) => {
          const filter = await memberFilter(store, f);
          for (const g of await store.groups.list()) groupTitles.set(g.id, g.title);
          const expiresBefore = days === undefined ? undefined : deps.clock.now() + days * DAY_MS;
          const status = filter.status ?? (expiresBefore !== undefined ? 'active' : undefined);
          await eachMembership(store, { groupId: filter.groupId, status, expiresBefore }, (m) => rows.push(memberJson(m)));
        },
        { readOnly: true },
      );
      const text =
        rows.length === 0
          ? 'no members'
          : table(
              ['ID', 'GROUP', 'NAME', 'PLATFORM ID', 'STATUS', 'PAID UNTIL'],
              rows.map((r) => [
                r.membershipId,
                `${r.groupId} ${groupTitles.get(r.groupId) ?? ''}`.trim(),
                r.displayName,
                `${r.platform}:${r.platformUserId}`,
                r.status,
                r.expiresAt,
              ]),
            );
      print(rows, text);
    },
  },
  membershipCommand('extend', 'add days to a membership'),
  membershipCommand('remove', 'withdraw access now'),
  membershipCommand('ban', 'remove and keep out until unbanned'),
  membershipCommand('unban', 'lift a ban'),
  ...(['approve', 'reject'] as const).map((verb): CommandSpec => ({
    name: `member ${verb}`,
    summary: verb === 'approve' ? 'approve a membership awaiting review' : 'reject a membership awaiting review (full refund)',
    options: { reason: { type: 'string' } },
    args: ['membership-id'],
    handler: async ({ f, pos, print, config }) => {
      const membershipId = idArg(pos[0]!, 'membership id');
      const reason = verb === 'reject' ? required(f, 'reason') : optional(f, 'reason');
      const app = await withDeps(config(), async (deps) => {
        const a = await applicationForMembership(deps, CLI, membershipId);
        return verb === 'approve'
          ? approveApplication(deps, { actor: CLI, applicationId: a.id, reason })
          : rejectApplication(deps, { actor: CLI, applicationId: a.id, reason });
      });
      print(
        app,
        verb === 'approve'
          ? `application ${app.id} approved: the service will invite the member`
          : `application ${app.id} rejected: the order is being refunded in full and the member is told why`,
      );
    },
  })),
  {
    name: 'group questions',
    summary: 'list, add or remove the questions a review group asks',
    args: ['group-id'],
    moreArgs: 2,
    handler: async ({ pos, print, config }) => {
      const groupId = idArg(pos[0]!, 'group id');
      const action = pos[1] ?? 'list';
      if (action === 'add') {
        if (!pos[2]) throw new UsageError('missing <text> (quote a question of several words)');
        const q = await withDeps(config(), (deps) => addQuestion(deps, CLI, groupId, pos[2]!));
        return print(q, `question added to group ${groupId}: ${q.text}`);
      }
      if (action === 'remove') {
        const n = idArg(pos[2] ?? '', 'question number');
        const q = await withDeps(config(), (deps) => removeQuestion(deps, CLI, groupId, n));
        return print(q, `question ${n} removed from group ${groupId}: ${q.text}`);
      }
      if (action !== 'list' || pos.length > 2) throw new UsageError(`unknown action ${shown(action)} (add <text>, remove <n> or list)`);
      const list = await withDeps(config(), (deps) => listQuestions(deps, CLI, groupId));
      print(list, list.length === 0 ? `group ${groupId} asks no questions` : list.map((q, i) => `${i + 1}. ${q.text}`).join('\n'));
    },
  },
  {
    name: 'blacklist add',
    summary: 'add a blacklist entry',
    options: { kind: { type: 'string' }, value: { type: 'string' }, platform: { type: 'string' }, group: { type: 'string' }, reason: { type: 'string' } },
    handler: async ({ f, print, config }) => {
      const group = optional(f, 'group');
      const input = {
        groupId: group === undefined ? null : positiveInt(group, 'group'),
        kind: required(f, 'kind'),
        value: required(f, 'value'),
        platform: optional(f, 'platform') ?? null,
        reason: optional(f, 'reason'),
      };
      const e = await withDeps(config(), (deps) => addBlacklist(deps, CLI, input));
      print(e, `blacklist entry ${e.id} added: ${e.kind} ${e.value}${e.groupId === null ? ' (every group)' : ` (group ${e.groupId})`}`);
    },
  },
  {
    name: 'blacklist remove',
    summary: 'remove a blacklist entry',
    args: ['entry-id'],
    handler: async ({ pos, print, config }) => {
      const id = idArg(pos[0]!, 'entry id');
      const e = await withDeps(config(), (deps) => removeBlacklist(deps, CLI, id));
      print(e, `blacklist entry ${e.id} removed`);
    },
  },
  {
    name: 'blacklist list',
    summary: 'list blacklist entries',
    options: { group: { type: 'string' } },
    handler: async ({ f, print, config }) => {
      const group = optional(f, 'group');
      const groupId = group === undefined ? undefined : positiveInt(group, 'group');
      const list = await withDeps(config(), (deps) => listBlacklist(deps, CLI, groupId), { readOnly: true });
      const text =
        list.length === 0
          ? 'no blacklist entries'
          : table(
              ['ID', 'GROUP', 'KIND', 'VALUE', 'REASON'],
              list.map((e) => [
                e.id,
                e.groupId === null ? 'every group' : e.groupId,
                e.kind,
                e.platform ? `${e.platform}:${e.value}` : e.value,
                e.reason ?? '',
              ]),
            );
      print(list, text);
    },
  },
  {
    name: 'order list',
    summary: 'list orders, newest first',
    options: { status: { type: 'string' } },
    handler: async ({ f, print, config }) => {
      const status = optional(f, 'status');
      if (status !== undefined && !isOrderStatus(status))
        throw invalid(`unknown order status ${shown(status)} (pending, paid, expired, review, refund_pending, refunded)`);
      const orders = await withDeps(
        config(),
        async (_deps, store) => {
          const all: Array<Awaited<ReturnType<typeof ordersJson>>[number]> = [];
          let after: { createdAt: number; id: string } | undefined;
          for (;;) {
            const rows: Order[] = await store.orders.page({ status: status as OrderStatus | undefined, after, limit: PAGE });
            all.push(...(await ordersJson(store, rows)));
            if (rows.length < PAGE) return all;
            const last = rows[rows.length - 1]!;
            after = { createdAt: last.createdAt, id: last.id };
          }
        },
        { readOnly: true },
      );
      const refundedCell = (o: (typeof orders)[number]) => (o.refundedMinor > 0 ? [`refunded ${o.refunded} ${o.currency}`] : []);
      const text =
        orders.length === 0
          ? 'no orders'
          : orders
              .map((o) =>
                [o.id, o.status, `${o.amount} ${o.currency}`, ...refundedCell(o), o.provider, `account ${o.accountId}`, `plan ${o.planId}`, o.createdAt]
                  .map(cell)
                  .join('\t'),
              )
              .join('\n');
      print(orders, text);
    },
  },
  {
    name: 'order refund',
    summary: 'refund a paid order',
    options: { reason: { type: 'string' } },
    args: ['order-id'],
    handler: async ({ f, pos, print, config }) => {
      const orderId = pos[0]!.trim();
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(orderId)) throw notFound(`no order with id ${shown(pos[0]!)}`);
      const o = await withDeps(config(), async (deps, store) =>
        oneOrderJson(store, await requestRefund(deps, { actor: CLI, orderId, reason: optional(f, 'reason') })),
      );
      const owed = o.amountMinor - o.refundedMinor;
      print(
        o,
        `order ${o.id}: refund requested; the service will complete it (its job worker asks the ${o.provider} provider to refund ${formatMinor(owed, o.currency)} ${o.currency}, the whole remaining charge, then tells the member)`,
      );
    },
  },
  {
    name: 'backup',
    summary: 'copy the SQLite database to a new file',
    args: ['file'],
    handler: async ({ f, pos, out, config }) => {
      if (pos[0]!.trim() === '') throw new UsageError('missing <file>');
      return backup(config(), pos[0]!, !!f.json, out);
    },
  },
  {
    name: 'export members',
    summary: 'members as CSV on stdout',
    options: { format: { type: 'string' }, group: { type: 'string' }, status: { type: 'string' } },
    handler: async ({ f, out, config }) => {
      if (f.json) throw new UsageError('export writes CSV; --json does not apply');
      const format = required(f, 'format');
      if (format.trim().toLowerCase() !== 'csv') throw new UsageError(`unknown --format ${shown(format)}; only csv is supported`);
      return withDeps(
        config(),
        async (_deps, store) => {
          const filter = await memberFilter(store, f);
          out(memberCsvHeader());
          await eachMembership(store, filter, (m) => out(memberCsvLine(m)));
        },
        { readOnly: true },
      );
    },
  },
  {
    name: 'doctor',
    summary: 'check what a live deployment needs',
    options: { offline: { type: 'boolean' } },
    handler: async ({ f, print, env }) => {
      // Loaded here: it brings the Telegram client, which no other command needs.
      const { formatCheck, runDoctor } = await import('./doctor.ts');
      const checks = await runDoctor(env, { offline: f.offline === true });
      print(checks, checks.map(formatCheck).join('\n'));
      const failed = checks.filter((c) => c.status === 'fail').length;
      if (failed > 0) throw new DoctorFailed(`${failed} check${failed === 1 ? '' : 's'} failed`);
    },
  },
];

/** The options every command takes. */
const COMMON: Options = { json: { type: 'boolean' }, help: { type: 'boolean' } };

let version: string | undefined;
/** The version in package.json, read once: one level up from src/cli.ts, two from the compiled dist/src/cli.js. */
function packageVersion(): string {
  version ??= (() => {
    const file = ['../package.json', '../../package.json'].map((p) => new URL(p, import.meta.url)).find((u) => existsSync(u))!;
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  })();
  return version;
}

/** The help text of a command family ("plan"), listing its subcommands from the table. */
function familyHelp(family: string, specs: CommandSpec[]): string {
  const width = Math.max(...specs.map((c) => c.name.length)) + 2;
  const subs = specs.map((c) => c.name.split(' ')[1]!);
  return `Usage: gatekeeper ${family} ${subs.length > 1 ? `<${subs.join('|')}>` : subs[0]} [options]

Commands:
${specs.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}

Run "gatekeeper ${family} <command> --help" for a command's options.`;
}

/**
 * Tokens commander would misread, settled the way the CLI always has: an argument that starts with a
 * single "-" is a positional where the command takes one (order ids are base64url and may start with
 * "-"), and a string option followed by another option, "--" or -h is an error rather than a value.
 * A value that starts with "-" stays the option's value (`--chat -1001234`).
 */
function settle(spec: CommandSpec, tokens: string[]): string[] {
  const options = { ...spec.options, ...COMMON };
  const kept: string[] = [];
  const dashed: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const a = tokens[i]!;
    if (a === '--') {
      kept.push(...tokens.slice(i));
      break;
    }
    const eq = /^--([^=]+)=/.exec(a);
    if (eq && Object.hasOwn(options, eq[1]!) && options[eq[1]!]!.type === 'boolean') throw new UsageError(`Option '--${eq[1]}' does not take an argument`);
    const option = a.startsWith('--') && !a.includes('=') && Object.hasOwn(options, a.slice(2)) ? options[a.slice(2)]! : undefined;
    const next = tokens[i + 1];
    if (option?.type === 'string' && next !== undefined) {
      if (next.startsWith('-') && !/^-(?!-|h$)./.test(next)) throw new UsageError(`Option '${a}' argument is ambiguous.`);
      kept.push(a, next);
      i++;
    } else if (spec.args?.length && /^-(?!-|h$)./.test(a)) dashed.push(a);
    else kept.push(a);
  }
  if (dashed.length) kept.push(...(kept.includes('--') ? [] : ['--']), ...dashed);
  return kept;
}

/** Commander's own messages ("error: unknown option '--x'"), worded as the CLI always has. */
function usageLine(e: CommanderError, spec: CommandSpec | undefined): string {
  const m = e.message.replace(/^error: /, '');
  const unknown = /^unknown option '(.*)'$/.exec(m);
  if (unknown && spec?.args?.length)
    return `Unknown option '${unknown[1]}'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- ${JSON.stringify(unknown[1])}`;
  const missing = /^option '(--[\w-]+)[^']*' argument missing$/.exec(m);
  if (missing) return `Option '${missing[1]} <value>' argument missing`;
  return m.charAt(0).toUpperCase() + m.slice(1);
}

/** Builds the command tree from COMMANDS: `gatekeeper`, a family per first word, a leaf per command. */
function program(out: (s: string) => void, env: Record<string, string | undefined>): Command {
  const root = new Command('gatekeeper')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out(s.replace(/\n$/, '')), writeErr: () => {}, outputError: () => {} })
    .showSuggestionAfterError(false)
    .helpCommand(false)
    .helpOption('-h, --help')
    .allowUnknownOption()
    .allowExcessArguments()
    .version(packageVersion(), '--version')
    .configureHelp({ formatHelp: () => HELP.main! });
  const families = new Map<string, CommandSpec[]>();
  for (const spec of COMMANDS) {
    const [first, second] = spec.name.split(' ') as [string, string | undefined];
    if (second) families.set(first, [...(families.get(first) ?? []), spec]);
  }
  const leaf = (parent: Command, word: string, spec: CommandSpec) => {
    const cmd = parent
      .command(word)
      .allowExcessArguments()
      .configureHelp({ formatHelp: () => HELP[spec.name]! });
    for (const [name, o] of Object.entries({ ...spec.options, json: COMMON.json! })) {
      const option = new Option(o.type === 'string' ? `--${name} <value>` : `--${name}`);
      if (o.multiple) option.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
      cmd.addOption(option);
    }
    cmd.action(async () => {
      const opts = cmd.opts();
      const f: Flags = Object.fromEntries(cmd.options.map((o) => [o.long!.slice(2), opts[o.attributeName()] as Flags[string]]));
      const pos = cmd.args;
      const names = spec.args ?? [];
      if (pos.length < names.length) throw new UsageError(`missing <${names[pos.length]}>`);
      if (pos.length > names.length + (spec.moreArgs ?? 0)) {
        throw new UsageError(
          names.length
            ? `unexpected argument ${shown(pos[names.length]!)}`
            : `Unexpected argument '${pos[0]}'. This command does not take positional arguments`,
        );
      }
      const print = (value: unknown, text: string) => out(f.json ? JSON.stringify(value) : text);
      await spec.handler({ f, pos, out, print, env, config: () => loadConfig(env, { forCli: true }) });
    });
  };
  for (const spec of COMMANDS) if (!spec.name.includes(' ')) leaf(root, spec.name, spec);
  for (const [family, specs] of families) {
    const group = root
      .command(family)
      .allowUnknownOption()
      .allowExcessArguments()
      .configureHelp({ formatHelp: () => familyHelp(family, specs) });
    for (const spec of specs) leaf(group, spec.name.split(' ')[1]!, spec);
    // Reached only when the next word is not one of its subcommands.
    group.action(() => {
      const sub = group.args[0];
      const choices = specs.map((c) => c.name).join(', ');
      throw new UsageError(
        sub && !sub.startsWith('-')
          ? `unknown command ${shown(`${family} ${sub}`)} (${choices}); see gatekeeper --help`
          : `"${family}" needs a subcommand (${choices}); see gatekeeper --help`,
      );
    });
  }
  // Reached only when the first word is not a command.
  root.action(() => {
    const cmd = root.args[0];
    if (!cmd || cmd === 'help') return out(HELP.main!);
    throw new UsageError(`unknown command ${shown(cmd)}; see gatekeeper --help`);
  });
  return root;
}

export async function run(argv: string[], env: Record<string, string | undefined>, out: (s: string) => void): Promise<void> {
  const two = argv.slice(0, 2).join(' ');
  const spec = COMMANDS.find((c) => c.name === two) ?? COMMANDS.find((c) => c.name === argv[0]);
  const words = spec ? spec.name.split(' ').length : 0;
  const args = spec ? [...argv.slice(0, words), ...settle(spec, argv.slice(words))] : argv;
  try {
    await program(out, env).parseAsync(args, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return;
    throw new UsageError(usageLine(e, spec));
  }
}

export function describeError(e: unknown): { line: string; code: number } {
  const oneLine = (s: string) => s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  if (e instanceof UsageError) return { line: oneLine(e.message), code: 2 };
  if (e instanceof DomainError || e instanceof ConfigError || e instanceof DoctorFailed) return { line: oneLine(e.message), code: 1 };
  return { line: e instanceof Error ? e.message.split('\n')[0]! : String(e), code: 1 };
}

const isMain = process.argv[1] && /(?:cli\.ts|gatekeeper(?:\.js)?)$/.test(process.argv[1]);
if (isMain) {
  // Exit only once the output is flushed: on a pipe (`gatekeeper export … | …`) writes may still be queued.
  run(process.argv.slice(2), readEnv(), (s) => process.stdout.write(`${s}\n`)).then(
    () => process.stdout.write('', () => process.exit(0)),
    (e: unknown) => {
      const { line, code } = describeError(e);
      process.stderr.write(`gatekeeper: ${line}\n`, () => process.exit(code));
    },
  );
}
