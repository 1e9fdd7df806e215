// `gatekeeper` — the owner's command line. Every command has --help, exits non-zero with one line on
// bad input, and prints JSON with --json. It talks to the same database as the service (DATABASE_URL
// or DATA_DIR, also from .env) and goes through the same use cases as the admin API.
import { parseArgs } from 'node:util';
import type { AppDeps } from './app/deps.ts';
import { addGroup, addPlan, listMembers } from './app/catalog-admin.ts';
import { systemClock } from './app/clocks.ts';
import type { Logger, Store } from './app/ports.ts';
import { ConfigError, type Config, loadConfig, readEnv } from './config.ts';
import { createCatalog } from './conversation/catalog.ts';
import { DomainError, invalid } from './domain/errors.ts';
import { formatMinor } from './domain/money.ts';
import { toIso } from './domain/time.ts';
import { migrateToLatest, openDatabase } from './store/database.ts';
import { createStore } from './store/kysely-store.ts';

class UsageError extends Error {}

const HELP: Record<string, string> = {
  main: `Usage: gatekeeper <command> [options]

Commands:
  migrate                      apply database migrations
  group add                    register a chat group
  plan add                     create a plan that opens one or more groups
  member list                  list memberships

Run "gatekeeper <command> --help" for a command's options.
Database: DATABASE_URL, or sqlite under DATA_DIR (default data/). Also read from .env.`,
  migrate: `Usage: gatekeeper migrate [--json]

Applies every pending migration to the database (SQLite or PostgreSQL). Safe to run again.`,
  'group add': `Usage: gatekeeper group add --platform <telegram|wechat|playground> --chat <chat-id> --title <title> [--json]

Registers a group so plans can open it. --json prints {"id": …}.`,
  'plan add': `Usage: gatekeeper plan add --group <group-id> [--group <id> …] --name <name> --price <decimal> --currency <code> --days <n> [--json]

Creates a plan. --price is a decimal in the currency's units (9.90 CNY = 990 fen); --days is the
length of one paid period. --json prints {"id": …}.`,
  'member list': `Usage: gatekeeper member list [--group <group-id>] [--status <active|grace|expired|revoked|banned>] [--json]

Lists memberships. --json prints [{accountId, platform, platformUserId, groupId, status, expiresAt}].`,
};

type Flags = Record<string, string | boolean | string[] | undefined>;

function parse(args: string[], options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>): Flags {
  // Telegram chat ids are negative numbers (`--chat -1001234`): glue a negative number to its option so
  // parseArgs does not read it as another flag.
  const glued: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    if (a.startsWith('--') && options[a.slice(2)]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      glued.push(`${a}=${next}`);
      i++;
    } else glued.push(a);
  }
  args = glued;
  try {
    return parseArgs({ args, options: { ...options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: false, strict: true }).values as Flags;
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

function required(flags: Flags, name: string): string {
  const v = flags[name];
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`missing --${name}`);
  return v;
}

function positiveInt(value: string, name: string): number {
  if (!/^\d{1,9}$/.test(value.trim()) || Number(value) < 1) throw invalid(`--${name} must be a positive whole number (got "${value}")`);
  return Number(value);
}

const quietLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

async function withDeps<T>(config: Config, fn: (deps: AppDeps, store: Store) => Promise<T>): Promise<T> {
  const opened = await openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(opened);
    const store = createStore(opened);
    const deps: AppDeps = {
      store,
      clock: systemClock,
      providers: new Map(),
      gateways: new Map(),
      messages: createCatalog({ defaultLocale: config.defaultLocale, timeZone: config.tzDisplay }),
      logger: quietLogger,
      settings: {
        publicUrl: config.publicUrl,
        orderTtlMs: config.orderTtlMs,
        defaultGraceMs: config.graceMs,
        defaultReminderOffsetsMs: config.reminderOffsetsMs,
        defaultLocale: config.defaultLocale,
        tzDisplay: config.tzDisplay,
      },
    };
    return await fn(deps, store);
  } finally {
    await opened.close();
  }
}

export async function run(argv: string[], env: Record<string, string | undefined>, out: (s: string) => void): Promise<void> {
  const [cmd, sub] = argv;
  const two = `${cmd ?? ''} ${sub ?? ''}`;
  const name = HELP[two] ? two : cmd && HELP[cmd] && cmd !== 'main' ? cmd : null;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') return out(HELP.main!);
  if (!name) {
    if (cmd === 'group' || cmd === 'plan' || cmd === 'member') throw new UsageError(sub ? `unknown command "${cmd} ${sub}"; see gatekeeper ${cmd === 'member' ? 'member list' : `${cmd} add`} --help` : `"${cmd}" needs a subcommand; see gatekeeper --help`);
    throw new UsageError(`unknown command "${cmd}"; see gatekeeper --help`);
  }
  const rest = argv.slice(name.split(' ').length);
  const print = (json: boolean, value: unknown, text: string) => out(json ? JSON.stringify(value) : text);

  switch (name) {
    case 'migrate': {
      const f = parse(rest, {});
      if (f.help) return out(HELP.migrate!);
      const config = loadConfig(env, { forCli: true });
      const opened = await openDatabase(config.databaseUrl);
      try {
        const applied = await migrateToLatest(opened);
        return print(!!f.json, { applied }, applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
      } finally {
        await opened.close();
      }
    }
    case 'group add': {
      const f = parse(rest, { platform: { type: 'string' }, chat: { type: 'string' }, title: { type: 'string' } });
      if (f.help) return out(HELP['group add']!);
      const input = { platform: required(f, 'platform'), chatId: required(f, 'chat'), title: required(f, 'title'), actor: 'admin:cli' };
      const g = await withDeps(loadConfig(env, { forCli: true }), (deps) => addGroup(deps, input));
      return print(!!f.json, { id: g.id }, `group ${g.id} added: ${g.platform} ${g.platformChatId} "${g.title}"`);
    }
    case 'plan add': {
      const f = parse(rest, { group: { type: 'string', multiple: true }, name: { type: 'string' }, price: { type: 'string' }, currency: { type: 'string' }, days: { type: 'string' } });
      if (f.help) return out(HELP['plan add']!);
      const groups = (f.group as string[] | undefined) ?? [];
      if (groups.length === 0) throw new UsageError('missing --group');
      const input = {
        groupIds: groups.map((g) => positiveInt(g, 'group')),
        name: required(f, 'name'),
        price: required(f, 'price'),
        currency: required(f, 'currency'),
        days: positiveInt(required(f, 'days'), 'days'),
        actor: 'admin:cli',
      };
      const p = await withDeps(loadConfig(env, { forCli: true }), (deps) => addPlan(deps, input));
      return print(!!f.json, { id: p.id }, `plan ${p.id} added: "${p.name}" ${formatMinor(p.priceMinor, p.currency)} ${p.currency} for ${p.durationDays} days, groups ${p.groupIds.join(', ')}`);
    }
    case 'member list': {
      const f = parse(rest, { group: { type: 'string' }, status: { type: 'string' } });
      if (f.help) return out(HELP['member list']!);
      const filter = { groupId: typeof f.group === 'string' ? positiveInt(f.group, 'group') : undefined, status: typeof f.status === 'string' ? f.status : undefined };
      const members = await withDeps(loadConfig(env, { forCli: true }), (deps) => listMembers(deps, filter));
      const rows = members.map((m) => ({ accountId: m.accountId, platform: m.platform, platformUserId: m.platformUserId, groupId: m.groupId, status: m.status, expiresAt: toIso(m.expiresAt) }));
      const text = rows.length === 0 ? 'no members' : rows.map((r) => `${r.groupId}\t${r.platform}:${r.platformUserId}\t${r.status}\t${r.expiresAt}`).join('\n');
      return print(!!f.json, rows, text);
    }
  }
}

export function describeError(e: unknown): { line: string; code: number } {
  if (e instanceof UsageError) return { line: e.message, code: 2 };
  if (e instanceof DomainError || e instanceof ConfigError) return { line: e.message, code: 1 };
  return { line: e instanceof Error ? e.message.split('\n')[0]! : String(e), code: 1 };
}

const isMain = process.argv[1] && /(?:cli\.ts|gatekeeper(?:\.js)?)$/.test(process.argv[1]);
if (isMain) {
  run(process.argv.slice(2), readEnv(), (s) => process.stdout.write(`${s}\n`)).then(
    () => process.exit(0),
    (e: unknown) => {
      const { line, code } = describeError(e);
      process.stderr.write(`gatekeeper: ${line}\n`);
      process.exit(code);
    },
  );
}
