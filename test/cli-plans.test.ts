// `gatekeeper plan add` refuses a currency no enabled payment provider takes (the CLI builds no real provider,
// yet knows what each takes), and `gatekeeper plan set` changes a plan's price for new orders; run in-process
// on a fresh SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.ts';

describe('gatekeeper plan add / plan set', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gk-cli-plans-'));
    env = { DATA_DIR: dir, PAYMENT_PROVIDERS: 'stripe', STRIPE_SECRET_KEY: 'sk_test_0123456789abcdef', STRIPE_WEBHOOK_SECRET: 'whsec_0123456789abcdef' };
    expect((await cli(['migrate'], env)).code).toBe(0);
    expect((await cli(['group', 'add', '--platform', 'playground', '--chat', 'room', '--title', 'Room', '--json'], env)).out).toBe('{"id":1}');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const add = (currency: string, price = '9.90') =>
    cli(['plan', 'add', '--group', '1', '--name', `Monthly ${currency}`, '--price', price, '--currency', currency, '--days', '30', '--json'], env);

  it('bad input: a currency the enabled providers cannot take exits non-zero with one line and adds nothing', async () => {
    const r = await add('ISK', '1000');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/^no enabled payment provider takes ISK \(enabled: stripe; they take CNY, USD/);
    expect(r.out).toBe('');
    expect((await cli(['plan', 'list', '--json'], env)).out).toBe('[]');
    expect((await add('USD')).out).toBe('{"id":1}');
  });

  it('plan set changes the price for new orders; 9.999, 0 and Stars 100001 are refused and change nothing', async () => {
    expect((await add('USD')).code).toBe(0);
    for (const [args, line] of [
      [['--price', '9.999'], 'price "9.999" has more than 2 decimal places for USD'],
      [['--price', '0'], 'price must be more than zero'],
      [['--stars', '100001'], 'a Stars price must be from 1 to 100000 stars'],
      [[], 'nothing to change: give --price or --stars'],
    ] as const) {
      const r = await cli(['plan', 'set', '1', ...args], env);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.err, args.join(' ')).toContain(line);
    }
    const ok = await cli(['plan', 'set', '1', '--price', '12.50'], env);
    expect(ok.out).toBe('plan 1 "Monthly USD" now costs 12.50 USD for new orders; orders already made keep their price');
    expect(JSON.parse((await cli(['plan', 'list', '--json'], env)).out)[0]).toMatchObject({ priceMinor: 1250, currency: 'USD' });
  });
});
