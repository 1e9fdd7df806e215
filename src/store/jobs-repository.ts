// The durable outbox. Jobs are written in the same transaction as the state change that causes them
// and claimed with a lease, so a crashed worker's jobs come back when the lease runs out.
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Job, JobStatus } from '../app/model.ts';
import { LANES, type NewJob } from '../app/ports.ts';
import type { Dialect } from './database.ts';
import { pickDue } from './due-rows.ts';
import { toJob } from './mappers.ts';
import type { Database, JobRow } from './schema.ts';

export const DEFAULT_MAX_ATTEMPTS = 8;

export async function enqueueJobs(db: Kysely<Database>, jobs: NewJob[], now: number): Promise<void> {
  if (jobs.length === 0) return;
  // A few jobs (the webhook path): each row reads its platform in the insert, no extra round trip. A batch
  // (an expiry sweep's removals): one read per kind of `about` first, then plain values; hundreds of
  // scalar subqueries in one INSERT cost PostgreSQL ~56 µs a row to plan and run (a 10k-member sweep
  // spent 1.1 s of its 1.6 s there).
  const known = jobs.length >= BATCH_LOOKUP_FROM ? await platformsOf(db, jobs) : null;
  // Chunked: SQLite caps bound parameters per statement.
  for (let i = 0; i < jobs.length; i += 500) {
    await db
      .insertInto('jobs')
      .values(
        jobs.slice(i, i + 500).map((j) => ({
          kind: j.kind,
          payload: JSON.stringify(j.payload ?? null),
          lane: j.lane,
          priority: LANES[j.lane],
          status: 'queued',
          run_at: j.runAt ?? now,
          max_attempts: j.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
          dedupe_key: j.dedupeKey ?? null,
          broadcast_id: j.broadcastId ?? null,
          platform: known ? (j.about === undefined ? null : (known.get(aboutKey(j.about)) ?? null)) : platformOf(j.about),
          created_at: now,
          updated_at: now,
        })),
      )
      .onConflict((oc) => oc.column('dedupe_key').doNothing())
      .execute();
  }
}

/** From this many jobs in one enqueue, their platforms are read up front (see enqueueJobs). */
export const BATCH_LOOKUP_FROM = 32;

type About = NonNullable<NewJob['about']>;
const aboutKey = (about: About): string =>
  'membershipId' in about ? `m:${about.membershipId}` : 'accountId' in about ? `a:${about.accountId}` : `g:${about.groupId}`;

/** The platform of every job's `about`, keyed by aboutKey: one query per kind of subject, in chunks. */
async function platformsOf(db: Kysely<Database>, jobs: NewJob[]): Promise<Map<string, string>> {
  const ids = { m: new Set<number>(), a: new Set<number>(), g: new Set<number>() };
  for (const { about } of jobs) {
    if (about === undefined) continue;
    if ('membershipId' in about) ids.m.add(about.membershipId);
    else if ('accountId' in about) ids.a.add(about.accountId);
    else ids.g.add(about.groupId);
  }
  const out = new Map<string, string>();
  const chunks = (set: Set<number>) => Array.from({ length: Math.ceil(set.size / 1000) }, (_, i) => [...set].slice(i * 1000, i * 1000 + 1000));
  for (const chunk of chunks(ids.m)) {
    const rows = await db
      .selectFrom('memberships as m')
      .innerJoin('groups as g', 'g.id', 'm.group_id')
      .select(['m.id', 'g.platform'])
      .where('m.id', 'in', chunk)
      .execute();
    for (const r of rows) out.set(`m:${r.id}`, r.platform);
  }
  for (const chunk of chunks(ids.a)) {
    const rows = await db.selectFrom('accounts').select(['id', 'platform']).where('id', 'in', chunk).execute();
    for (const r of rows) out.set(`a:${r.id}`, r.platform);
  }
  for (const chunk of chunks(ids.g)) {
    const rows = await db.selectFrom('groups').select(['id', 'platform']).where('id', 'in', chunk).execute();
    for (const r of rows) out.set(`g:${r.id}`, r.platform);
  }
  return out;
}

/** The platform a job needs, read in the insert itself (no extra round trip on the webhook path). */
function platformOf(about: NewJob['about']): RawBuilder<string | null> | null {
  if (about === undefined) return null;
  if ('membershipId' in about)
    return sql<string | null>`(SELECT g.platform FROM memberships m JOIN groups g ON g.id = m.group_id WHERE m.id = ${about.membershipId})`;
  if ('accountId' in about) return sql<string | null>`(SELECT a.platform FROM accounts a WHERE a.id = ${about.accountId})`;
  return sql<string | null>`(SELECT g.platform FROM groups g WHERE g.id = ${about.groupId})`;
}

/**
 * `platforms`: the chat platforms whose adapter runs here; a job recorded for another platform is not
 * claimed (it stays queued for the instance that runs it), a job with no platform is. Undefined: no filter.
 * `lanes`: only jobs of these lanes (the worker fills the slots it keeps for invites this way).
 */
export async function claimJobs(db: Kysely<Database>, ...args: Parameters<typeof claimStatement>): Promise<Job[]> {
  // Several instances claim at once: SKIP LOCKED hands each row to one of them (see due-rows.ts), and
  // the outer re-check drops a row whose status changed while we waited.
  const r = await claimStatement(...args).execute(db);
  return r.rows.map(toJob).sort((a, b) => a.priority - b.priority || a.runAt - b.runAt || a.id - b.id);
}

/**
 * Queued jobs due now with priority < `belowPriority` (at most `limit`), for `platforms` as in claimJobs.
 * One range of the claim index (status, priority, run_at) per priority, each stopping at `limit` rows, so
 * jobs waiting out a backoff (not due yet) are never read.
 */
export async function countDueBetterJobs(
  db: Kysely<Database>,
  now: number,
  belowPriority: number,
  limit: number,
  platforms?: readonly string[],
): Promise<number> {
  if (limit <= 0 || belowPriority <= 0) return 0;
  const r = await countDueBetterStatement(now, belowPriority, limit, platforms).execute(db);
  return Math.min(limit, Number(r.rows[0]?.n ?? 0));
}

/** ` AND …` keeping jobs for `platforms` or for none (see claimJobs); nothing when `platforms` is undefined. */
function forPlatforms(platforms?: readonly string[]): RawBuilder<unknown> {
  if (platforms === undefined) return sql``;
  if (platforms.length === 0) return sql` AND platform IS NULL`;
  return sql` AND (platform IS NULL OR platform IN (${sql.join(platforms.map((p) => sql`${p}`))}))`;
}

/** countDueBetterJobs's statement (exported so the store test can check its query plan). */
export function countDueBetterStatement(now: number, belowPriority: number, limit: number, platforms?: readonly string[]): RawBuilder<{ n: number | string }> {
  const here = forPlatforms(platforms);
  const ranges = Array.from(
    { length: Math.min(belowPriority, 100) },
    (_, priority) =>
      sql`SELECT * FROM (SELECT id FROM jobs WHERE status = 'queued' AND priority = ${priority} AND run_at <= ${now}${here} LIMIT ${limit}) AS p${sql.raw(String(priority))}`,
  );
  return sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM (${sql.join(ranges, sql` UNION ALL `)}) AS due`;
}

/** The claim's one statement (exported so the store test can check its query plan). */
export function claimStatement(
  dialect: Dialect,
  workerId: string,
  now: number,
  leaseMs: number,
  limit: number,
  platforms?: readonly string[],
  lanes?: readonly string[],
): RawBuilder<JobRow> {
  const here = forPlatforms(platforms);
  const ofLanes = lanes === undefined ? sql`` : sql` AND lane IN (${sql.join((lanes.length > 0 ? lanes : ['']).map((l) => sql`${l}`))})`;
  const due = sql`((status = 'queued' AND run_at <= ${now}) OR (status = 'running' AND lease_until < ${now}))${here}${ofLanes}`;
  const first = sql`ORDER BY priority, run_at, id LIMIT ${limit}`;
  // SQLite: the OR above reads every queued job through (status, lease_until) and sorts them all, on every
  // claim (0.46 ms with 2,000 queued; the worker claims after nearly every job, so it grew with the
  // backlog and took ~10 % of the service's CPU under webhook load). Each half on its own walks its index
  // in claim order and stops after `limit` rows (0.013 ms). PostgreSQL cannot lock rows under a UNION;
  // its planner is left the OR.
  const pick =
    dialect === 'sqlite'
      ? pickDue(
          dialect,
          due,
          sql`SELECT id FROM (SELECT * FROM (SELECT id, priority, run_at FROM jobs WHERE status = 'queued' AND run_at <= ${now}${here}${ofLanes} ${first})
                     UNION ALL SELECT * FROM (SELECT id, priority, run_at FROM jobs WHERE status = 'running' AND lease_until < ${now}${here}${ofLanes} ${first}))
              ${first}`,
        )
      : pickDue(dialect, due, sql`SELECT id FROM jobs WHERE ${due} ${first}`);
  return sql<JobRow>`
    UPDATE jobs
       SET status = 'running', locked_by = ${workerId}, lease_until = ${now + leaseMs}, attempts = attempts + 1, updated_at = ${now}
     WHERE ${pick}
    RETURNING *`;
}

export async function completeJob(db: Kysely<Database>, id: number, workerId: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('jobs')
    .set({ status: 'done', lease_until: null, last_error: null, updated_at: now })
    .where('id', '=', id)
    .where('locked_by', '=', workerId)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function extendJobLease(db: Kysely<Database>, id: number, workerId: string, until: number): Promise<boolean> {
  const r = await db
    .updateTable('jobs')
    .set({ lease_until: until })
    .where('id', '=', id)
    .where('locked_by', '=', workerId)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function retryJob(
  db: Kysely<Database>,
  id: number,
  workerId: string,
  runAt: number,
  error: string,
  countAttempt: boolean,
  now: number,
): Promise<boolean> {
  const r = await db
    .updateTable('jobs')
    .set((eb) => ({
      status: 'queued',
      run_at: runAt,
      lease_until: null,
      locked_by: null,
      last_error: error.slice(0, 1000),
      updated_at: now,
      attempts: countAttempt ? eb.ref('attempts') : eb('attempts', '-', 1),
    }))
    .where('id', '=', id)
    .where('locked_by', '=', workerId)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function buryJob(db: Kysely<Database>, id: number, workerId: string, error: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('jobs')
    .set({ status: 'dead', lease_until: null, last_error: error.slice(0, 1000), updated_at: now })
    .where('id', '=', id)
    .where('locked_by', '=', workerId)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function listJobs(db: Kysely<Database>, filter: { status?: JobStatus; kind?: string }): Promise<Job[]> {
  let q = db.selectFrom('jobs').selectAll().orderBy('id');
  if (filter.status) q = q.where('status', '=', filter.status);
  if (filter.kind) q = q.where('kind', '=', filter.kind);
  return (await q.execute()).map(toJob);
}

export async function countJobsByStatus(db: Kysely<Database>): Promise<Array<{ status: JobStatus; lane: string; count: number }>> {
  const rows = await db
    .selectFrom('jobs')
    .select(['status', 'lane'])
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .groupBy(['status', 'lane'])
    .execute();
  return rows.map((r) => ({ status: r.status as JobStatus, lane: r.lane, count: Number(r.count) }));
}

export async function getJob(db: Kysely<Database>, id: number): Promise<Job | null> {
  const row = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toJob(row) : null;
}

/** Dead letters, newest first, keyset-paged on id. */
export async function listDeadJobs(db: Kysely<Database>, q: { beforeId?: number; limit: number }): Promise<Job[]> {
  let s = db.selectFrom('jobs').selectAll().where('status', '=', 'dead');
  if (q.beforeId !== undefined) s = s.where('id', '<', q.beforeId);
  return (await s.orderBy('id', 'desc').limit(q.limit).execute()).map(toJob);
}

export async function countJobsByKind(db: Kysely<Database>): Promise<Array<{ lane: string; kind: string; status: JobStatus; count: number }>> {
  const rows = await db
    .selectFrom('jobs')
    .select(['lane', 'kind', 'status'])
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .groupBy(['lane', 'kind', 'status'])
    .orderBy('lane')
    .orderBy('kind')
    .orderBy('status')
    .execute();
  return rows.map((r) => ({ lane: r.lane, kind: r.kind, status: r.status as JobStatus, count: Number(r.count) }));
}

/**
 * A dead letter queued again, due now, with its attempts counted from zero (its last error stays until it
 * succeeds). Conditional on the job being dead: true only for the one call that re-queued it.
 */
export async function requeueDeadJob(db: Kysely<Database>, id: number, now: number): Promise<boolean> {
  const r = await db
    .updateTable('jobs')
    .set({ status: 'queued', run_at: now, attempts: 0, lease_until: null, locked_by: null, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'dead')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function countJobsWaitingForAdapter(db: Kysely<Database>, configured: readonly string[]): Promise<Array<{ platform: string; count: number }>> {
  let q = db
    .selectFrom('jobs')
    .select('platform')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('status', '=', 'queued')
    .where('platform', 'is not', null);
  if (configured.length > 0) q = q.where('platform', 'not in', [...configured]);
  const rows = await q.groupBy('platform').orderBy('platform').execute();
  return rows.map((r) => ({ platform: r.platform!, count: Number(r.count) }));
}
