// Opens the database named by DATABASE_URL: `sqlite:<path>` (or `sqlite::memory:`) through better-sqlite3,
// `postgres://…` through pg. Both return the same Kysely<Database>. pg is imported only when a PostgreSQL
// URL is opened, so a service on SQLite never loads it (issue 14 part 6: a lean runtime).
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, type KyselyConfig, PostgresDialect, SqliteDialect, type SqliteDatabase, sql } from 'kysely';
import type pg from 'pg';
import { migrations } from '../../migrations/index.ts';
import type { Database } from './schema.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface OpenedDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  /** The raw better-sqlite3 handle (SQLite only), for the online backup API. */
  sqlite?: SQLite.Database;
  /** PostgreSQL schema the tables live in, when not the default one. */
  schema?: string;
  /**
   * SQLite file databases only: whether the path still names the file this handle has open. A file
   * deleted or replaced under a running service (a restore copied over it, `rm -rf data/`) leaves the
   * handle writing into a file nobody will ever read again; the store's ping reports it.
   */
  fileState?: () => SqliteFileState;
  close(): Promise<void>;
}

export type SqliteFileState = { state: 'ok' } | { state: 'deleted' | 'replaced'; path: string };

export interface OpenOptions {
  /** PostgreSQL only: put every table in this schema (created if missing). Tests use one schema per run. */
  schema?: string;
  poolSize?: number;
  /**
   * Read-only callers (CLI list/export commands): never create a database. Fails with NoDatabaseError
   * when there is no migrated database there yet (SQLite: no file, or a file without our tables;
   * PostgreSQL: no bookkeeping table in the schema, which is then not created either).
   */
  mustExist?: boolean;
  /** Called with every statement's SQL and duration once it ran (tests count the statements a use case costs). */
  onQuery?: (sql: string, ms: number) => void;
}

/** Kysely's query log, forwarded to OpenOptions.onQuery. */
function queryLog(opts: OpenOptions): KyselyConfig['log'] {
  const onQuery = opts.onQuery;
  if (!onQuery) return undefined;
  return (event) => {
    if (event.level === 'query') onQuery(event.query.sql, event.queryDurationMillis);
  };
}

/** There is no database where DATABASE_URL points, and the caller must not create one. */
export class NoDatabaseError extends Error {
  constructor(where: string) {
    super(`no database at ${where}; run "gatekeeper migrate" or start the service first`);
    this.name = 'NoDatabaseError';
  }
}

/** Where a DATABASE_URL points, for messages: the SQLite path, or the PostgreSQL URL without credentials. */
export function databaseLocation(url: string): string {
  if (dialectOf(url) === 'sqlite') return sqlitePath(url);
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}

// pg returns BIGINT (int8) and NUMERIC (SUM of bigint) as strings by default; our values are epoch ms
// and minor units, all far inside 2^53, so read them as numbers.
let pgParsersSet = false;
function setPgTypeParsers(driver: typeof pg) {
  if (pgParsersSet) return;
  driver.types.setTypeParser(20, (v) => Number(v));
  driver.types.setTypeParser(1700, (v) => Number(v));
  pgParsersSet = true;
}

export function dialectOf(url: string): Dialect {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return 'postgres';
  throw new Error(`DATABASE_URL must start with sqlite: or postgres:// (got "${url.split(':')[0]}:…")`);
}

export function sqlitePath(url: string): string {
  const p = url.slice('sqlite:'.length);
  if (!p) throw new Error('DATABASE_URL sqlite: needs a file path, e.g. sqlite:data/gatekeeper.db');
  return p;
}

/** DATABASE_URL names a SQLite file whose directory's parent does not exist either: we create no directory tree. */
export class DatabaseLocationError extends Error {
  constructor(dir: string) {
    super(`DATABASE_URL points into ${dir}, which does not exist (nor does its parent); create the directory or fix DATABASE_URL`);
    this.name = 'DatabaseLocationError';
  }
}

/** How many prepared statements the SQLite handle keeps (the service's queries are a few hundred shapes). */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every statement afresh; compiling SQL is a good part of a cheap query's cost (a profile of
 * the webhook path showed `prepare` at ~15 % of the service's CPU). The handle kysely sees keeps the last
 * STATEMENT_CACHE_SIZE prepared statements by their SQL text, least recently used dropped first. Safe on the
 * one connection: kysely runs one statement at a time on it, and SQLite re-prepares a statement by itself
 * when the schema changed under it.
 */
export function statementCache(handle: SQLite.Database, size = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => handle.close(),
    prepare: (sql: string) => {
      let stmt = cache.get(sql);
      if (stmt) {
        cache.delete(sql); // re-inserted below: Map order is the recency order
      } else {
        stmt = handle.prepare(sql);
        if (cache.size >= size) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}

/** Makes the SQLite file's own directory (0700) if missing; refuses when its parent is missing too. */
export function makeDatabaseDir(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir) && !existsSync(dirname(dir))) throw new DatabaseLocationError(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * The database holds members' names, orders and webhook bodies: it is created 0600 (and its own directory
 * made for it 0700, such as the default data/) before SQLite opens it, and an existing file is tightened
 * to 0600. Only that one directory is ever made: a path whose parent is missing too is a typo, refused.
 */
function createPrivateFile(path: string): void {
  makeDatabaseDir(path);
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600)); // an empty file is an empty SQLite database
  chmodSync(path, 0o600);
}

export async function openDatabase(url: string, opts: OpenOptions = {}): Promise<OpenedDatabase> {
  const dialect = dialectOf(url);
  const given = url;
  if (dialect === 'sqlite') {
    const path = sqlitePath(url);
    if (opts.mustExist && (path === ':memory:' || !existsSync(path))) throw new NoDatabaseError(path);
    if (path !== ':memory:') createPrivateFile(path);
    const handle = new SQLite(path, { fileMustExist: !!opts.mustExist });
    // Checked before anything is written (the WAL pragma would turn an empty file into a database).
    if (
      opts.mustExist &&
      (handle.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'kysely_migration'`).get() as { n: number }).n === 0
    ) {
      handle.close();
      throw new NoDatabaseError(path);
    }
    handle.pragma('journal_mode = WAL');
    // SQLite gives the WAL and SHM files the database file's mode; older ones are tightened here too.
    if (path !== ':memory:') for (const f of [`${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
    handle.pragma('synchronous = NORMAL');
    handle.pragma('busy_timeout = 5000');
    handle.pragma('foreign_keys = ON');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: statementCache(handle) }), log: queryLog(opts) });
    // The identity (device, inode) of the file just opened: the path is compared with it later.
    const opened = path === ':memory:' ? null : statSync(path);
    const fileState = (): SqliteFileState => {
      if (!opened) return { state: 'ok' };
      let now;
      try {
        now = statSync(path);
      } catch {
        return { state: 'deleted', path };
      }
      return now.dev === opened.dev && now.ino === opened.ino ? { state: 'ok' } : { state: 'replaced', path };
    };
    return { db, dialect, sqlite: handle, fileState, close: () => db.destroy() };
  }
  const { default: driver } = await import('pg');
  setPgTypeParsers(driver);
  // `postgres://…?schema=name` keeps every table in that schema (several deployments or test runs
  // can share one database).
  const parsed = new URL(url);
  const schema = opts.schema ?? parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  url = parsed.toString();
  opts = { ...opts, schema };
  if (opts.schema) {
    if (!/^[a-z_][a-z0-9_]*$/.test(opts.schema)) throw new Error(`bad schema name "${opts.schema}"`);
  }
  if (opts.schema && !opts.mustExist) {
    const admin = new driver.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS ${opts.schema}`);
    } finally {
      await admin.end();
    }
  }
  const pool = new driver.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: queryLog(opts) });
  if (opts.mustExist && !(await hasMigrations(db))) {
    await db.destroy();
    throw new NoDatabaseError(databaseLocation(given));
  }
  return { db, dialect, schema: opts.schema, close: () => db.destroy() };
}

/** PostgreSQL: whether the migration bookkeeping table exists in the search path (the deployment's schema). */
async function hasMigrations(db: Kysely<Database>): Promise<boolean> {
  // Not kysely's introspection: that reads every schema, see withMigrationLock.
  const r = await sql<{ present: boolean }>`SELECT to_regclass('kysely_migration') IS NOT NULL AS present`.execute(db);
  return r.rows[0]?.present === true;
}

/**
 * Runs the frozen migrations in order, all in one transaction. A small runner of our own rather than
 * kysely's Migrator: that one reads every schema of the database through the catalog on each run, which
 * fails while another deployment or test run creates or drops a schema next door. The bookkeeping
 * table is kysely's (`kysely_migration`: name, timestamp), so databases it created carry on. On
 * PostgreSQL an advisory lock lets several instances start at once.
 */
// Migrations are typed against no schema (kysely's own examples use Kysely<any> for them).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function withMigrationLock<T>(opened: Pick<OpenedDatabase, 'db' | 'dialect'>, fn: (db: Kysely<any>, applied: Set<string>) => Promise<T>): Promise<T> {
  return opened.db.transaction().execute(async (trx) => {
    if (opened.dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(7283910451)`.execute(trx);
    await sql`CREATE TABLE IF NOT EXISTS kysely_migration (name varchar(255) NOT NULL PRIMARY KEY, timestamp varchar(255) NOT NULL)`.execute(trx);
    const rows = await sql<{ name: string }>`SELECT name FROM kysely_migration`.execute(trx);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return fn(trx as unknown as Kysely<any>, new Set(rows.rows.map((r) => r.name)));
  });
}

export async function migrateToLatest(opened: Pick<OpenedDatabase, 'db' | 'dialect'>): Promise<string[]> {
  return withMigrationLock(opened, async (db, applied) => {
    const names = Object.keys(migrations).sort();
    const unknown = [...applied].filter((n) => !Object.hasOwn(migrations, n));
    if (unknown.length > 0) throw new Error(`the database has migrations this version does not know (${unknown.join(', ')}): it was used by a newer version`);
    const done: string[] = [];
    for (const name of names) {
      if (applied.has(name)) continue;
      await migrations[name]!.up(db);
      await sql`INSERT INTO kysely_migration (name, timestamp) VALUES (${name}, ${new Date().toISOString()})`.execute(db);
      done.push(name);
    }
    return done;
  });
}

/** Undoes the last `steps` applied migrations (newest first). For tests and careful downgrades. */
export async function migrateDown(opened: Pick<OpenedDatabase, 'db' | 'dialect'>, steps = 1): Promise<string[]> {
  return withMigrationLock(opened, async (db, applied) => {
    const undone: string[] = [];
    for (const name of Object.keys(migrations).sort().reverse()) {
      if (undone.length >= steps) break;
      if (!applied.has(name)) continue;
      const down = migrations[name]!.down;
      if (!down) throw new Error(`migration ${name} cannot be undone`);
      await down(db);
      await sql`DELETE FROM kysely_migration WHERE name = ${name}`.execute(db);
      undone.push(name);
    }
    return undone;
  });
}

export async function ping(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}

/** Which migrations this version has that the database lacks, and which it has that this version does not know. Changes nothing. */
export async function migrationStatus(opened: Pick<OpenedDatabase, 'db'>): Promise<{ pending: string[]; unknown: string[] }> {
  const rows = await sql<{ name: string }>`SELECT name FROM kysely_migration`.execute(opened.db);
  const applied = new Set(rows.rows.map((r) => r.name));
  return {
    pending: Object.keys(migrations)
      .sort()
      .filter((n) => !applied.has(n)),
    unknown: [...applied].filter((n) => !Object.hasOwn(migrations, n)).sort(),
  };
}
