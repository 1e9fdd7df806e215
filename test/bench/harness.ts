// Shared pieces of the benchmark: a spawned service process, a bounded loopback load generator,
// percentiles, RSS readings and result rows. Everything listens on 127.0.0.1 only.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT, ensureBuilt } from '../../scripts/dist.mjs';

export interface Result {
  name: string;
  value: number;
  unit: string;
  goal: string;
  met: boolean | null;
  dialect: string;
}

import { freePort } from '../helpers/net.ts';

export { freePort };

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface LoadResult {
  count: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  failures: number;
  statuses: Record<number, number>;
}

/** Sends `requests` with at most `concurrency` in flight; bounded by count and by `maxSeconds`. */
export async function runLoad(requests: Array<() => Promise<number>>, concurrency: number, maxSeconds = 240): Promise<LoadResult> {
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let next = 0;
  let failures = 0;
  const deadline = performance.now() + maxSeconds * 1000;
  const start = performance.now();
  const lane = async () => {
    while (next < requests.length && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      try {
        const status = await requests[i]!();
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status >= 300) failures++;
      } catch {
        failures++;
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    count: latencies.length,
    seconds,
    perSecond: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    failures,
    statuses,
  };
}

export function rssOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

export interface SpawnedService {
  url: string;
  pid: number;
  /** Milliseconds from spawning the process to the first 200 from /healthz. */
  coldStartMs: number;
  stop(): Promise<void>;
}

let compiled: string | undefined;
/** The compiled service (dist/src/main.js), built first when dist/ is missing or stale, as `npm start` does. */
function compiledMain(): string {
  if (compiled) return compiled;
  const r = ensureBuilt();
  if (!r.ok) throw new Error(`cannot build dist/: ${r.reason}`);
  return (compiled = join(ROOT, 'dist', 'src', 'main.js'));
}

/** Starts the compiled service as its own process (what `npm start` runs) and waits for /healthz. */
export async function spawnService(env: Record<string, string>): Promise<SpawnedService> {
  const port = await freePort();
  const main = compiledMain();
  // BENCH_CPU_PROF=<dir>: the service writes a V8 CPU profile there when it stops (where the time goes).
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const spawnedAt = performance.now();
  const child: ChildProcess = spawn(process.execPath, [...prof, main], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      PLAYGROUND: 'off',
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      SWEEP_CRON: '0 0 1 1 *',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  // Polled every 10 ms, so the cold start is measured to about that.
  let coldStartMs = NaN;
  const deadline = spawnedAt + 20_000;
  while (Number.isNaN(coldStartMs)) {
    if (child.exitCode !== null) throw new Error(`service exited: ${stderr.slice(0, 500)}`);
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) coldStartMs = performance.now() - spawnedAt;
    else if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('service did not come up in 20 s');
    } else await new Promise((r) => setTimeout(r, 10));
  }
  return {
    url,
    pid: child.pid!,
    coldStartMs,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

export const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

/** Remarks the parts add for the reader (printed under the table and kept in bench-results.json). */
export const benchNotes: string[] = [];
