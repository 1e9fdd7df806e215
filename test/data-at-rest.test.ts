// Data at rest: the SQLite file (and its WAL/SHM) is 0600 and DATA_DIR 0700, like secrets.json; the
// first-run banner shows ADMIN_TOKEN only on a terminal, otherwise where the secrets file is.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIST_TIMEOUT, MAIN, ensureDist } from './helpers/dist.ts';
import { secureDataDir } from '../src/config.ts';
import { migrateToLatest, openDatabase } from '../src/store/database.ts';
import { freePort } from './helpers/net.ts';

const mode = (p: string) => statSync(p).mode & 0o777;

let dir: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gk-rest-'));
});
afterEach(() => {
  for (const c of children.splice(0)) {
    try {
      if (c.exitCode === null && c.pid) process.kill(-c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

// The service runs compiled, as `npm start` runs it: dist/ is built here once when stale.
beforeAll(ensureDist, DIST_TIMEOUT);

describe('file modes', () => {
  it('creates the SQLite file, its WAL and SHM 0600 in a 0700 directory', async () => {
    const path = join(dir, 'data', 'gatekeeper.db');
    const opened = await openDatabase(`sqlite:${path}`);
    try {
      await migrateToLatest(opened);
      await sql`CREATE TABLE IF NOT EXISTS t (x integer)`.execute(opened.db);
      await sql`INSERT INTO t (x) VALUES (1)`.execute(opened.db);
      expect(existsSync(`${path}-wal`)).toBe(true);
      expect(mode(join(dir, 'data'))).toBe(0o700);
      for (const f of [path, `${path}-wal`, `${path}-shm`]) expect(mode(f), f).toBe(0o600);
    } finally {
      await opened.close();
    }
  });

  it('tightens an existing database file and DATA_DIR', async () => {
    const data = join(dir, 'data');
    mkdirSync(data, { mode: 0o755 });
    chmodSync(data, 0o755);
    const path = join(data, 'gatekeeper.db');
    writeFileSync(path, '', { mode: 0o644 });
    chmodSync(path, 0o644);
    const opened = await openDatabase(`sqlite:${path}`);
    await opened.close();
    expect(mode(path)).toBe(0o600);
    secureDataDir(data);
    expect(mode(data)).toBe(0o700);
  });
});

/** `npm start` on a fresh DATA_DIR; with `tty`, under `script` so stdout is a terminal. Resolves with the banner. */
async function firstRun(dataDir: string, tty: boolean): Promise<string> {
  const port = await freePort();
  const keep = /^(PATH|HOME|LANG|TMPDIR|NODE_PATH)$/;
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => keep.test(k)));
  Object.assign(env, { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', SWEEP_CRON: '0 0 1 1 *', PLAYGROUND: 'off' });
  const cmd = `${process.execPath} '${MAIN}'`;
  const child = tty
    ? spawn('script', ['-qec', cmd, '/dev/null'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, [MAIN], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 30_000;
  while (!/CLI: /.test(out)) {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) throw new Error(`no banner in time:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  process.kill(-child.pid!, 'SIGTERM');
  return out;
}

describe('the first-run banner', () => {
  it('piped (not a terminal): no token, only where the secrets file is; DATA_DIR 0700 and the database 0600', async () => {
    const data = join(dir, 'data');
    const out = await firstRun(data, false);
    const secrets = JSON.parse(readFileSync(join(data, 'secrets.json'), 'utf8')) as Record<string, string>;
    expect(secrets.ADMIN_TOKEN).toBeTruthy();
    expect(out).not.toContain(secrets.ADMIN_TOKEN);
    expect(out).not.toContain(secrets.DEV_PAY_SECRET);
    expect(out).toContain(`generated into ${join(data, 'secrets.json')}`);
    expect(out).toMatch(/not shown because this output is not a terminal/);
    expect(mode(data)).toBe(0o700);
    expect(mode(join(data, 'gatekeeper.db'))).toBe(0o600);
    expect(mode(join(data, 'secrets.json'))).toBe(0o600);
  }, 60_000);

  it('on a terminal: the token is shown, once', async () => {
    const data = join(dir, 'data');
    const out = await firstRun(data, true);
    const secrets = JSON.parse(readFileSync(join(data, 'secrets.json'), 'utf8')) as Record<string, string>;
    expect(out).toContain(`ADMIN_TOKEN=${secrets.ADMIN_TOKEN}`);
    expect(out).not.toContain(secrets.DEV_PAY_SECRET);
  }, 60_000);
});
