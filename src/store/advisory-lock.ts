// The LeaderLock port on PostgreSQL: a session-level advisory lock (pg_try_advisory_lock) held on a
// dedicated connection of its own, never a pooled one (a pooled connection goes back to the pool and
// the lock with it). PostgreSQL releases the lock the moment that session ends, whether the instance
// stopped, crashed or lost its network, so a follower's next try takes it over.
//
// The key is derived from the deployment's schema (and what is locked), so deployments sharing one
// database in different schemas do not block each other. The session's application_name carries
// the instance id, which is how every instance can tell who holds the lock (pg_locks + pg_stat_activity).
//
// "The moment that session ends" needs PostgreSQL to notice when the holder's host dies or its network
// drops without a FIN: otherwise the server keeps the idle session, and the lock, until the kernel's TCP
// keepalive gives up (about two hours by default), and no other instance runs WeChat meanwhile. So the
// lock session sets server-side keepalives (SESSION_KEEPALIVES): a dead peer is found within about
// idle + interval × count = 25 s. They apply to TCP connections only (a Unix socket cannot lose its host).
// idle_session_timeout is not the tool: it ends sessions that sent nothing for a while, and a healthy
// holder is idle between its checks (WECHAT_LOCK_RETRY_SECONDS), so it would drop a live leader's lock
// and make WeChat change hands for nothing, while a dead host is told apart only by TCP.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { LeaderLock } from '../jobs/leader.ts';

export interface PgAdvisoryLockOptions {
  /** DATABASE_URL (a `schema` query parameter is honoured, as in openDatabase). */
  url: string;
  /** The schema the deployment's tables live in, when not given in the URL (tests). */
  schema?: string;
  /** What is locked, e.g. "wechat". */
  name: string;
  instanceId: string;
  /** Bound on every query and on connecting: a holder that cannot reach the database lets go. */
  timeoutMs?: number;
}

const APP_PREFIX = 'gatekeeper/';

/** Server-side TCP keepalives of the lock session, in seconds (see the header). */
export const SESSION_KEEPALIVES = { tcp_keepalives_idle: 10, tcp_keepalives_interval: 5, tcp_keepalives_count: 3 } as const;

/** A PgAdvisoryLock also answers what its own session's settings are (operators and tests check the keepalives). */
export interface PgLeaderLock extends LeaderLock {
  /** SHOW <name> on the lock's session (connecting when it has none). */
  sessionSetting(name: keyof typeof SESSION_KEEPALIVES | 'search_path'): Promise<string>;
}

/** A signed 64-bit advisory key from the schema and the lock's name, and its two 32-bit halves as pg_locks shows them. */
export function advisoryKey(schema: string, name: string): { key: string; classid: number; objid: number } {
  const h = createHash('sha256').update(`gatekeeper:${name}:${schema}`).digest();
  const key = h.readBigInt64BE(0);
  return { key: key.toString(), classid: h.readUInt32BE(0), objid: h.readUInt32BE(4) };
}

export function pgAdvisoryLock(o: PgAdvisoryLockOptions): PgLeaderLock {
  const parsed = new URL(o.url);
  const schema = o.schema ?? parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  const connectionString = parsed.toString();
  const timeoutMs = o.timeoutMs ?? 10_000;
  const listeners: Array<() => void> = [];
  let client: pg.Client | null = null;
  let key: ReturnType<typeof advisoryKey> | null = null;
  let held = false;

  const lost = (c: pg.Client) => {
    if (client !== c) return;
    client = null;
    const was = held;
    held = false;
    c.end().catch(() => {});
    if (was) for (const l of listeners) l();
  };

  async function connect(): Promise<pg.Client> {
    // Imported here, not at the top: main.ts imports this module on SQLite too, where pg is never needed.
    // Before the check below, so nothing awaits between that check and `client = c`.
    const { default: driver } = await import('pg');
    if (client) return client;
    const c = new driver.Client({
      connectionString,
      application_name: `${APP_PREFIX}${o.instanceId}`.slice(0, 63),
      options: [...(schema ? [`-c search_path=${schema}`] : []), ...Object.entries(SESSION_KEEPALIVES).map(([k, v]) => `-c ${k}=${v}`)].join(' '),
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
      keepAlive: true,
    });
    c.on('error', () => lost(c));
    c.on('end', () => lost(c));
    client = c;
    try {
      await c.connect();
      // The schema in use, as PostgreSQL resolves it (the default search path when none is given).
      const r = await c.query<{ s: string | null }>('SELECT current_schema() AS s');
      key = advisoryKey(r.rows[0]?.s ?? schema ?? 'public', o.name);
    } catch (err) {
      lost(c);
      throw err;
    }
    return c;
  }

  return {
    async tryAcquire() {
      try {
        const c = await connect();
        if (held) {
          // Still ours as long as the session answers.
          await c.query('SELECT 1');
          return held;
        }
        const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key!.key]);
        held = r.rows[0]?.ok === true && client === c;
        return held;
      } catch {
        if (client) lost(client);
        return false;
      }
    },
    async holder() {
      const c = await connect();
      const r = await c.query<{ app: string }>(
        `SELECT a.application_name AS app
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid`,
        [key!.classid, key!.objid],
      );
      const app = r.rows[0]?.app;
      return app === undefined ? null : app.startsWith(APP_PREFIX) ? app.slice(APP_PREFIX.length) : app || 'unknown';
    },
    async sessionSetting(name) {
      const c = await connect();
      // A fixed set of names (the type says which), so interpolating is safe; SHOW takes no parameters.
      const r = await c.query<Record<string, string>>(`SHOW ${name}`);
      return String(Object.values(r.rows[0] ?? {})[0]);
    },
    onLost(listener) {
      listeners.push(listener);
    },
    async release() {
      const c = client;
      client = null;
      held = false;
      // Ending the session releases every lock it holds.
      if (c) await c.end().catch(() => {});
    },
  };
}
