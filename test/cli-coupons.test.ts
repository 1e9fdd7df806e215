// `gatekeeper coupon add | list | disable | batch` and `plan add --trial-days` (issue 16), run in-process against
// SQLite and, when TEST_POSTGRES_URL is set, PostgreSQL. Every bad flag exits 1 with one line and writes nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.ts';
import { PG_URL } from './helpers/db.ts';
import { testSchemaName } from './helpers/schema-name.ts';

type Target = { env: Record<string, string>; cleanup: () => void };
const targets: Array<[string, () => Target]> = [
  [
    'sqlite',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'gk-cli-coupons-'));
      return { env: { DATA_DIR: dir }, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
];
if (PG_URL) {
  targets.push([
    'postgres',
    () => {
      const url = new URL(PG_URL!);
      url.searchParams.set('schema', testSchemaName('cpn'));
      // Dropped with the run's other test schemas (test/global-setup.ts).
      return { env: { DATABASE_URL: url.toString() }, cleanup: () => {} };
    },
  ]);
}

describe.each(targets)('gatekeeper coupon (%s)', (_dialect, setup) => {
  let env: Record<string, string>;
  let cleanup: () => void;
  beforeEach(async () => {
    ({ env, cleanup } = setup());
    expect((await cli(['migrate'], env)).err).toBe('');
  });
  afterEach(() => cleanup());

  const json = async (args: string[]) => {
    const r = await cli([...args, '--json'], env);
    expect(r.err, args.join(' ')).toBe('');
    return JSON.parse(r.out);
  };
  /** Bad input exits 1 (a usage error, such as a missing flag, 2) with one line and nothing on stdout. */
  const fails = async (args: string[], line: RegExp, code = 1) => {
    const r = await cli(args, env);
    expect(r.code, args.join(' ')).toBe(code);
    expect(r.err, args.join(' ')).toMatch(line);
    expect(r.out).toBe('');
  };

  it('plan add --trial-days; coupon add, list, disable; batch --csv; bad flags change nothing', async () => {
    await json(['group', 'add', '--platform', 'playground', '--chat', 'club', '--title', 'Club']);
    const plan = await json(['plan', 'add', '--group', '1', '--name', 'Monthly', '--price', '9.90', '--currency', 'CNY', '--days', '30', '--trial-days', '3']);
    const shown = await cli(['plan', 'add', '--group', '1', '--name', 'Weekly', '--price', '3', '--currency', 'CNY', '--days', '7', '--trial-days', '2'], env);
    expect(shown.out).toBe('plan 2 added: "Weekly" 3.00 CNY for 7 days, 2 days free trial, groups 1');
    expect((await json(['plan', 'list']))[0]).toMatchObject({ id: plan.id, trialDays: 3 });
    await fails(
      ['plan', 'add', '--group', '1', '--name', 'X', '--price', '1', '--currency', 'CNY', '--days', '7', '--trial-days', '91'],
      /^--trial-days must be a whole number from 0 to 90 \(got "91"\)$/,
    );

    const c = await json([
      'coupon',
      'add',
      '--code',
      'spring',
      '--percent',
      '20',
      '--plan',
      String(plan.id),
      '--max-uses',
      '10',
      '--per-person',
      '1',
      '--valid-until',
      '2099-01-01',
    ]);
    expect(c).toMatchObject({
      id: 1,
      code: 'SPRING',
      percent: 20,
      planIds: [plan.id],
      maxUses: 10,
      perPerson: 1,
      uses: 0,
      active: true,
      validUntil: '2099-01-01T00:00:00.000Z',
    });
    const amount = await cli(['coupon', 'add', '--code', 'FIVE', '--amount', '5', '--currency', 'cny', '--plan', String(plan.id)], env);
    expect(amount.out).toBe(`coupon 2 added: FIVE\t5.00 CNY off\t0 used\tactive\tplans ${plan.id}\tno time limit\towner`);

    await fails(['coupon', 'add', '--code', 'ZERO', '--percent', '0'], /^--percent must be a whole number from 1 to 100 \(got 0\)$/);
    await fails(['coupon', 'add', '--code', 'MORE', '--percent', '101'], /^--percent must be a whole number from 1 to 100 \(got 101\)$/);
    await fails(
      ['coupon', 'add', '--code', 'BIG', '--amount', '9.91', '--currency', 'CNY', '--plan', '1'],
      /^--amount 9.91 CNY is more than plan 1's price 9.90 CNY$/,
    );
    await fails(['coupon', 'add', '--code', 'SPRING', '--percent', '5'], /^coupon code SPRING exists already$/);
    await fails(['coupon', 'add', '--percent', '5'], /^missing --code$/, 2);
    await fails(['coupon', 'add', '--code', 'a b', '--percent', '5'], /^a coupon code is 3–32 letters, digits, "-" or "_"/);
    await fails(['coupon', 'add', '--code', 'WHEN', '--percent', '5', '--valid-from', 'next week'], /^--valid-from must be an ISO 8601 date/);
    expect((await json(['coupon', 'list'])).map((x: { code: string }) => x.code)).toEqual(['FIVE', 'SPRING']);

    expect(await json(['coupon', 'disable', 'spring'])).toEqual({ id: 1, code: 'SPRING', active: false });
    await fails(['coupon', 'disable', 'spring'], /^coupon SPRING is disabled already$/);
    await fails(['coupon', 'disable', 'NOPE'], /^no coupon NOPE$/);

    const batch = await cli(['coupon', 'batch', '--prefix', 'VIP', '--count', '200', '--percent', '100', '--plan', '1', '--csv'], env);
    const lines = batch.out.split('\n');
    expect(lines[0]).toBe('code');
    expect(lines.length).toBe(201);
    expect(lines.slice(1).every((l) => /^"VIP-[A-Z2-9]{10}"$/.test(l))).toBe(true);
    expect(new Set(lines).size).toBe(201);
    const listed = await json(['coupon', 'list']);
    expect(listed.length).toBe(202);
    expect(listed.filter((x: { source: string; maxUses: number }) => x.source === 'batch' && x.maxUses === 1).length).toBe(200);
    await fails(
      ['coupon', 'batch', '--prefix', 'VIP', '--count', '1001', '--percent', '100'],
      /^--count must be a whole number from 1 to 1000 \(got "1001"\)$/,
    );
    await fails(['coupon', 'batch', '--prefix', 'V-I-P', '--count', '2', '--percent', '100'], /^--prefix must be 1–16 letters or digits/);
    expect((await json(['coupon', 'list'])).length).toBe(202);
  });
});
