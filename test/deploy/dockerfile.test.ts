// Issue 20 part 8: the image recipe cannot rot where no container engine runs. This reads
// deploy/Dockerfile, runs its own install and build steps (`npm ci`, `npm run build`, `npm prune --omit=dev`)
// in a clean copy of the repository (the files git knows, as the build context has them), starts its CMD
// (the compiled service, issue 14 part 6) with its ENV, and waits until its
// HEALTHCHECK command passes against /healthz. Every RUN line must be one this test knows how to run or
// why it may skip; a new step fails here until the test learns it.
//
// One substitution keeps it fast: `npm rebuild better-sqlite3` (compiling SQLite, minutes on two cores)
// copies the native module this checkout already built for the same better-sqlite3 version and Node.
// The npm registry is reachable (CI allows it); --prefer-offline uses the local cache first.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/net.ts';

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const DOCKERFILE = join(ROOT, 'deploy', 'Dockerfile');

interface Stage {
  from: string;
  name: string | null;
  run: string[];
  env: Record<string, string>;
  cmd: string[] | null;
  healthcheck: string[] | null;
  user: string | null;
  volumes: string[];
}

/** The Dockerfile's stages: FROM, RUN, ENV, USER, VOLUME, CMD and HEALTHCHECK CMD (continuation lines joined). */
export function parseDockerfile(text: string): Stage[] {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, word = '', rest = ''] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    const instr = word.toUpperCase();
    if (instr === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!;
      stages.push({ from: m[1]!, name: m[2] ?? null, run: [], env: {}, cmd: null, healthcheck: null, user: null, volumes: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) throw new Error(`${instr} before FROM`);
    if (instr === 'RUN') stage.run.push(rest.replace(/\s+/g, ' '));
    else if (instr === 'ENV') for (const m of rest.matchAll(/(\w+)=(\S+)/g)) stage.env[m[1]!] = m[2]!;
    else if (instr === 'CMD') stage.cmd = JSON.parse(rest) as string[];
    else if (instr === 'USER') stage.user = rest;
    else if (instr === 'VOLUME') stage.volumes = JSON.parse(rest) as string[];
    else if (instr === 'HEALTHCHECK') stage.healthcheck = JSON.parse(rest.replace(/^.*?\bCMD\s+/, '')) as string[];
  }
  return stages;
}

const stages = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
const runtime = stages[stages.length - 1]!;

describe('deploy/Dockerfile', () => {
  it('is multi-stage on node:20-bookworm-slim, runs as a non-root user with DATA_DIR a volume and a HEALTHCHECK on /healthz', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.from).toBe('node:20-bookworm-slim');
    expect(runtime.user).toBeTruthy();
    expect(runtime.user).not.toMatch(/^(root|0)$/);
    expect(runtime.volumes).toEqual([runtime.env.DATA_DIR]);
    expect(runtime.healthcheck!.join(' ')).toContain('/healthz');
    expect(runtime.cmd).toBeTruthy();
    // One install, a build, then production dependencies only; the image runs the compiled JavaScript.
    const run = stages.flatMap((s) => s.run);
    expect(run.filter((r) => r.startsWith('npm ci'))).toHaveLength(1);
    const at = (re: RegExp) => run.findIndex((r) => re.test(r));
    expect(at(/^npm ci\b/)).toBeLessThan(at(/^npm run build$/));
    expect(at(/^npm run build$/)).toBeLessThan(at(/^npm prune --omit=dev\b/));
    expect(runtime.cmd).toEqual(['node', 'dist/src/main.js']);
  });

  let dir: string | undefined;
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('its own install and start steps, in a clean copy of the repository, reach /healthz', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gk-image-'));
    const app = join(dir, 'app');
    // The build context: what git has (tracked, and new files not ignored), nothing installed.
    const files = (await exec('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, maxBuffer: 64 << 20 })).stdout
      .split('\0')
      .filter(Boolean);
    for (const f of files) {
      if (!existsSync(join(ROOT, f))) continue; // deleted in the working tree
      mkdirSync(dirname(join(app, f)), { recursive: true });
      cpSync(join(ROOT, f), join(app, f));
    }
    expect(existsSync(join(app, 'node_modules'))).toBe(false);

    // Every RUN line of every stage: run it, substitute it, or say why it does not apply here.
    for (const step of stages.flatMap((s) => s.run)) {
      if (/^apt-get /.test(step)) continue; // the compiler for better-sqlite3; this machine has its own toolchain
      if (/^mkdir -p \/data && chown node:node \/data && chmod 700 \/data$/.test(step)) continue; // DATA_DIR below is made by the service itself
      if (step === 'npm rebuild better-sqlite3') {
        const built = join(ROOT, 'node_modules', 'better-sqlite3');
        const version = (p: string) => (JSON.parse(readFileSync(join(p, 'package.json'), 'utf8')) as { version: string }).version;
        const target = join(app, 'node_modules', 'better-sqlite3');
        expect(version(target)).toBe(version(built));
        cpSync(join(built, 'build'), join(target, 'build'), { recursive: true });
        continue;
      }
      if (/^npm (ci|prune)\b/.test(step)) {
        const args = step.split(' ').slice(1);
        await exec('npm', [...args, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, timeout: 240_000, maxBuffer: 64 << 20 });
        continue;
      }
      if (step === 'npm run build') {
        await exec('npm', ['run', 'build'], { cwd: app, timeout: 240_000, maxBuffer: 64 << 20 });
        continue;
      }
      throw new Error(`deploy/Dockerfile has a RUN step this test does not know: ${step}`);
    }
    // The compiled service is there; the tools of development (the compiler and tsx included) are not.
    expect(existsSync(join(app, 'dist', 'src', 'main.js'))).toBe(true);
    for (const dev of ['vitest', 'typescript', 'tsx']) expect(existsSync(join(app, 'node_modules', dev)), dev).toBe(false);

    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      ...runtime.env,
      // Here, not in a container: loopback only, a free port, DATA_DIR in the temporary directory.
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: join(dir, 'data'),
    };
    const [cmd, ...args] = runtime.cmd!;
    child = spawn(cmd === 'node' ? process.execPath : cmd!, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

    // The image's own HEALTHCHECK command, until it passes.
    const [hcCmd, ...hcArgs] = runtime.healthcheck!;
    let healthy = false;
    const deadline = Date.now() + 60_000;
    while (!healthy && Date.now() < deadline && child.exitCode === null) {
      healthy = await exec(hcCmd === 'node' ? process.execPath : hcCmd!, hcArgs, { env, timeout: 10_000 }).then(
        () => true,
        () => false,
      );
      if (!healthy) await new Promise((r) => setTimeout(r, 250));
    }
    expect(healthy, out).toBe(true);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });

    child.kill('SIGTERM');
    expect(await exited, out).toBe(0);
  }, 300_000);

  it('the systemd unit passes systemd-analyze verify', async (ctx) => {
    const which = await exec('which', ['systemd-analyze']).catch(() => null);
    if (!which) return ctx.skip('systemd-analyze is not installed here');
    const r = await exec('systemd-analyze', ['verify', join(ROOT, 'deploy', 'gatekeeper.service')]).catch((e: { stderr: string; code: number }) => e);
    expect((r as { stderr: string }).stderr).toBe('');
  });
});
