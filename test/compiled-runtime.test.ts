// Issue 14 part 6: the service runs compiled. `npm start` runs dist/src/main.js, compiling dist/ first when
// it is missing or older than the sources (scripts/dist.mjs); the signals a supervisor sends to npm reach
// the service, which stops gracefully with exit code 0; the `gatekeeper` bin runs the compiled CLI.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { build, distState } from '../scripts/dist.mjs';
import { DIST_TIMEOUT, ROOT, ensureDist } from './helpers/dist.ts';
import { freePort } from './helpers/net.ts';

const exec = promisify(execFile);

describe('scripts/dist.mjs on a small project', () => {
  let root: string;
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** A project laid out like this one: .ts imports with .ts extensions, tsconfig.build.json emitting to dist/. */
  function project(x: string): void {
    root = mkdtempSync(join(tmpdir(), 'gk-dist-'));
    mkdirSync(join(root, 'src'));
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ type: 'module' }));
    const options = {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      allowImportingTsExtensions: true,
      noEmit: true,
      types: [],
    };
    writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, include: ['src'] }));
    writeFileSync(
      join(root, 'tsconfig.build.json'),
      JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: false, outDir: 'dist', rootDir: '.', rewriteRelativeImportExtensions: true } }),
    );
    writeFileSync(join(root, 'src', 'main.ts'), `import { x } from './x.ts';\nconsole.log(x);\n`);
    writeFileSync(join(root, 'src', 'x.ts'), x);
  }
  const run = async () => (await exec(process.execPath, [join(root, 'dist', 'src', 'main.js')])).stdout.trim();
  const age = (path: string, seconds: number) => utimesSync(path, new Date(Date.now() + seconds * 1000), new Date(Date.now() + seconds * 1000));

  it('builds when missing, is fresh until a source is newer, and a failed build keeps the last good one', async () => {
    project('export const x: number = 42;\n');
    expect(distState(root)).toBe('missing');
    expect(build(root)).toEqual({ ok: true });
    expect(distState(root)).toBe('fresh');
    expect(await run()).toBe('42');

    age(join(root, 'src', 'x.ts'), 60);
    expect(distState(root)).toBe('stale');
    writeFileSync(join(root, 'src', 'x.ts'), `export const x: number = 'not a number';\n`);
    const failed = build(root);
    expect(failed.ok).toBe(false);
    expect(failed.reason).toMatch(/tsc failed/);
    expect(await run()).toBe('42');
    expect(distState(root)).toBe('stale');
    expect(existsSync(join(root, 'dist.lock'))).toBe(false);

    // A tsconfig is a source of the build too; a tree with no src/ (a deployed build) is taken as it is.
    writeFileSync(join(root, 'src', 'x.ts'), 'export const x: number = 7;\n');
    expect(build(root)).toEqual({ ok: true });
    expect(await run()).toBe('7');
    age(join(root, 'tsconfig.build.json'), 60);
    expect(distState(root)).toBe('stale');
    rmSync(join(root, 'src'), { recursive: true });
    expect(distState(root)).toBe('fresh');
  }, 60_000);

  it('waits while another live process holds dist.lock, and takes over a lock whose process has gone', async () => {
    project('export const x: number = 5;\n');
    // A "builder" that lives 1.5 s and dies without releasing the lock, as Ctrl-C during a build leaves it.
    // Started through a shell that exits at once, so init reaps it: this worker is blocked inside build()
    // and could not (a zombie still answers kill(pid, 0)).
    const { stdout } = await exec('sh', ['-c', `'${process.execPath}' -e 'setTimeout(() => {}, 1500)' >/dev/null 2>&1 & echo $!`]);
    const holder = Number(stdout.trim());
    mkdirSync(join(root, 'dist.lock'));
    writeFileSync(join(root, 'dist.lock', 'pid'), String(holder));
    const t0 = Date.now();
    expect(build(root)).toEqual({ ok: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(() => process.kill(holder, 0)).toThrow();
    expect(await run()).toBe('5');
    expect(existsSync(join(root, 'dist.lock'))).toBe(false);
  }, 60_000);

  it('says so when TypeScript is not installed, and builds nothing', () => {
    project('export const x = 1;\n');
    rmSync(join(root, 'node_modules'));
    const r = build(root);
    expect(r).toMatchObject({ ok: false, noCompiler: true });
    expect(r.reason).toMatch(/TypeScript is not installed/);
    expect(existsSync(join(root, 'dist'))).toBe(false);
  });
});

describe('npm start and the bin run the compiled code', () => {
  beforeAll(ensureDist, DIST_TIMEOUT);
  let dir: string | undefined;
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child?.pid && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** `npm start` in its own process group (as a terminal or a supervisor runs it), once /healthz answers. */
  async function npmStart(): Promise<{ port: number; exited: Promise<number | null>; output: () => string }> {
    dir = mkdtempSync(join(tmpdir(), 'gk-npm-start-'));
    const port = await freePort();
    const env = { ...process.env, DATA_DIR: join(dir, 'data'), DATABASE_URL: '', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' };
    child = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    let up = false;
    while (!up && Date.now() < deadline && child.exitCode === null) {
      up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }
    expect(up, out).toBe(true);
    expect(out).toContain('Gatekeeper is running');
    return { port, exited, output: () => out };
  }
  const refused = (port: number) =>
    fetch(`http://127.0.0.1:${port}/healthz`).then(
      () => false,
      () => true,
    );

  it('SIGTERM to the process group (a terminal, systemd, docker) stops the service gracefully, exit 0', async () => {
    const s = await npmStart();
    process.kill(-child!.pid!, 'SIGTERM');
    expect(await s.exited, s.output()).toBe(0);
    expect(s.output()).toMatch(/"signal":"SIGTERM","msg":"shutting down"/);
    expect(await refused(s.port)).toBe(true);
  });

  it('SIGTERM to the npm process alone reaches the service too: it stops, nothing is left listening', async () => {
    const s = await npmStart();
    child!.kill('SIGTERM');
    expect(await s.exited, s.output()).toBe(0);
    expect(s.output()).toMatch(/"msg":"shutting down"/);
    expect(await refused(s.port)).toBe(true);
  });

  it('the bin runs dist/src/cli.js when dist/ is fresh, without loading tsx', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gk-bin-'));
    const hook = join(dir, 'deny-tsx.mjs');
    writeFileSync(
      hook,
      `export async function resolve(s, c, next) { if (/^tsx(\\/|$)/.test(s)) throw new Error('refused to load ' + s); return next(s, c); }\n`,
    );
    const register = join(dir, 'register.mjs');
    writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hook).href)});\n`);
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await exec(process.execPath, ['--import', pathToFileURL(register).href, 'bin/gatekeeper.js', '--version'], { cwd: ROOT });
    expect(r).toEqual({ stdout: `${version}\n`, stderr: '' });
  });
});
