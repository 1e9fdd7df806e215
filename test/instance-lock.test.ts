// Issue 13 part 10: two services on one SQLite file — the second refuses to start with one line naming
// the file and the first's pid; a crashed first service (kill -9) never blocks its successor; the CLI
// keeps working while the service runs.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIST_TIMEOUT, MAIN, ensureDist } from './helpers/dist.ts';
import { run } from '../src/cli.ts';
import { InstanceLockedError, lockSqliteInstance } from '../src/store/instance-lock.ts';
import { freePort } from './helpers/net.ts';

const exec = promisify(execFile);

// The service runs compiled, as `npm start` runs it: dist/ is built here once when stale.
beforeAll(ensureDist, DIST_TIMEOUT);

describe('the one-service lock on a SQLite file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gk-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a second holder, naming the file and the first pid, until the first lets go', () => {
    const db = join(dir, 'gatekeeper.db');
    const first = lockSqliteInstance(db, { pid: 4242, host: 'box-a', startedAt: Date.UTC(2026, 0, 1) });
    let err: unknown;
    try {
      lockSqliteInstance(db, { pid: 5353, host: 'box-b', startedAt: Date.UTC(2026, 0, 2) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InstanceLockedError);
    expect((err as Error).message).toBe(
      `another Gatekeeper service (pid 4242 on box-a, since 2026-01-01T00:00:00.000Z) is running on the database ${db}; stop it first (several instances need PostgreSQL)`,
    );
    // Another spelling of the same path finds the same lock.
    expect(() => lockSqliteInstance(join(dir, '.', 'x', '..', 'gatekeeper.db'))).toThrow(InstanceLockedError);
    first.release();
    const second = lockSqliteInstance(db, { pid: 5353, host: 'box-b', startedAt: Date.UTC(2026, 0, 2) });
    expect(() => lockSqliteInstance(db)).toThrow(/pid 5353 on box-b/);
    second.release();
    // Another database in the same directory is another lock.
    lockSqliteInstance(join(dir, 'other.db')).release();
  });
});

/** Starts what `npm start` runs (node dist/src/main.js); resolves once it says it is running. */
async function startService(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; stopped: Promise<number | null> }> {
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stopped = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const up = await Promise.race([
    new Promise<boolean>((resolve) => {
      const timer = setInterval(() => {
        if (out.includes('Gatekeeper is running')) {
          clearInterval(timer);
          resolve(true);
        }
      }, 20);
      void stopped.then(() => clearInterval(timer));
    }),
    stopped.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000)),
  ]);
  if (!up) {
    child.kill('SIGKILL');
    throw new Error(`service did not start: ${err}`);
  }
  return { child, stopped };
}

describe('two services on one SQLite file (processes)', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gk-lock-proc-'));
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('the second refuses in one line with the first pid; the CLI works alongside; after a kill -9 a new one starts', async () => {
    const env = (port: number): NodeJS.ProcessEnv => ({
      ...process.env,
      DATA_DIR: dir,
      DATABASE_URL: '',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      PLAYGROUND: 'off',
      TELEGRAM_BOT_TOKEN: '',
      WECHATY_PUPPET_SERVICE_TOKEN: '',
    });
    const first = await startService(env(await freePort()));
    children.push(first.child);

    const second = await exec(process.execPath, [MAIN], { env: env(await freePort()), timeout: 30_000 }).catch((e: { code: number; stderr: string }) => e);
    expect((second as { code: number }).code).toBe(1);
    const line = (second as { stderr: string }).stderr;
    expect(line.split('\n')).toHaveLength(2); // one line, then the final newline
    expect(line).toMatch(
      new RegExp(
        `^gatekeeper: failed to start: another Gatekeeper service \\(pid ${first.child.pid} on .+\\) is running on the database ${join(dir, 'gatekeeper.db').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; stop it first`,
      ),
    );

    // The CLI (another process than the service) opens the same database while the service runs.
    const cliEnv = { DATA_DIR: dir };
    const out: string[] = [];
    await run(['group', 'add', '--platform', 'playground', '--chat', 'c1', '--title', 'T', '--json'], cliEnv, (s) => out.push(s));
    await run(['member', 'list'], cliEnv, (s) => out.push(s));
    expect(out).toEqual(['{"id":1}', 'no members']);

    // A crash leaves no stale lock behind: the next service starts at once.
    first.child.kill('SIGKILL');
    await first.stopped;
    const third = await startService(env(await freePort()));
    children.push(third.child);
    third.child.kill('SIGTERM');
    expect(await third.stopped).toBe(0);
  }, 120_000);
});
