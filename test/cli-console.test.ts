// `gatekeeper owner login-link` and `gatekeeper owner logout --all` (issue 15), in-process against SQLite:
// the link's token is stored only as its SHA-256, and bad flags get one line and change nothing.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/store/database.ts';
import { cli } from './helpers/cli.ts';

describe('gatekeeper owner login-link / logout', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gk-cli-console-'));
    env = { DATA_DIR: dir, PUBLIC_URL: 'https://gk.example.com' };
    expect((await cli(['migrate'], env)).code).toBe(0);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const rows = async () => {
    const opened = await openDatabase(`sqlite:${join(dir, 'gatekeeper.db')}`);
    try {
      return await opened.db.selectFrom('console_login_links').selectAll().execute();
    } finally {
      await opened.close();
    }
  };

  it('--json prints {"url", "expiresAt"}: an operator link under PUBLIC_URL/console, valid 10 minutes, stored hashed', async () => {
    const r = await cli(['owner', 'login-link', '--json'], env);
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out) as { url: string; expiresAt: string };
    expect(out.url).toMatch(/^https:\/\/gk\.example\.com\/console\/login\?token=[A-Za-z0-9_-]{43}$/);
    const token = new URL(out.url).searchParams.get('token')!;
    const [row] = await rows();
    expect(row).toMatchObject({ token_hash: createHash('sha256').update(token).digest('hex'), account_id: null, used_at: null });
    expect(Number(row!.expires_at) - Number(row!.created_at)).toBe(10 * 60_000);
    expect(Date.parse(out.expiresAt)).toBe(Number(row!.expires_at));
    const text = await cli(['owner', 'login-link'], env);
    expect(text.out).toMatch(
      /^https:\/\/gk\.example\.com\/console\/login\?token=\S+\nOpen this link within 10 minutes .* an operator session over every group\.$/,
    );
  });

  it('bad input: --owner of no account, --owner that is not a number, logout without --all: one line, nothing written', async () => {
    for (const [args, line] of [
      [['owner', 'login-link', '--owner', '999'], /^no account with id 999$/],
      [['owner', 'login-link', '--owner', 'bob'], /--owner must be a positive whole number/],
      [['owner', 'logout'], /owner logout needs --all/],
    ] as const) {
      const r = await cli([...args], env);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.err).toMatch(line);
      expect(r.out).toBe('');
    }
    expect(await rows()).toEqual([]);
  });

  it('logout --all ends every session and says how many', async () => {
    const r = await cli(['owner', 'logout', '--all', '--json'], env);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ ended: 0 });
    expect((await cli(['owner', 'logout', '--all'], env)).out).toBe('0 console sessions ended');
  });
});
