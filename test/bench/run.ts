// `npm run bench [-- --quick]`: measures what matters to a paid group on launch day and prints each
// figure next to its goal; writes bench-results.json. Never fails for being slow (exit 0 unless the
// benchmark itself breaks). Bounded: the full run stays under 10 minutes on 2 cores, --quick under 2.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem, type as osType, release } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Result, fmt } from './harness.ts';
import { type Target, baseline, expirySweep, idleMemory, webhookThroughput } from './parts.ts';

const quick = process.argv.includes('--quick');
const PG_URL = process.env.TEST_POSTGRES_URL;
const size = quick
  ? { webhooks: 2000, sweep: [20_000, 100_000], due: 2000, memory: 100_000 }
  : { webhooks: 20_000, sweep: [100_000, 1_000_000], due: 10_000, memory: 1_000_000 };
const CONCURRENCY = 64;

function sqliteTarget(): Target {
  const dir = mkdtempSync(join(tmpdir(), 'gk-bench-'));
  return { dialect: 'sqlite', fresh: (tag) => `sqlite:${join(dir, `${tag}.db`)}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

function postgresTarget(url: string): Target {
  const run = randomBytes(3).toString('hex');
  const schemas: string[] = [];
  return {
    dialect: 'postgres',
    fresh: (tag) => {
      const schema = `bench_${run}_${tag}`;
      schemas.push(schema);
      const u = new URL(url);
      u.searchParams.set('schema', schema);
      return u.toString();
    },
    cleanup: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      await c.end();
    },
  };
}

async function main() {
  const started = Date.now();
  const results: Result[] = [];
  const missing = [
    'part 2 (pay-to-invite latency) and part 4 (outbound delivery under Telegram limits) need the Telegram adapter and its emulator',
    'part 1 WeChat Pay row needs the WeChat Pay provider',
  ];
  process.stderr.write(`gatekeeper bench${quick ? ' (quick)' : ''}: ${cpus().length} cores, ${fmt(totalmem() / 2 ** 30, 1)} GiB\n`);
  process.stderr.write('baseline: bare Fastify route, one SQLite insert per request\n');
  const base = await baseline(size.webhooks, CONCURRENCY);
  results.push({ name: 'baseline: bare route + 1 SQLite insert', value: Math.round(base.perSecond), unit: '1/s', goal: 'reference', met: null, dialect: 'sqlite' });

  const targets: Target[] = [sqliteTarget()];
  if (PG_URL) targets.push(postgresTarget(PG_URL));
  for (const target of targets) {
    try {
      process.stderr.write(`part 1: webhook confirm throughput (${target.dialect})\n`);
      results.push(...(await webhookThroughput(target, size.webhooks, CONCURRENCY, base)));
      process.stderr.write(`part 3: expiry sweep scaling (${target.dialect})\n`);
      results.push(...(await expirySweep(target, size.sweep, size.due)));
      process.stderr.write(`part 5: idle memory (${target.dialect})\n`);
      results.push(...(await idleMemory(target, size.memory)));
    } finally {
      await target.cleanup();
    }
  }

  const widths = [54, 10, 6, 12, 6, 9];
  const row = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' ');
  const lines = [row(['measure', 'value', 'unit', 'goal', 'met', 'dialect']), row(widths.map((w) => '-'.repeat(w)))];
  for (const r of results) lines.push(row([r.name, String(r.value), r.unit, r.goal, r.met === null ? '-' : r.met ? 'yes' : 'NO', r.dialect]));
  process.stdout.write(`\n${lines.join('\n')}\n`);
  for (const m of missing) process.stdout.write(`not measured: ${m}\n`);
  process.stdout.write(`\nfinished in ${fmt((Date.now() - started) / 1000, 0)} s\n`);
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Number(fmt(totalmem() / 2 ** 30, 1)), node: process.version, os: `${osType()} ${release()}`, quick };
  writeFileSync('bench-results.json', `${JSON.stringify({ machine, results, notMeasured: missing }, null, 2)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
