import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testSchemaName } from './helpers/schema-name.ts';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { migrations } from '../migrations/index.ts';
import { cli, exec } from './helpers/cli.ts';
import { PG_URL } from './helpers/db.ts';
import { DIST_TIMEOUT, ensureDist } from './helpers/dist.ts';

const targets: Array<[string, () => Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }>]> = [
  [
    'sqlite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gk-cli-'));
      return { env: { DATA_DIR: dir }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
];
if (PG_URL) {
  targets.push([
    'postgres',
    async () => {
      const schema = testSchemaName('cli');
      const url = new URL(PG_URL!);
      url.searchParams.set('schema', schema);
      return {
        env: { DATABASE_URL: url.toString() },
        // Dropped with the other test schemas when the run ends (test/global-setup.ts).
        cleanup: async () => {},
      };
    },
  ]);
}

describe.each(targets)('gatekeeper CLI (%s)', (_name, setup) => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ env, cleanup } = await setup());
  });
  afterEach(async () => {
    await cleanup();
  });

  it('migrate, group add, plan add, member list with --json', async () => {
    expect(JSON.parse((await cli(['migrate', '--json'], env)).out)).toEqual({ applied: Object.keys(migrations) });
    expect((await cli(['migrate'], env)).out).toBe('database is up to date');
    const g = await cli(['group', 'add', '--platform', 'telegram', '--chat', '-1001234', '--title', 'Readers', '--json'], env);
    expect(g.code).toBe(0);
    expect(JSON.parse(g.out)).toEqual({ id: 1 });
    const p = await cli(
      ['plan', 'add', '--group', '1', '--name', 'Monthly', '--price', '9.90', '--currency', 'CNY', '--days', '30', '--stars', '75', '--json'],
      env,
    );
    expect(JSON.parse(p.out)).toEqual({ id: 1 });
    const list = await cli(['member', 'list', '--group', '1', '--json'], env);
    expect(JSON.parse(list.out)).toEqual([]);
    const text = await cli(['plan', 'add', '--group', '1', '--name', 'Yearly', '--price', '99', '--currency', 'cny', '--days', '365', '--stars', '750'], env);
    expect(text.out).toBe('plan 2 added: "Yearly" 99.00 CNY or 750 Stars for 365 days, groups 1');
    // Telegram requires Stars for digital goods: a Telegram plan without a Stars price (and no STARS_PER_UNIT) is refused.
    const noStars = await cli(['plan', 'add', '--group', '1', '--name', 'Weekly', '--price', '3', '--currency', 'CNY', '--days', '7'], env);
    expect(noStars).toEqual({
      code: 1,
      out: '',
      err: 'a plan for a Telegram group needs a price in Telegram Stars: give one (--stars <n>, stars=<n>) or set STARS_PER_UNIT for CNY',
    });
    for (const bad of ['0', '1.5', 'ten', '100001'])
      expect(
        (await cli(['plan', 'add', '--group', '1', '--name', 'Weekly', '--price', '3', '--currency', 'CNY', '--days', '7', '--stars', bad], env)).code,
      ).toBe(1);
    expect(JSON.parse((await cli(['plan', 'list', '--json'], env)).out).map((x: { starsPrice: number | null }) => x.starsPrice)).toEqual([75, 750]);
    // --recurring: only for a length some rail renews (7, 30, 365 days); anything else is refused with a clear line.
    const quarter = await cli(
      ['plan', 'add', '--group', '1', '--name', 'Quarter', '--price', '25', '--currency', 'CNY', '--days', '90', '--stars', '190', '--recurring'],
      env,
    );
    expect(quarter).toEqual({
      code: 1,
      out: '',
      err: 'a recurring plan must last 7, 30, 365 days (no payment rail renews 90-day plans; Telegram Stars renews only 30)',
    });
    const renewing = await cli(
      ['plan', 'add', '--group', '1', '--name', 'Renewing', '--price', '9.90', '--currency', 'CNY', '--days', '30', '--stars', '75', '--recurring'],
      env,
    );
    expect(renewing.out).toBe('plan 3 added: "Renewing" 9.90 CNY or 75 Stars for 30 days, renewing, groups 1');
    expect(JSON.parse((await cli(['plan', 'list', '--json'], env)).out).map((x: { recurring: boolean }) => x.recurring)).toEqual([false, false, true]);
  });

  it('plan add refuses a name already on sale in the group unless --force', async () => {
    await cli(['group', 'add', '--platform', 'telegram', '--chat', '-1001', '--title', 'A'], env);
    await cli(['group', 'add', '--platform', 'telegram', '--chat', '-1002', '--title', 'B'], env);
    const add = (...extra: string[]) => cli(['plan', 'add', '--price', '9.90', '--currency', 'CNY', '--days', '30', '--stars', '75', ...extra], env);
    expect((await add('--group', '1', '--name', 'Monthly')).code).toBe(0);
    const again = await add('--group', '2', '--group', '1', '--name', ' monthly ');
    expect(again).toEqual({
      code: 1,
      out: '',
      err: 'group 1 already has a plan on sale named "Monthly" (plan 1); choose another name or disable that plan, or add it anyway with --force',
    });
    expect(JSON.parse((await cli(['plan', 'list', '--json'], env)).out)).toHaveLength(1);
    // Another group may use the name; --force adds it anyway; a disabled plan's name is free again.
    expect((await add('--group', '2', '--name', 'Monthly')).code).toBe(0);
    expect((await add('--group', '1', '--name', 'Monthly', '--force')).out).toMatch(/^plan 3 added: "Monthly"/);
    await cli(['plan', 'disable', '1'], env);
    await cli(['plan', 'disable', '3'], env);
    expect((await add('--group', '1', '--name', 'Monthly')).out).toMatch(/^plan 4 added/);
  });

  it('bad input: one line, non-zero exit, nothing written', async () => {
    await cli(['group', 'add', '--platform', 'wechat', '--chat', 'room@chatroom', '--title', 'W'], env);
    const cases: Array<[string[], number, RegExp]> = [
      [['group', 'add', '--platform', 'wechat', '--title', 'x'], 2, /^missing --chat$/],
      [['group', 'add', '--platform', 'msn', '--chat', 'c', '--title', 't'], 1, /unknown platform "msn"/],
      [['group', 'add', '--platform', 'wechat', '--chat', 'room@chatroom', '--title', 'again'], 1, /already registered/],
      [['plan', 'add', '--group', '1', '--name', 'P', '--price', '-1', '--currency', 'CNY', '--days', '30'], 1, /negative/],
      [['plan', 'add', '--group', '1', '--name', 'P', '--price', 'ten', '--currency', 'CNY', '--days', '30'], 1, /decimal number/],
      [['plan', 'add', '--group', '1', '--name', 'P', '--price', '9.999', '--currency', 'CNY', '--days', '30'], 1, /decimal place/],
      [['plan', 'add', '--group', '1', '--name', 'P', '--price', '9', '--currency', 'CNY', '--days', '0'], 1, /--days must be a positive whole number/],
      [['plan', 'add', '--group', '77', '--name', 'P', '--price', '9', '--currency', 'CNY', '--days', '30'], 1, /no group with id 77/],
      [['plan', 'add', '--name', 'P', '--price', '9', '--currency', 'CNY', '--days', '30'], 2, /missing --group/],
      [['plan', 'add', '--group', '1', '--price', '9', '--currency', 'CNY', '--days', '30', '--colour', 'red'], 2, /Unknown option '--colour'/],
      [['member', 'list', '--status', 'gone'], 1, /unknown status "gone"/],
      [['member', 'delete'], 2, /unknown command "member delete"/],
      [['frobnicate'], 2, /unknown command "frobnicate"/],
    ];
    for (const [args, code, line] of cases) {
      const r = await cli(args, env);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.err, args.join(' ')).toMatch(line);
      expect(r.err).not.toContain('\n');
    }
    expect(JSON.parse((await cli(['member', 'list', '--json'], env)).out)).toEqual([]);
    const plans = await cli(['plan', 'add', '--group', '1', '--name', 'Only', '--price', '1', '--currency', 'CNY', '--days', '1', '--json'], env);
    expect(JSON.parse(plans.out)).toEqual({ id: 1 });
  });

  it('--help on every command', async () => {
    for (const args of [
      ['--help'],
      ['migrate', '--help'],
      ['group', 'add', '--help'],
      ['plan', 'add', '--help'],
      ['member', 'list', '--help'],
      ['doctor', '--help'],
    ]) {
      const r = await cli(args, env);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^Usage: gatekeeper/);
    }
  });
});

describe('gatekeeper CLI and a DATABASE_URL into a missing directory', () => {
  it('refuses in one line naming DATABASE_URL and creates no directory tree', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-cli-nodir-'));
    try {
      const r = await cli(['migrate'], { DATABASE_URL: `sqlite:${join(dir, 'nonexistent', 'dir', 'x.db')}` });
      expect(r).toEqual({
        code: 1,
        out: '',
        err: `DATABASE_URL points into ${join(dir, 'nonexistent', 'dir')}, which does not exist (nor does its parent); create the directory or fix DATABASE_URL`,
      });
      expect(existsSync(join(dir, 'nonexistent'))).toBe(false);
      // Its own directory alone is made, as data/ is on a first start.
      expect((await cli(['migrate'], { DATABASE_URL: `sqlite:${join(dir, 'own', 'x.db')}` })).code).toBe(0);
      expect(existsSync(join(dir, 'own', 'x.db'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gatekeeper bin', () => {
  // The bin runs the compiled CLI, compiling dist/ first when it is stale: built here, outside the test's time limit.
  beforeAll(ensureDist, DIST_TIMEOUT);
  it('runs as a process: JSON on stdout, one line on stderr and exit 2 for a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-bin-'));
    try {
      const env = { ...process.env, DATA_DIR: dir, DATABASE_URL: '' };
      const ok = await exec('node', ['bin/gatekeeper.js', 'group', 'add', '--platform', 'playground', '--chat', 'demo', '--title', 'Demo', '--json'], { env });
      expect(JSON.parse(ok.stdout)).toEqual({ id: 1 });
      const bad = await exec('node', ['bin/gatekeeper.js', 'plan', 'add', '--group', '1'], { env }).catch(
        (e: { code: number; stderr: string; stdout: string }) => e,
      );
      expect((bad as { code: number }).code).toBe(2);
      expect((bad as { stderr: string }).stderr).toBe('gatekeeper: missing --name\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
