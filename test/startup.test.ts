// Issue 20 part 6: `npm start` is quiet and its failures name the setting to change. The banner is the
// first thing printed (no JSON log line before it), requests are not logged at info, and a port in use,
// an unknown HOST or a DATABASE_URL into a missing directory stop start-up with one line naming the key.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIST_TIMEOUT, MAIN, ensureDist } from './helpers/dist.ts';
import { listenError } from '../src/config.ts';
import { cli } from './helpers/cli.ts';

const exec = promisify(execFile);

async function listening(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

async function freePort(): Promise<number> {
  const { server, port } = await listening();
  await new Promise((r) => server.close(r));
  return port;
}

/** `npm start` as a process that must fail: its exit code and stderr. */
async function startFails(env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string; stdout: string }> {
  const r = await exec(process.execPath, [MAIN], { env, timeout: 30_000 }).then(
    () => ({ code: 0, stderr: '', stdout: '' }),
    (e: { code: number; stderr: string; stdout: string }) => e,
  );
  return { code: r.code, stderr: r.stderr, stdout: r.stdout };
}

// The service runs compiled, as `npm start` runs it: dist/ is built here once when stale.
beforeAll(ensureDist, DIST_TIMEOUT);

describe('npm start: logs and start-up errors', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gk-start-'));
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the banner before any log line and logs no request at info', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, DATA_DIR: join(dir, 'data'), PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: '', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const deadline = Date.now() + 30_000;
    while (!out.includes('CLI:') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 25));
    expect(out, out).toContain('Gatekeeper is running');
    // The first start migrated the database: said in the banner, not logged before it.
    expect(out).toMatch(/ {2}Database: {3}\d+ migrations applied/);
    // The console is named with how to sign in (issue 15 part 10), and it answers.
    expect(out).toMatch(
      / {2}Console: {4}http:\/\/\S+\/console {2}\(sign in with a one-time link: npx gatekeeper owner login-link, or send \/console to the bot as an owner\)/,
    );
    expect((await fetch(`http://127.0.0.1:${port}/console`)).status).toBe(200);
    const before = out.slice(0, out.indexOf('Gatekeeper is running'));
    expect(before.trim(), before).toBe('');
    const shown = out.length;
    for (const path of ['/healthz', '/playground', '/nowhere']) await fetch(`http://127.0.0.1:${port}${path}`);
    await new Promise((r) => setTimeout(r, 300));
    let after = out.slice(shown);
    expect(after.trim(), after).toBe('');
    // A handled event is one line: a checkout and a (dev) payment, four requests, log the payment once.
    const { ADMIN_TOKEN } = JSON.parse(readFileSync(join(dir, 'data', 'secrets.json'), 'utf8')) as { ADMIN_TOKEN: string };
    const checkout = await fetch(`http://127.0.0.1:${port}/api/checkouts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ platform: 'playground', userId: 'alice', planId: 1 }),
    });
    expect(checkout.status).toBe(201);
    const { orderId } = (await checkout.json()) as { orderId: string };
    await fetch(`http://127.0.0.1:${port}/pay/${orderId}`);
    const paid = await fetch(`http://127.0.0.1:${port}/pay/${orderId}/dev-pay`, { method: 'POST', headers: { accept: 'application/json' } });
    expect(await paid.json()).toMatchObject({ status: 'paid' });
    await fetch(`http://127.0.0.1:${port}/pay/${orderId}/status`);
    await new Promise((r) => setTimeout(r, 500));
    after = out.slice(shown);
    expect(after).not.toMatch(/incoming request|request completed|"msg":"request"|Server listening/);
    const lines = after.trim().split('\n');
    expect(lines, after).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, msg: 'payment event handled', provider: 'dev' });
    // Part 8: `gatekeeper doctor` passes on exactly this setup (PUBLIC_URL http://localhost is a warning).
    const doctor = await cli(['doctor', '--json'], { DATA_DIR: join(dir, 'data'), PORT: String(port) });
    expect(doctor.code, doctor.out).toBe(0);
    expect((JSON.parse(doctor.out) as Array<{ status: string; name: string }>).filter((c) => c.status !== 'ok').map((c) => c.name)).toEqual(['PUBLIC_URL']);
    child.kill('SIGTERM');
    await exited;
    // Shutting down is one handled event: one line, at info.
    expect(out.slice(shown).trim().split('\n')).toHaveLength(2);
    expect(out.slice(shown).trim().split('\n')[1]).toContain('"msg":"shutting down"');
  }, 40_000);

  it('a port in use: one line naming PORT', async () => {
    const { server, port } = await listening();
    try {
      const r = await startFails({ ...process.env, DATA_DIR: dir, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: '' });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `gatekeeper: configuration error: PORT ${port} is already in use on 127.0.0.1; stop whatever listens there or set PORT to a free port\n`,
      );
    } finally {
      server.close();
    }
  }, 40_000);

  it('a HOST that is no address here: one line naming HOST', async () => {
    const r = await startFails({ ...process.env, DATA_DIR: dir, PORT: String(await freePort()), HOST: 'not-a-host', DATABASE_URL: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^gatekeeper: configuration error: HOST "not-a-host" is not (a name this machine can resolve|an address of this machine); set HOST to /,
    );
    expect(r.stderr.trim()).not.toContain('\n');
  }, 40_000);

  it('DATABASE_URL into a directory that does not exist: refused in one line, no directory tree made', async () => {
    const missing = join(dir, 'nonexistent', 'dir');
    const r = await startFails({ ...process.env, DATA_DIR: join(dir, 'data'), PORT: String(await freePort()), DATABASE_URL: `sqlite:${missing}/x.db` });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `gatekeeper: configuration error: DATABASE_URL points into ${missing}, which does not exist (nor does its parent); create the directory or fix DATABASE_URL\n`,
    );
    expect(existsSync(join(dir, 'nonexistent'))).toBe(false);
  }, 40_000);

  it('listenError names the setting for each address error, and leaves other errors alone', () => {
    const c = { host: '10.9.9.9', port: 80 };
    const e = (code: string) => listenError(Object.assign(new Error(code), { code }), c)?.message;
    expect(e('EADDRINUSE')).toMatch(/^PORT 80 is already in use on 10\.9\.9\.9/);
    expect(e('EACCES')).toMatch(/^PORT 80 needs privileges/);
    expect(e('ENOTFOUND')).toMatch(/^HOST "10\.9\.9\.9" is not a name/);
    expect(e('EADDRNOTAVAIL')).toMatch(/^HOST "10\.9\.9\.9" is not an address of this machine/);
    expect(e('ECONNRESET')).toBeUndefined();
    expect(listenError(new Error('other'), c)).toBeNull();
  });
});
