// Issue 13 part 10: a database that goes away under the running service is noticed. On SQLite the
// file may be deleted or replaced (the open handle then writes into a file nobody reads again):
// /healthz answers 503, and the log says so once, not on every probe.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { sqlitePath } from '../../src/store/database.ts';
import { DIALECTS } from '../helpers/db.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

const unreachableLines = (t: TestService) => t.logger.lines.filter((l) => l.msg === 'database unreachable: /healthz answers 503');

describe('/healthz when the SQLite file goes away', () => {
  let t: TestService;
  afterEach(async () => {
    await t.close();
  });

  it('deleted: 503 on every probe, one log line', async () => {
    t = await startTestService('sqlite');
    const path = sqlitePath(t.db.url);
    expect((await t.service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    rmSync(path);
    for (let i = 0; i < 3; i++) {
      const r = await t.service.app.inject({ method: 'GET', url: '/healthz' });
      expect(r.statusCode).toBe(503);
      expect(r.json()).toMatchObject({ status: 'error', database: 'unreachable' });
    }
    const lines = unreachableLines(t);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe('error');
    expect(JSON.stringify(lines[0]!.obj)).toContain(`the database file ${path} was deleted`);
  });

  it('replaced by another file (a restore copied over it): 503, one log line', async () => {
    t = await startTestService('sqlite');
    const path = sqlitePath(t.db.url);
    writeFileSync(`${path}.new`, 'another file');
    renameSync(`${path}.new`, path);
    expect((await t.service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(503);
    expect((await t.service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(503);
    expect(unreachableLines(t)).toHaveLength(1);
    expect(JSON.stringify(unreachableLines(t)[0]!.obj)).toContain('was replaced');
  });
});

describe.each(DIALECTS)('/healthz when the database is unreachable (%s)', (dialect) => {
  it('logs once while it stays down', async () => {
    const t = await startTestService(dialect);
    try {
      expect((await t.service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      expect(unreachableLines(t)).toHaveLength(0);
      await t.service.deps.store.close();
      for (let i = 0; i < 3; i++) expect((await t.service.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(503);
      expect(unreachableLines(t)).toHaveLength(1);
    } finally {
      await t.service.stop();
      if (dialect === 'sqlite') rmSync(sqlitePath(t.db.url).replace(/\/test\.db$/, ''), { recursive: true, force: true });
    }
  });
});
