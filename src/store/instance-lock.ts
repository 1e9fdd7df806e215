// One service per SQLite file. Two services on one file would both run the cron sweeps and the job
// worker, both drive the same chat accounts and hand out each invite twice; on SQLite that is never
// what anyone meant (several instances are a PostgreSQL setup, DESIGN "Scale").
//
// Why an OS-level lock and not a lease row with a heartbeat: the lock belongs to the process, so the
// kernel drops it the moment the process ends, however it ends (kill -9, OOM, power loss of a
// container). A crashed service never blocks its successor, and no timing guesses are involved: a
// lease row would block a restart until its heartbeat went stale, or, with a short expiry, let a
// second service in beside a first one that only paused (a long GC, a suspended VM). A pid file with a
// liveness check fails the other way: after a reboot the old pid may belong to another process.
//
// The lock is SQLite's own: a RESERVED lock (POSIX fcntl byte-range lock) on a small side file,
// `<database>.lock`, held by an open write transaction for the life of the process. The main database
// is never locked, so the CLI keeps working next to the running service. The holder's pid, host and
// start time are committed before the lock is taken for good, and a RESERVED lock still lets others
// read, so the refused service can say who holds it.
import { chmodSync, realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { makeDatabaseDir } from './database.ts';
import SQLite from 'better-sqlite3';

export interface InstanceLock {
  readonly file: string;
  release(): void;
}

export interface InstanceHolder {
  pid: number;
  host: string;
  startedAt: number;
}

export class InstanceLockedError extends Error {
  constructor(
    readonly database: string,
    readonly holder: InstanceHolder | null,
  ) {
    const who = holder ? `pid ${holder.pid} on ${holder.host}, since ${new Date(holder.startedAt).toISOString()}` : 'pid unknown, starting right now';
    super(`another Gatekeeper service (${who}) is running on the database ${database}; stop it first (several instances need PostgreSQL)`);
    this.name = 'InstanceLockedError';
  }
}

const isBusy = (e: unknown) => /^SQLITE_(BUSY|LOCKED)/.test((e as { code?: string }).code ?? '');

/** Takes the one-service lock for this SQLite database file, or throws InstanceLockedError naming the holder. */
export function lockSqliteInstance(databasePath: string, me: InstanceHolder = { pid: process.pid, host: hostname(), startedAt: Date.now() }): InstanceLock {
  // The same file under another spelling (relative path, symlinked directory) must find the same lock.
  makeDatabaseDir(databasePath);
  const file = join(realpathSync(dirname(databasePath)), `${basename(databasePath)}.lock`);
  // No fs.open/close of the file here: closing any descriptor of a file drops every fcntl lock this
  // process holds on it. SQLite creates the file; chmod needs no descriptor.
  const h = new SQLite(file, { timeout: 0 });
  try {
    chmodSync(file, 0o600);
    h.exec('CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, host TEXT NOT NULL, started_at INTEGER NOT NULL)');
    const refused = (): never => {
      let holder: InstanceHolder | null = null;
      try {
        const row = h.prepare('SELECT pid, host, started_at AS startedAt FROM holder WHERE id = 1').get() as InstanceHolder | undefined;
        holder = row ?? null;
      } catch {
        // The holder is committing its row this very moment.
      }
      throw new InstanceLockedError(databasePath, holder);
    };
    try {
      h.exec('BEGIN IMMEDIATE');
    } catch (e) {
      if (isBusy(e)) refused();
      throw e;
    }
    // Ours. Write down who we are, commit so a refused service can read it, then hold the lock again.
    h.prepare('INSERT OR REPLACE INTO holder (id, pid, host, started_at) VALUES (1, ?, ?, ?)').run(me.pid, me.host, me.startedAt);
    h.pragma('busy_timeout = 2000'); // the commit waits for a reader of the row, briefly
    h.exec('COMMIT');
    h.pragma('busy_timeout = 0');
    try {
      h.exec('BEGIN IMMEDIATE');
    } catch (e) {
      // Another service slipped in between our commit and this line: it holds the lock now.
      if (isBusy(e)) refused();
      throw e;
    }
  } catch (e) {
    h.close();
    throw e;
  }
  let released = false;
  return {
    file,
    release() {
      if (released) return;
      released = true;
      try {
        h.exec('ROLLBACK');
      } finally {
        h.close();
      }
    },
  };
}
