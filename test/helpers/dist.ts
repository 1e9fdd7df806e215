// The compiled service in dist/, for tests that run what `npm start` and the `gatekeeper` bin run.
// Built here when stale (in a child process, so this worker's event loop keeps going; dist.lock makes
// the two test workers build once). Call it from a beforeAll with DIST_TIMEOUT: tsc takes seconds.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const ROOT = join(import.meta.dirname, '..', '..');
export const DIST_TIMEOUT = 240_000;
/** What `npm start` runs, for tests that start the service as a process. */
export const MAIN = join(ROOT, 'dist', 'src', 'main.js');

export async function ensureDist(): Promise<void> {
  const script = `const r = (await import('./scripts/dist.mjs')).ensureBuilt(); if (!r.ok) { console.error(r.reason); process.exit(1); }`;
  await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeout: DIST_TIMEOUT - 5_000, maxBuffer: 16 << 20 });
}
