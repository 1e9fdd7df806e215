// The durable outbox through the Store port, on a fresh migrated SQLite file and (with
// TEST_POSTGRES_URL) on PostgreSQL.
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewJob, Store } from '../../src/app/ports.ts';
import { claimStatement, countDueBetterStatement, DEFAULT_MAX_ATTEMPTS } from '../../src/store/jobs-repository.ts';
import { DIALECTS, openTestDb, type TestDb } from '../helpers/db.ts';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const LEASE = 60_000;

const job = (kind: string, extra: Partial<NewJob> = {}): NewJob => ({ kind, payload: { kind }, lane: 'notice', ...extra });

describe.each(DIALECTS)('jobs repository (%s)', (dialect) => {
  let db: TestDb;
  let store: Store;

  beforeEach(async () => {
    db = await openTestDb(dialect);
    store = db.store;
  });
  afterEach(async () => {
    await db.close();
  });

  describe('enqueue', () => {
    it("records each job's platform from what it is about, the same for a few jobs and for a batch read up front", async () => {
      const group = (platform: 'wechat' | 'telegram') =>
        store.groups.insert({ platform, platformChatId: `c-${platform}`, title: platform, ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] }, T0);
      const [wg, tg] = [await group('wechat'), await group('telegram')];
      const wa = await store.accounts.upsert({ platform: 'wechat', platformUserId: 'wx-1' }, T0);
      const ta = await store.accounts.upsert({ platform: 'telegram', platformUserId: '42' }, T0);
      const wm = await store.memberships.insert({ accountId: wa.id, groupId: wg.id, status: 'active', expiresAt: T0 + 1000 }, T0);
      const tm = await store.memberships.insert({ accountId: ta.id, groupId: tg.id, status: 'active', expiresAt: T0 + 1000 }, T0);
      const abouts: Array<[NewJob['about'], string | null]> = [
        [{ membershipId: wm.id }, 'wechat'],
        [{ membershipId: tm.id }, 'telegram'],
        [{ accountId: wa.id }, 'wechat'],
        [{ accountId: ta.id }, 'telegram'],
        [{ groupId: wg.id }, 'wechat'],
        [{ groupId: tg.id }, 'telegram'],
        [{ membershipId: 999_999 }, null],
        [undefined, null],
      ];
      const few = abouts.map(([about], i) => job(`few-${i}`, { about }));
      // 40 jobs (≥ BATCH_LOOKUP_FROM) cycling through the same subjects.
      const batch = Array.from({ length: 40 }, (_, i) => job(`batch-${i}`, { about: abouts[i % abouts.length]![0] }));
      await store.jobs.enqueue(few, T0);
      await store.jobs.enqueue(batch, T0);
      const rows = await db.opened.db.selectFrom('jobs').select(['kind', 'platform']).execute();
      const platform = new Map(rows.map((r) => [r.kind, r.platform]));
      abouts.forEach(([, want], i) => expect(platform.get(`few-${i}`)).toBe(want));
      for (let i = 0; i < 40; i++) expect(platform.get(`batch-${i}`)).toBe(abouts[i % abouts.length]![1]);
    });

    it('stores a queued job with its lane priority, payload and defaults', async () => {
      await store.jobs.enqueue([{ kind: 'invite', payload: { membershipId: 7, nested: { list: [1, 'two', null] } }, lane: 'invite' }], T0);
      const [j] = await store.jobs.list({});
      expect(j).toMatchObject({
        kind: 'invite',
        payload: { membershipId: 7, nested: { list: [1, 'two', null] } },
        lane: 'invite',
        priority: 0,
        status: 'queued',
        runAt: T0,
        attempts: 0,
        maxAttempts: DEFAULT_MAX_ATTEMPTS,
        leaseUntil: null,
        lockedBy: null,
        lastError: null,
        dedupeKey: null,
        createdAt: T0,
      });
      expect(typeof j!.id).toBe('number');
    });

    it('keeps runAt, maxAttempts and dedupeKey when given, and maps every lane to its priority', async () => {
      await store.jobs.enqueue(
        [
          job('a', { lane: 'invite', runAt: T0 + 5000, maxAttempts: 3, dedupeKey: 'k-a' }),
          job('r', { lane: 'removal' }),
          job('b', { lane: 'notice' }),
          job('c', { lane: 'system' }),
          job('d', { lane: 'reminder' }),
          job('e', { lane: 'broadcast' }),
        ],
        T0,
      );
      const rows = await store.jobs.list({});
      expect(rows.map((r) => [r.kind, r.lane, r.priority])).toEqual([
        ['a', 'invite', 0],
        ['r', 'removal', 1],
        ['b', 'notice', 2],
        ['c', 'system', 2],
        ['d', 'reminder', 3],
        ['e', 'broadcast', 4],
      ]);
      expect(rows[0]).toMatchObject({ runAt: T0 + 5000, maxAttempts: 3, dedupeKey: 'k-a' });
    });

    it('stores an undefined payload as null', async () => {
      await store.jobs.enqueue([{ kind: 'tick', payload: undefined, lane: 'system' }], T0);
      expect((await store.jobs.list({}))[0]!.payload).toBeNull();
    });

    it('does nothing for an empty list', async () => {
      await store.jobs.enqueue([], T0);
      expect(await store.jobs.list({})).toEqual([]);
    });

    it('enqueues a job with a given dedupe key at most once, ever', async () => {
      await store.jobs.enqueue([job('remind', { dedupeKey: 'remind:1:7d' })], T0);
      await store.jobs.enqueue([job('remind', { dedupeKey: 'remind:1:7d', payload: 'second' })], T0 + 1);
      // Twice in one batch too.
      await store.jobs.enqueue(
        [job('remind', { dedupeKey: 'remind:2:7d' }), job('remind', { dedupeKey: 'remind:2:7d' }), job('remind', { dedupeKey: 'remind:3:7d' })],
        T0,
      );
      let rows = await store.jobs.list({ kind: 'remind' });
      expect(rows.map((r) => r.dedupeKey)).toEqual(['remind:1:7d', 'remind:2:7d', 'remind:3:7d']);
      expect(rows[0]!.payload).toEqual({ kind: 'remind' }); // the first one stays as it was

      // Still once after the first one ran.
      const [claimed] = await store.jobs.claim('w1', T0 + 10, LEASE, 1);
      expect(await store.jobs.complete(claimed!.id, 'w1', T0 + 20)).toBe(true);
      await store.jobs.enqueue([job('remind', { dedupeKey: claimed!.dedupeKey! })], T0 + 30);
      rows = await store.jobs.list({ kind: 'remind' });
      expect(rows).toHaveLength(3);
    });

    it('never dedupes jobs without a key', async () => {
      await store.jobs.enqueue([job('n'), job('n')], T0);
      await store.jobs.enqueue([job('n')], T0);
      expect(await store.jobs.list({ kind: 'n' })).toHaveLength(3);
    });

    it('enqueues more jobs than one statement can bind', async () => {
      const many = Array.from({ length: 1234 }, (_, i) => job('bulk', { payload: i, dedupeKey: `bulk:${i % 1200}` }));
      await store.jobs.enqueue(many, T0);
      const rows = await store.jobs.list({ kind: 'bulk' });
      expect(rows).toHaveLength(1200);
      expect(rows.map((r) => r.payload)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
    });

    it('rolls back with the transaction that enqueued it', async () => {
      await expect(
        store.transaction(async (tx) => {
          await tx.jobs.enqueue([job('invite', { dedupeKey: 'invite:1' })], T0);
          throw new Error('state change failed');
        }),
      ).rejects.toThrow('state change failed');
      expect(await store.jobs.list({})).toEqual([]);
      // The dedupe slot was not taken by the rolled-back job.
      await store.transaction((tx) => tx.jobs.enqueue([job('invite', { dedupeKey: 'invite:1' })], T0));
      expect(await store.jobs.list({})).toHaveLength(1);
    });
  });

  describe('claim', () => {
    it('claims only due queued jobs, taking a lease and counting the attempt', async () => {
      await store.jobs.enqueue([job('due'), job('later', { runAt: T0 + 1000 })], T0);
      const claimed = await store.jobs.claim('w1', T0, LEASE, 10);
      expect(claimed).toHaveLength(1);
      expect(claimed[0]).toMatchObject({ kind: 'due', status: 'running', lockedBy: 'w1', leaseUntil: T0 + LEASE, attempts: 1 });
      // What the store holds agrees with what claim returned.
      expect((await store.jobs.list({ kind: 'due' }))[0]).toMatchObject({ status: 'running', lockedBy: 'w1', leaseUntil: T0 + LEASE, attempts: 1 });

      expect(await store.jobs.claim('w1', T0 + 999, LEASE, 10)).toEqual([]);
      const later = await store.jobs.claim('w2', T0 + 1000, LEASE, 10);
      expect(later.map((j) => j.kind)).toEqual(['later']);
    });

    it('never hands a job under a live lease to another worker', async () => {
      await store.jobs.enqueue([job('x')], T0);
      expect(await store.jobs.claim('w1', T0, LEASE, 10)).toHaveLength(1);
      expect(await store.jobs.claim('w2', T0 + 1, LEASE, 10)).toEqual([]);
      expect(await store.jobs.claim('w2', T0 + LEASE, LEASE, 10)).toEqual([]); // lease_until itself is still held
    });

    it('reclaims a running job whose lease ran out', async () => {
      await store.jobs.enqueue([job('x')], T0);
      const [first] = await store.jobs.claim('w1', T0, LEASE, 10);
      const [again] = await store.jobs.claim('w2', T0 + LEASE + 1, LEASE, 10);
      expect(again).toMatchObject({ id: first!.id, status: 'running', lockedBy: 'w2', leaseUntil: T0 + 2 * LEASE + 1, attempts: 2 });
      // The first worker lost it: none of its outcomes apply.
      expect(await store.jobs.complete(first!.id, 'w1', T0 + LEASE + 2)).toBe(false);
      expect(await store.jobs.retry(first!.id, 'w1', T0 + LEASE + 5000, 'late failure', true, T0 + LEASE + 2)).toBe(false);
      expect(await store.jobs.bury(first!.id, 'w1', 'late death', T0 + LEASE + 2)).toBe(false);
      expect((await store.jobs.list({}))[0]).toMatchObject({ status: 'running', lockedBy: 'w2', lastError: null });
      expect(await store.jobs.complete(first!.id, 'w2', T0 + LEASE + 3)).toBe(true);
    });

    it('claims best priority first, then earliest run_at, then oldest, up to the limit', async () => {
      await store.jobs.enqueue(
        [
          job('b1', { lane: 'broadcast' }),
          job('r1', { lane: 'reminder', runAt: T0 - 10 }),
          job('b2', { lane: 'broadcast', runAt: T0 - 150 }),
          job('a1', { lane: 'invite' }),
          job('n1', { lane: 'notice' }),
          job('r2', { lane: 'reminder', runAt: T0 - 20 }),
          job('a2', { lane: 'removal' }),
        ],
        T0 - 100,
      );
      const first = await store.jobs.claim('w1', T0, LEASE, 3);
      expect(first.map((j) => j.kind)).toEqual(['a1', 'a2', 'n1']);
      const rest = await store.jobs.claim('w1', T0, LEASE, 10);
      expect(rest.map((j) => j.kind)).toEqual(['r2', 'r1', 'b2', 'b1']);
    });

    it('claims only the lanes asked for (the worker fills its kept slots with invites)', async () => {
      await store.jobs.enqueue(
        [job('r1', { lane: 'removal' }), job('i1', { lane: 'invite' }), job('n1', { lane: 'notice' }), job('i2', { lane: 'invite' })],
        T0,
      );
      expect((await store.jobs.claim('w1', T0, LEASE, 10, undefined, ['invite'])).map((j) => j.kind)).toEqual(['i1', 'i2']);
      expect(await store.jobs.claim('w1', T0, LEASE, 10, undefined, [])).toEqual([]);
      expect((await store.jobs.claim('w1', T0, LEASE, 10)).map((j) => j.kind)).toEqual(['r1', 'n1']);
    });

    it('countDueBetter counts due queued jobs of a better priority only, for the platforms asked, up to the limit', async () => {
      await store.jobs.enqueue(
        [
          job('i1', { lane: 'invite' }),
          job('r1', { lane: 'removal' }),
          job('r-later', { lane: 'removal', runAt: T0 + 1000 }),
          job('n1', { lane: 'notice' }),
          job('b1', { lane: 'broadcast' }),
          job('r-wechat', { lane: 'removal' }),
          job('r-running', { lane: 'removal' }),
        ],
        T0,
      );
      await db.opened.db.updateTable('jobs').set({ platform: 'wechat' }).where('kind', '=', 'r-wechat').execute();
      await db.opened.db.updateTable('jobs').set({ status: 'running' }).where('kind', '=', 'r-running').execute();
      // Better than a broadcast (4): i1, r1, r-wechat, n1; r-later is not due, r-running not queued.
      expect(await store.jobs.countDueBetter(T0, 4, 10)).toBe(4);
      expect(await store.jobs.countDueBetter(T0, 4, 2)).toBe(2);
      expect(await store.jobs.countDueBetter(T0, 2, 10)).toBe(3);
      expect(await store.jobs.countDueBetter(T0, 2, 10, ['telegram'])).toBe(2);
      expect(await store.jobs.countDueBetter(T0, 2, 10, [])).toBe(2);
      expect(await store.jobs.countDueBetter(T0 + 1000, 2, 10, ['wechat'])).toBe(4);
      expect(await store.jobs.countDueBetter(T0, 0, 10)).toBe(0);
      expect(await store.jobs.countDueBetter(T0, 4, 0)).toBe(0);
    });

    it('claims an expired-lease job by its priority along with queued ones', async () => {
      await store.jobs.enqueue([job('removal-stuck', { lane: 'removal' })], T0);
      await store.jobs.claim('crashed', T0, 1000, 1);
      await store.jobs.enqueue([job('broadcast', { lane: 'broadcast' }), job('notice', { lane: 'notice' })], T0 + 500);
      const claimed = await store.jobs.claim('w2', T0 + 1001, LEASE, 2);
      expect(claimed.map((j) => j.kind)).toEqual(['removal-stuck', 'notice']);
    });

    it('never claims finished or dead jobs', async () => {
      await store.jobs.enqueue([job('done'), job('dead')], T0);
      const claimed = await store.jobs.claim('w1', T0, 1000, 10);
      const byKind = new Map(claimed.map((j) => [j.kind, j]));
      expect(await store.jobs.complete(byKind.get('done')!.id, 'w1', T0)).toBe(true);
      expect(await store.jobs.bury(byKind.get('dead')!.id, 'w1', 'boom', T0)).toBe(true);
      expect(await store.jobs.claim('w1', T0 + 365 * 86_400_000, 1000, 10)).toEqual([]);
    });
  });

  describe('complete, retry, bury', () => {
    async function claimOne(workerId = 'w1', now = T0) {
      const [j] = await store.jobs.claim(workerId, now, LEASE, 1);
      if (!j) throw new Error('nothing to claim');
      return j;
    }

    it('complete marks the job done and releases the lease, once', async () => {
      await store.jobs.enqueue([job('x')], T0);
      const j = await claimOne();
      expect(await store.jobs.complete(j.id, 'w1', T0 + 10)).toBe(true);
      expect((await store.jobs.list({}))[0]).toMatchObject({ status: 'done', leaseUntil: null, attempts: 1 });
      expect(await store.jobs.complete(j.id, 'w1', T0 + 11)).toBe(false);
    });

    it('complete, retry and bury refuse another worker', async () => {
      await store.jobs.enqueue([job('x')], T0);
      const j = await claimOne('w1');
      expect(await store.jobs.complete(j.id, 'w2', T0)).toBe(false);
      expect(await store.jobs.retry(j.id, 'w2', T0 + 1, 'e', true, T0)).toBe(false);
      expect(await store.jobs.bury(j.id, 'w2', 'e', T0)).toBe(false);
      expect((await store.jobs.list({}))[0]).toMatchObject({ status: 'running', lockedBy: 'w1' });
    });

    it('retry re-queues at runAt with the error, keeping the attempt', async () => {
      await store.jobs.enqueue([job('x')], T0);
      const j = await claimOne();
      expect(await store.jobs.retry(j.id, 'w1', T0 + 5000, 'gateway unreachable', true, T0 + 1)).toBe(true);
      expect((await store.jobs.list({}))[0]).toMatchObject({
        status: 'queued',
        runAt: T0 + 5000,
        attempts: 1,
        lastError: 'gateway unreachable',
        lockedBy: null,
        leaseUntil: null,
      });
      expect(await store.jobs.claim('w1', T0 + 4999, LEASE, 1)).toEqual([]);
      expect((await claimOne('w1', T0 + 5000)).attempts).toBe(2);
    });

    it('retry without counting gives the attempt back', async () => {
      await store.jobs.enqueue([job('x')], T0);
      for (let i = 0; i < 5; i++) {
        const j = await claimOne('w1', T0 + i * 1000);
        expect(j.attempts).toBe(1);
        expect(await store.jobs.retry(j.id, 'w1', T0 + (i + 1) * 1000, 'retry after', false, T0 + i * 1000)).toBe(true);
      }
      expect((await store.jobs.list({}))[0]).toMatchObject({ status: 'queued', attempts: 0 });
    });

    it('a retried job cannot be completed by the worker that let it go', async () => {
      await store.jobs.enqueue([job('x')], T0);
      const j = await claimOne();
      expect(await store.jobs.retry(j.id, 'w1', T0 + 10, 'e', true, T0)).toBe(true);
      expect(await store.jobs.complete(j.id, 'w1', T0 + 1)).toBe(false);
      expect(await store.jobs.bury(j.id, 'w1', 'e', T0 + 1)).toBe(false);
      expect((await store.jobs.list({}))[0]!.status).toBe('queued');
    });

    it('bury makes a dead letter that keeps the error', async () => {
      await store.jobs.enqueue([job('x')], T0);
      const j = await claimOne();
      expect(await store.jobs.bury(j.id, 'w1', 'telegram rejected the request: chat not found', T0 + 1)).toBe(true);
      expect(await store.jobs.list({ status: 'dead' })).toEqual([
        expect.objectContaining({ id: j.id, status: 'dead', lastError: 'telegram rejected the request: chat not found', leaseUntil: null }),
      ]);
      expect(await store.jobs.complete(j.id, 'w1', T0 + 2)).toBe(false);
    });

    it('keeps at most 1000 characters of an error', async () => {
      await store.jobs.enqueue([job('x'), job('y')], T0);
      const [x, y] = await store.jobs.claim('w1', T0, LEASE, 2);
      const long = 'é'.repeat(5000);
      await store.jobs.retry(x!.id, 'w1', T0 + 1, long, true, T0);
      await store.jobs.bury(y!.id, 'w1', long, T0);
      for (const r of await store.jobs.list({})) expect(r.lastError).toBe('é'.repeat(1000));
    });
  });

  describe('list and countByStatus', () => {
    it('filters by status and kind and counts per status and lane', async () => {
      await store.jobs.enqueue(
        [job('invite', { lane: 'invite' }), job('invite', { lane: 'invite' }), job('notify', { lane: 'notice' }), job('notify', { lane: 'broadcast' })],
        T0,
      );
      const [first] = await store.jobs.claim('w1', T0, LEASE, 1);
      await store.jobs.bury(first!.id, 'w1', 'nope', T0);

      expect((await store.jobs.list({ kind: 'invite' })).map((j) => j.status)).toEqual(['dead', 'queued']);
      expect((await store.jobs.list({ status: 'queued' })).map((j) => j.kind)).toEqual(['invite', 'notify', 'notify']);
      expect(await store.jobs.list({ status: 'queued', kind: 'notify' })).toHaveLength(2);
      expect(await store.jobs.list({ status: 'done' })).toEqual([]);

      const counts = await store.jobs.countByStatus();
      const sorted = [...counts].sort((a, b) => `${a.status}${a.lane}`.localeCompare(`${b.status}${b.lane}`));
      expect(sorted).toEqual([
        { status: 'dead', lane: 'invite', count: 1 },
        { status: 'queued', lane: 'broadcast', count: 1 },
        { status: 'queued', lane: 'invite', count: 1 },
        { status: 'queued', lane: 'notice', count: 1 },
      ]);
    });
  });
});

// SQLite only: its claim statement differs from PostgreSQL's (which locks rows and cannot use a UNION).
describe('the claim on SQLite reads only what it takes', () => {
  it('walks the claim index in claim order and stops after the limit, for queued and for abandoned jobs', async () => {
    const db = await openTestDb('sqlite');
    try {
      const stmt = claimStatement('sqlite', 'w', T0, LEASE, 16, ['playground']);
      const plan = (await sql<{ detail: string }>`EXPLAIN QUERY PLAN ${stmt}`.execute(db.opened.db)).rows.map((r) => r.detail);
      const text = plan.join('\n');
      // Queued jobs through (status, priority, run_at), in the order claimed: no sort of every queued job.
      expect(text).toContain('SEARCH jobs USING INDEX jobs_claim_idx (status=?)');
      expect(text).not.toMatch(/SCAN jobs\b/);
      // Abandoned (running, lease over) through (status, lease_until).
      expect(text).toContain('SEARCH jobs USING INDEX jobs_lease_idx (status=? AND lease_until<?)');
    } finally {
      await db.close();
    }
  });

  it('counts due better jobs through the claim index, one (status, priority, run_at) range per priority', async () => {
    const db = await openTestDb('sqlite');
    try {
      const stmt = countDueBetterStatement(T0, 4, 16, ['telegram']);
      const plan = (await sql<{ detail: string }>`EXPLAIN QUERY PLAN ${stmt}`.execute(db.opened.db)).rows.map((r) => r.detail);
      const searches = plan.filter((d) => d.includes('jobs_claim_idx (status=? AND priority=? AND run_at<?)'));
      expect(searches).toHaveLength(4);
      expect(plan.join('\n')).not.toMatch(/SCAN jobs\b/);
    } finally {
      await db.close();
    }
  });
});
