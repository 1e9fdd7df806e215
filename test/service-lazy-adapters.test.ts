// Issue 19 part 7: wechaty and telegraf take seconds to load, so src/service.ts imports the WeChat and
// Telegram adapters only when their platform is configured. A fresh Node process whose module loader
// refuses those packages (and pg, needed on PostgreSQL only) builds a playground-only service on SQLite;
// the same process with a Telegram or WeChat token configured must load them, which proves the refusal
// would catch an eager import. Both the sources (through tsx) and the compiled dist/ that `npm start`
// runs (issue 14 part 6) are checked.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN } from './bots/telegram/harness.ts';
import { DIST_TIMEOUT, ensureDist } from './helpers/dist.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** How a module of ours is loaded: its source through tsx, or its compiled JavaScript in dist/. */
const RUNS = {
  source: { loader: ['--import', 'tsx'], src: (path: string) => pathToFileURL(join(ROOT, path)).href },
  compiled: { loader: [], src: (path: string) => pathToFileURL(join(ROOT, 'dist', path.replace(/\.ts$/, '.js'))).href },
};

// A resolve hook that refuses the chat SDKs (the hooks registered last run first, before tsx's when it is loaded).
const DENY_HOOK = `export async function resolve(specifier, context, next) {
  if (/^(wechaty|wechaty-puppet-service|telegraf|pg)(\\/|$)/.test(specifier)) throw new Error('refused to load ' + specifier);
  return next(specifier, context);
}
`;

// Builds a service the way main.ts does (real config, a migrated SQLite file) and says what it built.
const childScript = (src: (path: string) => string) => `
const { loadConfig } = await import(${JSON.stringify(src('src/config.ts'))});
const { migrateToLatest, openDatabase } = await import(${JSON.stringify(src('src/store/database.ts'))});
const { createStore } = await import(${JSON.stringify(src('src/store/kysely-store.ts'))});
const { systemClock } = await import(${JSON.stringify(src('src/app/clocks.ts'))});
const { createService } = await import(${JSON.stringify(src('src/service.ts'))});
const config = loadConfig(JSON.parse(process.env.GK_CHILD_ENV));
const opened = await openDatabase(config.databaseUrl);
await migrateToLatest(opened);
const quiet = { info() {}, warn() {}, error() {} };
const service = await createService({ config, adminToken: config.adminToken ?? 'a'.repeat(32), devPaySecret: 'd'.repeat(32), store: createStore(opened), clock: systemClock, logger: quiet });
console.log(JSON.stringify({ playground: Boolean(service.playground), telegram: Boolean(service.telegram), wechat: Boolean(service.wechat) }));
await service.stop();
await opened.close();
`;

describe.each(Object.entries(RUNS))('the chat adapters load only when configured (%s)', (kind, run) => {
  beforeAll(async () => {
    if (kind === 'compiled') await ensureDist();
  }, DIST_TIMEOUT);
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function buildService(env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
    dir = mkdtempSync(join(tmpdir(), 'gk-lazy-'));
    const hook = join(dir, 'deny-hook.mjs');
    const register = join(dir, 'register.mjs');
    writeFileSync(hook, DENY_HOOK);
    writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hook).href)});\n`);
    const childEnv = {
      DATA_DIR: join(dir, 'data'),
      DATABASE_URL: `sqlite:${join(dir, 'gk.db')}`,
      ADMIN_TOKEN: 'test-admin-token-0123456789',
      DEV_PAY_SECRET: 'test-dev-secret-0123456789',
      PUBLIC_URL: 'http://gk.test',
      ...env,
    };
    const child = spawn(process.execPath, [...run.loader, '--import', pathToFileURL(register).href, '--input-type=module', '-e', childScript(run.src)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', GK_CHILD_ENV: JSON.stringify(childEnv) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code, out, err };
  }

  it('a playground-only service on SQLite never loads wechaty, telegraf or pg', async () => {
    const r = await buildService({});
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ playground: true, telegram: false, wechat: false });
  });

  it('a service with Telegram or WeChat configured loads its SDK (the refusal above is real)', async () => {
    const telegram = await buildService({ TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_API_ROOT: 'http://127.0.0.1:9', ALLOW_DEV_PAYMENTS: '1' });
    expect(telegram.code).not.toBe(0);
    expect(telegram.err).toMatch(/refused to load telegraf/);
    const wechat = await buildService({ WECHATY_PUPPET_SERVICE_TOKEN: 'puppet-token-never-used-in-tests', ALLOW_DEV_PAYMENTS: '1' });
    expect(wechat.code).not.toBe(0);
    expect(wechat.err).toMatch(/refused to load wechaty/);
  });
});
