// The compiled service in dist/: whether it is a build of the current sources, and building it.
// `npm start` (scripts/start.mjs) and the `gatekeeper` bin run dist/ and call ensureBuilt() first, so a
// fresh clone or an edited source is compiled once, by tsc (tsconfig.build.json), before anything runs.
//
// Freshness is a cheap mtime check, no hashing: dist/.build-stamp carries the time its build started;
// the build is stale when any file under src/, bots/ or migrations/, package.json or a tsconfig*.json is
// newer. A tree without src/ (a deployed image that kept only the build) is what it is: fresh.
//
// A build compiles into a scratch directory and renames it into place, so a process running the old
// dist/ never sees a half-written one, and a failed build leaves the old one as it was. A lock
// directory (dist.lock, holding the builder's pid) lets several processes starting at once (two CLI
// calls, a test run's workers) build once: the others wait for it and then use its result. A lock whose
// process has gone (killed mid-build) is taken over.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_DIRS = ['src', 'bots', 'migrations'];
const STAMP = '.build-stamp';
/** How long a process waits for another one's build, and when a lock is old enough to be a crashed build's. */
const LOCK_WAIT_MS = 5 * 60_000;
const LOCK_STALE_MS = 10 * 60_000;

/** The newest modification time (ms) of the files the build reads, or null when the sources are absent. */
export function newestSourceMtime(root = ROOT) {
  if (!existsSync(join(root, 'src'))) return null;
  let newest = 0;
  const visit = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const d of SOURCE_DIRS) if (existsSync(join(root, d))) visit(join(root, d));
  for (const f of readdirSync(root)) if (f === 'package.json' || /^tsconfig.*\.json$/.test(f)) newest = Math.max(newest, statSync(join(root, f)).mtimeMs);
  return newest;
}

/** 'fresh', 'stale' (built from older sources) or 'missing' (never built, or an interrupted build). */
export function distState(root = ROOT) {
  const stamp = join(root, 'dist', STAMP);
  if (!existsSync(stamp)) return 'missing';
  const newest = newestSourceMtime(root);
  return newest === null || newest <= statSync(stamp).mtimeMs ? 'fresh' : 'stale';
}

/** tsc's entry script, or null when TypeScript is not installed (`npm ci --omit=dev`). */
function tscPath(root) {
  try {
    return createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return null;
  }
}

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Whether the process that took a lock has gone (killed mid-build: Ctrl-C during `npm start`'s build). */
function holderGone(dir) {
  let pid;
  try {
    pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  } catch {
    return false; // just taken, the pid not written yet
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return e.code === 'ESRCH';
  }
}

/** Takes dist.lock, waiting (bounded) while another live process holds it. Returns false when it gave up. */
function lock(root) {
  const dir = join(root, 'dist.lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), String(process.pid));
      return true;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    try {
      if (holderGone(dir) || Date.now() - statSync(dir).mtimeMs > LOCK_STALE_MS) rmSync(dir, { recursive: true, force: true });
    } catch {
      // released meanwhile
    }
    if (Date.now() > deadline) return false;
    sleep(200);
  }
}

/**
 * Compiles src/, bots/ and migrations/ into dist/ (tsc -p tsconfig.build.json), replacing the old build
 * only when tsc succeeded. tsc's messages go to stderr, so a command's stdout stays its own.
 * Returns { ok: true } or { ok: false, reason } (one line).
 */
export function build(root = ROOT, { onlyIfNeeded = false } = {}) {
  const tsc = tscPath(root);
  if (!tsc) return { ok: false, noCompiler: true, reason: 'TypeScript is not installed here (npm ci --omit=dev leaves it out); run `npm ci && npm run build`' };
  if (!lock(root)) return { ok: false, reason: 'another build holds dist.lock for too long; remove it if no build is running' };
  const scratch = join(root, `dist.next-${process.pid}`);
  const old = join(root, `dist.old-${process.pid}`);
  try {
    // Whoever held the lock before us may have just built the same sources.
    if (onlyIfNeeded && distState(root) === 'fresh') return { ok: true };
    const started = new Date();
    rmSync(scratch, { recursive: true, force: true });
    const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', scratch], { cwd: root, stdio: ['ignore', 2, 2] });
    if (r.status !== 0) {
      rmSync(scratch, { recursive: true, force: true });
      return { ok: false, reason: r.error ? `tsc did not run: ${r.error.message}` : `tsc failed (exit ${r.status ?? r.signal}); see its messages above` };
    }
    // The stamp carries the time the build started: a source saved during the build makes it stale.
    const stamp = join(scratch, STAMP);
    writeFileSync(stamp, `built by tsc -p tsconfig.build.json at ${started.toISOString()}\n`);
    utimesSync(stamp, started, started);
    if (existsSync(join(root, 'dist'))) renameSync(join(root, 'dist'), old);
    renameSync(scratch, join(root, 'dist'));
    rmSync(old, { recursive: true, force: true });
    return { ok: true };
  } finally {
    rmSync(join(root, 'dist.lock'), { recursive: true, force: true });
  }
}

/**
 * Makes dist/ fresh when it is not, saying so on stderr. Returns { state, built, ok, reason }: ok means
 * dist/ now holds a build of the current sources.
 */
export function ensureBuilt(root = ROOT) {
  const state = distState(root);
  if (state === 'fresh') return { state, built: false, ok: true };
  process.stderr.write(`gatekeeper: ${state === 'missing' ? 'no build in dist/ yet' : 'the sources changed since dist/ was built'}; compiling with tsc…\n`);
  const r = build(root, { onlyIfNeeded: true });
  return { state, built: r.ok, ...r };
}
