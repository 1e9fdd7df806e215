// Issue 13 part 10: a command that only reads never creates a database. Pointed at a place where there
// is none (a typo in DATA_DIR, a database that went missing), it says so in one line and exits non-zero
// instead of creating an empty one and answering "no members" as if nobody had paid.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DIST_TIMEOUT, ensureDist } from './helpers/dist.ts';
import { cli, exec } from './helpers/cli.ts';
import { PG_URL } from './helpers/db.ts';
import { testSchemaName } from './helpers/schema-name.ts';

const READ_ONLY: string[][] = [
  ['member', 'list'],
  ['member', 'list', '--json'],
  ['member', 'list', '--expiring-within', '3'],
  ['order', 'list'],
  ['order', 'list', '--json'],
  ['group', 'list'],
  ['plan', 'list'],
  ['export', 'members', '--format', 'csv'],
];

type Target = { env: Record<string, string>; where: string; exists: () => Promise<boolean>; cleanup: () => void };

const targets: Array<[string, () => Promise<Target>]> = [
  [
    'sqlite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gk-cli-nodb-'));
      const data = join(dir, 'data');
      return {
        env: { DATA_DIR: data },
        where: join(data, 'gatekeeper.db'),
        exists: async () => existsSync(data) && readdirSync(data).length > 0,
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  ],
];
if (PG_URL) {
  targets.push([
    'postgres',
    async () => {
      const schema = testSchemaName('nodb');
      const url = new URL(PG_URL!);
      url.searchParams.set('schema', schema);
      const shown = new URL(url);
      shown.username = '';
      shown.password = '';
      const exists = async () => {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        try {
          return (await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount === 1;
        } finally {
          await c.end();
        }
      };
      return { env: { DATABASE_URL: url.toString() }, where: shown.toString(), exists, cleanup: () => {} };
    },
  ]);
}

// The bin runs the compiled CLI (dist/), built here once when stale rather than inside a test's time limit.
beforeAll(ensureDist, DIST_TIMEOUT);

describe.each(targets)('read-only CLI commands with no database (%s)', (_dialect, setup) => {
  let t: Target;
  beforeEach(async () => {
    t = await setup();
  });
  afterEach(() => t.cleanup());

  it('refuse in one line, exit 1, and create nothing; after migrate they work', async () => {
    for (const args of READ_ONLY) {
      const r = await cli(args, t.env);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err, args.join(' ')).toBe(`no database at ${t.where}; run "gatekeeper migrate" or start the service first`);
      expect(r.out).toBe('');
    }
    expect(await t.exists()).toBe(false);

    expect((await cli(['migrate'], t.env)).code).toBe(0);
    expect(await cli(['member', 'list'], t.env)).toEqual({ code: 0, out: 'no members', err: '' });
    expect(await cli(['order', 'list', '--json'], t.env)).toEqual({ code: 0, out: '[]', err: '' });
    expect((await cli(['export', 'members', '--format', 'csv'], t.env)).out).toBe(
      'membershipId,accountId,platform,platformUserId,displayName,groupId,status,expiresAt',
    );
  });
});

describe('read-only CLI commands on SQLite, more', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gk-cli-nodb-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('an empty file is no database either, and is left as it was', async () => {
    const file = join(dir, 'gatekeeper.db');
    writeFileSync(file, '');
    const r = await cli(['member', 'list'], { DATA_DIR: dir });
    expect(r).toEqual({ code: 1, out: '', err: `no database at ${file}; run "gatekeeper migrate" or start the service first` });
    expect(readdirSync(dir)).toEqual(['gatekeeper.db']);
  });

  it('backup, which only reads too, says the same', async () => {
    const file = join(dir, 'gatekeeper.db');
    const r = await cli(['backup', join(dir, 'copy.db')], { DATA_DIR: dir });
    expect(r).toEqual({ code: 1, out: '', err: `no database at ${file}; run "gatekeeper migrate" or start the service first` });
  });

  it('as a process: the line on stderr, exit 1', async () => {
    const data = join(dir, 'nothing-here');
    const r = await exec('node', ['bin/gatekeeper.js', 'order', 'list'], { env: { ...process.env, DATA_DIR: data, DATABASE_URL: '' } }).catch(
      (e: { code: number; stderr: string; stdout: string }) => e,
    );
    expect((r as { code: number }).code).toBe(1);
    expect((r as { stderr: string }).stderr).toBe(
      `gatekeeper: no database at ${join(data, 'gatekeeper.db')}; run "gatekeeper migrate" or start the service first\n`,
    );
    expect(existsSync(data)).toBe(false);
  });
});
