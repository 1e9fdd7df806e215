// Store fixtures: every store test runs on a fresh migrated SQLite file and, when TEST_POSTGRES_URL is
// set (CI sets it), on PostgreSQL too, each in its own schema (dropped when the run ends).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testSchemaName } from './schema-name.ts';
import { type Dialect, migrateToLatest, openDatabase, type OpenedDatabase } from '../../src/store/database.ts';
import { createStore, type KyselyStore } from '../../src/store/kysely-store.ts';

export const PG_URL = process.env.TEST_POSTGRES_URL;

/** The dialects to run store-backed tests on: SQLite always, PostgreSQL when TEST_POSTGRES_URL is set. */
export const DIALECTS: Dialect[] = PG_URL ? ['sqlite', 'postgres'] : ['sqlite'];

export interface TestDb {
  dialect: Dialect;
  url: string;
  schema?: string;
  opened: OpenedDatabase;
  store: KyselyStore;
  /** Opens another connection (pool) to the same database/schema: a second service instance. */
  reopen(): Promise<{ opened: OpenedDatabase; store: KyselyStore }>;
  close(): Promise<void>;
}

export async function openTestDb(dialect: Dialect, opts: { poolSize?: number } = {}): Promise<TestDb> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'gk-test-'));
    const url = `sqlite:${join(dir, 'test.db')}`;
    const opened = await openDatabase(url);
    await migrateToLatest(opened);
    const extra: OpenedDatabase[] = [];
    return {
      dialect,
      url,
      opened,
      store: createStore(opened),
      async reopen() {
        const o = await openDatabase(url);
        extra.push(o);
        return { opened: o, store: createStore(o) };
      },
      async close() {
        for (const o of extra) await o.close();
        await opened.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  if (!PG_URL) throw new Error('TEST_POSTGRES_URL is not set');
  const schema = testSchemaName('t');
  const opened = await openDatabase(PG_URL, { schema, poolSize: opts.poolSize });
  await migrateToLatest(opened);
  const extra: OpenedDatabase[] = [];
  return {
    dialect,
    url: PG_URL,
    schema,
    opened,
    store: createStore(opened),
    async reopen() {
      const o = await openDatabase(PG_URL, { schema, poolSize: opts.poolSize });
      extra.push(o);
      return { opened: o, store: createStore(o) };
    },
    async close() {
      // The schema itself is dropped by test/global-setup.ts once the whole run is over.
      for (const o of extra) await o.close();
      await opened.close();
    },
  };
}
