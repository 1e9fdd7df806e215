// The outbox worker on a real store (SQLite, and PostgreSQL when TEST_POSTGRES_URL is set), a fake clock
// and hand-written handlers.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobEffects, JobHandler, JobHandlers } from '../../src/app/job-handlers.ts';
import type { AuditEntry, Job } from '../../src/app/model.ts';
import type { Lane, NewJob, Store } from '../../src/app/ports.ts';
import { PlatformNotRunningError, ProviderRejectedError, ProviderUnreachableError, RetryAfterError } from '../../src/domain/errors.ts';
import { OutboundLimiter } from '../../src/jobs/outbound-limiter.ts';
import { PriorityGate } from '../../src/jobs/priority-gate.ts';
import { backoffDelay, LeaseLostError, Worker, type WorkerOptions } from '../../src/jobs/worker.ts';
import { openDatabase } from '../../src/store/database.ts';
import { createStore } from '../../src/store/kysely-store.ts';
import { FakeClock, flush } from '../fakes/fake-clock.ts';
import { DIALECTS, openTestDb, type TestDb } from '../helpers/db.ts';
import { memoryLogger } from '../helpers/service.ts';

type Result = 'done' | 'retry' | 'dead' | 'lost' | 'yielded';

/** Real time (the store may be PostgreSQL): until `cond` holds, bounded. */
async function realUntil(cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 5));
}
/** Real time for the worker loop to take whatever more it would (a claim round trip or a few). */
const settleReal = () => new Promise((r) => setTimeout(r, 150));

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Hand-written handlers: each test fills `handlers`; `onDead` calls and its answer are recorded. */
function fakeHandlers() {
  const deadCalls: Array<{ job: Job; error: string }> = [];
  let deadFollowUps: (job: Job) => NewJob[] | Promise<NewJob[]> = () => [];
  const jobs: JobHandlers & { handlers: Record<string, JobHandler> } = {
    handlers: {},
    async onDead(job, error) {
      deadCalls.push({ job, error });
      return deadFollowUps(job);
    },
  };
  return {
    jobs,
    deadCalls,
    setDeadFollowUps(f: typeof deadFollowUps) {
      deadFollowUps = f;
    },
  };
}

type Beat = 'held' | 'lost' | 'failed';

/**
 * The store with every lease extension announced, so a test can wait for a heartbeat in virtual time;
 * while `stalled`, extensions fail as if the store could not be reached (a worker that cannot keep its lease).
 */
function beating(s: Store, opts: { stalled?: boolean } = {}) {
  const beats: Beat[] = [];
  let next = deferred<Beat>();
  const ctl = {
    stalled: opts.stalled ?? false,
    beats,
    /** Take this before moving the clock: it resolves with the next heartbeat's outcome. */
    nextBeat: () => next.promise,
    store: {
      ...s,
      jobs: {
        ...s.jobs,
        extendLease: async (id: number, w: string, until: number) => {
          let beat: Beat = 'failed';
          try {
            if (ctl.stalled) throw new Error('store unreachable');
            const held = await s.jobs.extendLease(id, w, until);
            beat = held ? 'held' : 'lost';
            return held;
          } finally {
            beats.push(beat);
            const d = next;
            next = deferred<Beat>();
            d.resolve(beat);
          }
        },
      },
    } as Store,
  };
  return ctl;
}

const audit = (subjectId: string): Omit<AuditEntry, 'id'> => ({
  at: 0,
  actor: 'system',
  action: 'test.ran',
  subjectType: 'job',
  subjectId,
  reason: 'handler ran',
  detail: { ok: true },
});

describe('backoffDelay', () => {
  it('doubles with each attempt up to the cap', () => {
    const top = () => 1;
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, 1000, 30_000, top))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(backoffDelay(60, 1000, 30_000, top)).toBe(30_000);
    expect(backoffDelay(5000, 1000, 30_000, top)).toBe(30_000);
  });

  it('never goes below half the ceiling', () => {
    const bottom = () => 0;
    expect([1, 2, 3, 4].map((a) => backoffDelay(a, 1000, 30_000, bottom))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffDelay(30, 1000, 30_000, bottom)).toBe(15_000);
  });

  it('treats attempt 0 like the first attempt', () => {
    expect(backoffDelay(0, 1000, 30_000, () => 1)).toBe(1000);
  });

  it('stays within [ceiling / 2, ceiling] for any attempt and random draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, base, maxExtra, r) => {
          const max = base + maxExtra;
          const ceiling = Math.min(max, base * 2 ** (attempt - 1));
          const d = backoffDelay(attempt, base, max, () => r);
          expect(Number.isInteger(d)).toBe(true);
          expect(d).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
          expect(d).toBeLessThanOrEqual(Math.ceil(ceiling));
        },
      ),
    );
  });

  it('spreads retries with the random draw (jitter)', () => {
    const draws = [0, 0.25, 0.5, 0.75, 0.999].map((r) => backoffDelay(3, 1000, 60_000, () => r));
    expect(draws).toEqual([2000, 2500, 3000, 3500, 3998]);
  });
});

describe.each(DIALECTS)('Worker (%s)', (dialect) => {
  let db: TestDb;
  let store: Store;
  let clock: FakeClock;
  let logger: ReturnType<typeof memoryLogger>;
  let fake: ReturnType<typeof fakeHandlers>;
  let results: Array<{ worker: string; jobId: number; kind: string; result: Result }>;

  beforeEach(async () => {
    db = await openTestDb(dialect);
    store = db.store;
    clock = new FakeClock();
    logger = memoryLogger();
    fake = fakeHandlers();
    results = [];
  });
  afterEach(async () => {
    await db.close();
  });

  const worker = (opts: WorkerOptions = {}, s: Store = store) => {
    const workerId = opts.workerId ?? 'w1';
    return new Worker(s, clock, fake.jobs, logger, {
      baseBackoffMs: 1000,
      maxBackoffMs: 60_000,
      leaseMs: 30_000,
      random: () => 1,
      ...opts,
      workerId,
      onResult: (job, result) => results.push({ worker: workerId, jobId: job.id, kind: job.kind, result }),
    });
  };
  const enqueue = (...jobs: NewJob[]) => store.jobs.enqueue(jobs, clock.now());
  const only = async (kind?: string) => {
    const rows = await store.jobs.list(kind ? { kind } : {});
    expect(rows).toHaveLength(1);
    return rows[0]!;
  };

  it('webhooks first: while the gate is held the loop claims nothing, at most for priorityWaitMs, then carries on', async () => {
    fake.jobs.handlers.instant = async () => {};
    await enqueue(...Array.from({ length: 40 }, (_, i): NewJob => ({ kind: 'instant', payload: i, lane: 'notice' })));
    const gate = new PriorityGate();
    gate.enter(); // a notification is being handled
    const w = worker({ batch: 8, priority: gate, priorityWaitMs: 50 });
    const turns = async (n: number) => {
      for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
    };
    w.start();
    try {
      await turns(20);
      expect(results).toHaveLength(0); // held: nothing claimed, however many turns pass
      // Held for longer than the bound: one batch is claimed all the same (the worker is slowed, not stopped).
      // A batch of notices is 6: two of the eight slots are kept for invites.
      await clock.advance(50);
      const first = Date.now() + 10_000;
      while (results.length < 6 && Date.now() < first) await new Promise((r) => setTimeout(r, 5));
      await turns(20);
      expect(results).toHaveLength(6);
      expect(gate.waiting).toBeLessThanOrEqual(1); // timed-out waits leave nothing behind
      // The notification is handled: the rest runs at once, without the clock moving.
      gate.leave();
      const until = Date.now() + 20_000;
      while (results.length < 40 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      expect(results.filter((r) => r.result === 'done')).toHaveLength(40);
      expect(gate.waiting).toBe(0);
    } finally {
      gate.leave();
      await w.stop();
    }
  });

  it('a job without follow-ups costs two statements, its claim and its completion, with no transaction around them', async () => {
    fake.jobs.handlers.plain = async () => {};
    await enqueue({ kind: 'plain', payload: 1, lane: 'notice' });
    const seen: string[] = [];
    const counted = await openDatabase(db.url, { schema: db.schema, onQuery: (s) => seen.push(s) });
    try {
      expect(await worker({}, createStore(counted)).runOnce()).toBe(1);
      expect(seen.map((s) => s.trim().split(/\s+/)[0]!.toLowerCase())).toEqual(['update', 'update']);
      expect((await only()).status).toBe('done');
    } finally {
      await counted.close();
    }
  });

  it('a backlog of instant jobs never holds the event loop: a webhook waiting for a turn gets one between batches', async () => {
    fake.jobs.handlers.instant = async () => {};
    await enqueue(...Array.from({ length: 200 }, (_, i): NewJob => ({ kind: 'instant', payload: i, lane: 'notice' })));
    const w = worker({ batch: 16 });
    w.start();
    try {
      // What an incoming request waits for: the event loop to come round to its socket.
      await new Promise((r) => setImmediate(r));
      expect(results.length).toBeLessThanOrEqual(16);
      // And the backlog still drains, a batch per turn (bounded in real time).
      const until = Date.now() + 20_000;
      while (results.length < 200 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      expect(results.filter((r) => r.result === 'done')).toHaveLength(200);
    } finally {
      await w.stop();
    }
  });

  it('claims an enqueued job, runs its handler once and completes it', async () => {
    const seen: Job[] = [];
    fake.jobs.handlers.greet = async (job) => {
      seen.push(job);
    };
    await enqueue({ kind: 'greet', payload: { name: 'alice' }, lane: 'notice' });
    const w = worker();
    expect(await w.runOnce()).toBe(1);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ kind: 'greet', payload: { name: 'alice' }, status: 'running', lockedBy: 'w1', attempts: 1 });
    expect(await only()).toMatchObject({ status: 'done', attempts: 1, lastError: null, leaseUntil: null });
    expect(results.map((r) => r.result)).toEqual(['done']);
    // Nothing left: a second pass claims nothing and the handler is not called again.
    expect(await w.runOnce()).toBe(0);
    expect(seen).toHaveLength(1);
  });

  it('commits follow-up jobs and audit entries together with the completion', async () => {
    fake.jobs.handlers.remove = async (job) => ({
      jobs: [{ kind: 'notify', payload: { after: job.id }, lane: 'notice', dedupeKey: `removed:${job.id}` }],
      audit: [audit(String(job.id))],
    });
    const followed: Job[] = [];
    fake.jobs.handlers.notify = async (job) => {
      followed.push(job);
    };
    await enqueue({ kind: 'remove', payload: null, lane: 'removal' });
    const w = worker({ batch: 1 });
    expect(await w.runOnce()).toBe(1);
    const removal = await only('remove');
    expect(removal.status).toBe('done');
    const notify = await only('notify');
    expect(notify).toMatchObject({ status: 'queued', payload: { after: removal.id }, dedupeKey: `removed:${removal.id}`, runAt: clock.now() });
    expect(await store.audit.list({ subjectType: 'job', subjectId: String(removal.id) })).toEqual([
      expect.objectContaining({ action: 'test.ran', reason: 'handler ran', detail: { ok: true } }),
    ]);
    // The follow-up is due at once.
    expect(await w.drain()).toBe(1);
    expect(followed.map((j) => j.payload)).toEqual([{ after: removal.id }]);
  });

  it('commits nothing of a handler whose effects cannot be stored, and retries it', async () => {
    let calls = 0;
    fake.jobs.handlers.broken = async () => {
      calls++;
      // The second audit entry violates NOT NULL: the whole completion transaction must roll back.
      return {
        jobs: [{ kind: 'follow', payload: null, lane: 'notice' }],
        audit: [audit('ok'), { ...audit('bad'), reason: null as unknown as string }],
      } satisfies JobEffects;
    };
    await enqueue({ kind: 'broken', payload: null, lane: 'notice' });
    await worker().runOnce();
    expect(calls).toBe(1);
    expect(await only('broken')).toMatchObject({ status: 'queued', attempts: 1, runAt: clock.now() + 1000 });
    expect(await store.jobs.list({ kind: 'follow' })).toEqual([]);
    expect(await store.audit.list({})).toEqual([]);
    expect(results.map((r) => r.result)).toEqual(['retry']);
  });

  it('retries a failing handler with growing backoff, counting attempts, until it succeeds', async () => {
    let calls = 0;
    fake.jobs.handlers.flaky = async () => {
      calls++;
      if (calls <= 3) throw new ProviderUnreachableError('telegram', `timeout #${calls}`);
    };
    await enqueue({ kind: 'flaky', payload: null, lane: 'notice' });
    const w = worker();
    const t0 = clock.now();

    await w.runOnce();
    expect(await only()).toMatchObject({ status: 'queued', attempts: 1, runAt: t0 + 1000, lastError: 'telegram is unreachable: timeout #1', lockedBy: null });

    await clock.advance(999);
    expect(await w.runOnce()).toBe(0); // not before its time
    await clock.advance(1);
    expect(await w.runOnce()).toBe(1);
    expect(await only()).toMatchObject({ status: 'queued', attempts: 2, runAt: t0 + 1000 + 2000, lastError: 'telegram is unreachable: timeout #2' });

    await clock.advance(2000);
    await w.runOnce();
    expect(await only()).toMatchObject({ status: 'queued', attempts: 3, runAt: t0 + 3000 + 4000 });

    await clock.advance(4000);
    await w.runOnce();
    expect(await only()).toMatchObject({ status: 'done', attempts: 4, lastError: null });
    expect(calls).toBe(4);
    expect(results.map((r) => r.result)).toEqual(['retry', 'retry', 'retry', 'done']);
    expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(3);
  });

  it('uses the injected random for the backoff jitter', async () => {
    fake.jobs.handlers.fail = async () => {
      throw new Error('boom');
    };
    await enqueue({ kind: 'fail', payload: null, lane: 'notice' });
    await worker({ random: () => 0, baseBackoffMs: 10_000 }).runOnce();
    expect((await only()).runAt).toBe(clock.now() + 5000);
  });

  it('re-queues a RetryAfterError at exactly now + retryAfter without using up an attempt', async () => {
    let calls = 0;
    fake.jobs.handlers.send = async () => {
      calls++;
      if (calls <= 12) throw new RetryAfterError(7000);
    };
    await enqueue({ kind: 'send', payload: null, lane: 'broadcast', maxAttempts: 3 });
    const w = worker();
    await w.runOnce();
    expect(await only()).toMatchObject({ status: 'queued', attempts: 0, runAt: clock.now() + 7000, lastError: 'asked to retry after 7000 ms' });
    await clock.advance(6999);
    expect(await w.runOnce()).toBe(0);
    // Far more 429s than maxAttempts: the job is never dead-lettered for being asked to wait.
    for (let i = 1; i < 12; i++) {
      await clock.advance(7000);
      expect(await w.runOnce()).toBe(1);
      expect(await only()).toMatchObject({ status: 'queued', attempts: 0 });
    }
    await clock.advance(7000);
    await w.runOnce();
    expect(await only()).toMatchObject({ status: 'done', attempts: 1 });
    expect(fake.deadCalls).toEqual([]);
    expect(results.filter((r) => r.result === 'retry')).toHaveLength(12);
  });

  it('dead-letters a ProviderRejectedError at once and enqueues the onDead follow-ups', async () => {
    let calls = 0;
    fake.jobs.handlers.invite = async () => {
      calls++;
      throw new ProviderRejectedError('telegram', 'chat not found');
    };
    fake.setDeadFollowUps((job) => [{ kind: 'alert_owners', payload: { dead: job.id }, lane: 'system', dedupeKey: `alert:dead:${job.id}` }]);
    await enqueue({ kind: 'invite', payload: { membershipId: 1 }, lane: 'invite', maxAttempts: 8 });
    const w = worker();
    await w.runOnce();
    const dead = await only('invite');
    expect(dead).toMatchObject({ status: 'dead', attempts: 1, lastError: 'telegram rejected the request: chat not found', leaseUntil: null });
    expect(calls).toBe(1);
    expect(fake.deadCalls).toHaveLength(1);
    expect(fake.deadCalls[0]!.job.id).toBe(dead.id);
    expect(fake.deadCalls[0]!.error).toBe('telegram rejected the request: chat not found');
    expect(await only('alert_owners')).toMatchObject({ status: 'queued', payload: { dead: dead.id }, lane: 'system' });
    expect(results.map((r) => r.result)).toEqual(['dead']);
    expect(logger.lines.some((l) => l.level === 'error' && l.msg === 'job dead-lettered')).toBe(true);
    // A dead letter stays dead.
    await clock.advance(365 * 86_400_000);
    fake.jobs.handlers.alert_owners = async () => {};
    expect(await w.drain()).toBe(1); // only the alert
    expect(calls).toBe(1);
    expect((await only('invite')).status).toBe('dead');
  });

  it('dead-letters a job of a kind nobody handles', async () => {
    await enqueue({ kind: 'mystery', payload: null, lane: 'notice' });
    await worker().runOnce();
    expect(await only()).toMatchObject({ status: 'dead', attempts: 1 });
    expect((await only()).lastError).toContain('no handler for job kind "mystery"');
    expect(fake.deadCalls).toHaveLength(1);
  });

  it('becomes a dead letter with the last error after maxAttempts failures (jobs outside the invite and removal lanes)', async () => {
    let calls = 0;
    fake.jobs.handlers.remind = async () => {
      calls++;
      throw new ProviderUnreachableError('wechat', `down #${calls}`);
    };
    fake.setDeadFollowUps(() => [{ kind: 'alert_owners', payload: null, lane: 'system' }]);
    await enqueue({ kind: 'remind', payload: null, lane: 'reminder', maxAttempts: 3 });
    const w = worker({ retryForAtLeastMs: 0 });
    for (let i = 0; i < 3; i++) {
      expect(await w.runOnce()).toBe(1);
      await clock.advance(60_000);
    }
    expect(calls).toBe(3);
    expect(await only('remind')).toMatchObject({ status: 'dead', attempts: 3, lastError: 'wechat is unreachable: down #3' });
    expect(results.map((r) => r.result)).toEqual(['retry', 'retry', 'dead']);
    expect(fake.deadCalls.map((d) => d.job.attempts)).toEqual([3]);
    expect(await store.jobs.list({ kind: 'alert_owners' })).toHaveLength(1);
    // Never again.
    await clock.advance(86_400_000);
    fake.jobs.handlers.alert_owners = async () => {};
    await w.drain();
    expect(calls).toBe(3);
  });

  it('retries an access job through an outage far past maxAttempts, backoff capped at 5 minutes, and succeeds after', async () => {
    let down = true;
    let calls = 0;
    fake.jobs.handlers.invite = async () => {
      calls++;
      if (down) throw new ProviderUnreachableError('telegram', '502 Bad Gateway');
    };
    await enqueue({ kind: 'invite', payload: { membershipId: 1 }, lane: 'invite', maxAttempts: 8 });
    const w = worker({ maxBackoffMs: 3_600_000 });
    const gaps: number[] = [];
    // Two hours of outage: far more than 8 attempts, none of them fatal.
    while (clock.now() < Date.UTC(2026, 0, 1, 2)) {
      await w.drain();
      const j = await only('invite');
      expect(j.status).toBe('queued');
      gaps.push(j.runAt - clock.now());
      await clock.advance(j.runAt - clock.now());
    }
    expect(calls).toBeGreaterThan(20);
    expect(Math.max(...gaps)).toBe(5 * 60_000);
    down = false;
    await w.drain();
    expect(await only('invite')).toMatchObject({ status: 'done' });
    expect(fake.deadCalls).toEqual([]);
  });

  it('keeps a notice past its maxAttempts until it has been retrying for 6 hours (an outage of 2 hours drops nothing)', async () => {
    let down = true;
    fake.jobs.handlers.notify = async () => {
      if (down) throw new ProviderUnreachableError('telegram', '502');
    };
    fake.jobs.handlers.remind = async () => {
      throw new ProviderUnreachableError('telegram', '502');
    };
    fake.jobs.handlers.alert_owners = async () => {};
    const created = clock.now();
    await enqueue({ kind: 'notify', payload: null, lane: 'notice' }, { kind: 'remind', payload: null, lane: 'reminder' });
    const w = worker({ maxBackoffMs: 3_600_000 });
    while (clock.now() < created + 2 * 3_600_000) {
      await w.drain();
      await clock.advance(60_000);
    }
    expect((await only('notify')).attempts).toBeGreaterThan(8);
    expect((await only('notify')).status).toBe('queued');
    down = false;
    await clock.advance(3_600_000);
    await w.drain();
    expect((await only('notify')).status).toBe('done');
    expect(fake.deadCalls).toEqual([]);
    // One that keeps failing is given up on after 6 hours and its maxAttempts, not before.
    while ((await only('remind')).status !== 'dead') {
      await clock.advance(60_000);
      await w.drain();
    }
    expect(clock.now()).toBeGreaterThanOrEqual(created + 6 * 3_600_000);
    expect(fake.deadCalls).toHaveLength(1);
  });

  it('gives up on an access job only 7 days after its creation', async () => {
    fake.jobs.handlers.remove = async () => {
      throw new ProviderUnreachableError('wechat', 'down');
    };
    fake.jobs.handlers.alert_owners = async () => {};
    fake.setDeadFollowUps(() => [{ kind: 'alert_owners', payload: null, lane: 'system' }]);
    const created = clock.now();
    await enqueue({ kind: 'remove', payload: null, lane: 'removal' });
    // A 6-hour cap keeps the loop short; the rule is the same.
    const w = worker({ maxBackoffMs: 86_400_000, accessMaxBackoffMs: 6 * 3_600_000 });
    for (let i = 0; i < 200; i++) {
      await w.drain();
      const j = await only('remove');
      if (j.status === 'dead') break;
      expect(j.runAt).toBeLessThanOrEqual(created + 7 * 86_400_000);
      await clock.advance(j.runAt - clock.now());
    }
    const dead = await only('remove');
    expect(dead.status).toBe('dead');
    expect(clock.now()).toBe(created + 7 * 86_400_000);
    expect(dead.attempts).toBeGreaterThan(30);
    expect(fake.deadCalls).toHaveLength(1);
  });

  it('waits long between tries while no adapter for the platform is running', async () => {
    fake.jobs.handlers.invite = async () => {
      throw new PlatformNotRunningError('wechat');
    };
    fake.jobs.handlers.notify = async () => {
      throw new PlatformNotRunningError('wechat');
    };
    await enqueue({ kind: 'invite', payload: null, lane: 'invite' }, { kind: 'notify', payload: null, lane: 'notice' });
    const w = worker({ random: () => 0 });
    await w.drain();
    // At least an hour (half of 2 h, the jitter floor), never the 1 s base backoff.
    expect((await only('invite')).runAt).toBe(clock.now() + 60 * 60_000);
    expect((await only('notify')).runAt).toBe(clock.now() + 60 * 60_000);
    expect(fake.deadCalls).toEqual([]);
  });

  it('claims only jobs for the platforms whose adapter runs here; a job with no known platform anywhere', async () => {
    const now = clock.now();
    const group = (platform: 'wechat' | 'telegram') =>
      store.groups.insert({ platform, platformChatId: `c-${platform}`, title: platform, ownerAccountId: null, graceMs: 0, reminderOffsetsMs: [] }, now);
    const [wg, tg] = [await group('wechat'), await group('telegram')];
    const wa = await store.accounts.upsert({ platform: 'wechat', platformUserId: 'wx-1' }, now);
    const wm = await store.memberships.insert({ accountId: wa.id, groupId: wg.id, status: 'active', expiresAt: now + 1000 }, now);
    const ran: string[] = [];
    for (const k of ['invite', 'notify', 'sweep', 'other', 'refund']) fake.jobs.handlers[k] = async () => void ran.push(k);
    await enqueue(
      { kind: 'invite', payload: null, lane: 'invite', about: { membershipId: wm.id } },
      { kind: 'notify', payload: null, lane: 'notice', about: { accountId: wa.id } },
      { kind: 'sweep', payload: null, lane: 'removal', about: { groupId: wg.id } },
      { kind: 'other', payload: null, lane: 'removal', about: { groupId: tg.id } },
      { kind: 'refund', payload: null, lane: 'system' },
    );
    // This instance runs Telegram only: the WeChat jobs are never claimed (no attempt, no backoff), they wait queued.
    await worker({ platforms: () => ['telegram'] }).drain();
    expect(ran.sort()).toEqual(['other', 'refund']);
    for (const k of ['invite', 'notify', 'sweep']) expect(await only(k)).toMatchObject({ status: 'queued', attempts: 0, runAt: now });
    // The instance that runs WeChat takes them at once.
    await worker({ workerId: 'w2', platforms: () => ['wechat', 'telegram'] }).drain();
    expect(ran.sort()).toEqual(['invite', 'notify', 'other', 'refund', 'sweep']);
  });

  it('still buries the job when onDead itself fails', async () => {
    fake.jobs.handlers.x = async () => {
      throw new ProviderRejectedError('telegram', 'blocked by user');
    };
    fake.setDeadFollowUps(() => Promise.reject(new Error('store hiccup')));
    await enqueue({ kind: 'x', payload: null, lane: 'notice' });
    await worker().runOnce();
    expect(await only()).toMatchObject({ status: 'dead', lastError: 'telegram rejected the request: blocked by user' });
    // Not silently: the log says the follow-ups were lost, and why.
    const lost = logger.lines.find((l) => l.msg === 'job dead-letter follow-ups failed');
    expect((lost?.obj as { err?: Error } | undefined)?.err?.message).toBe('store hiccup');
  });

  it("logs a job's error once, as the error itself (stack, method and cause for the log's serializer)", async () => {
    const network = new Error('connect ECONNREFUSED 127.0.0.1:443');
    fake.jobs.handlers.x = async () => {
      throw new ProviderUnreachableError('telegram', 'getChat: connect ECONNREFUSED', { method: 'getChat', cause: network });
    };
    fake.jobs.handlers.y = async () => {
      throw new ProviderRejectedError('telegram', 'banChatMember: Bad Request', undefined, { method: 'banChatMember' });
    };
    await enqueue({ kind: 'x', payload: null, lane: 'notice' });
    await enqueue({ kind: 'y', payload: null, lane: 'notice' });
    await worker().runOnce();
    const retried = logger.lines.filter((l) => l.msg === 'job failed, will retry');
    const dead = logger.lines.filter((l) => l.msg === 'job dead-lettered');
    expect([retried.length, dead.length]).toEqual([1, 1]);
    const retriedErr = (retried[0]!.obj as { err: unknown }).err;
    expect(retriedErr).toBeInstanceOf(ProviderUnreachableError);
    expect(retriedErr).toMatchObject({ method: 'getChat', cause: network });
    expect((dead[0]!.obj as { err: unknown }).err).toMatchObject({ method: 'banChatMember' });
    expect(((dead[0]!.obj as { err: Error }).err.stack ?? '').length).toBeGreaterThan(0);
  });

  it('lets another worker reclaim a job whose lease expired; the first worker’s late completion is lost', async () => {
    const gate = deferred();
    const w1Started = deferred();
    const runs: string[] = [];
    fake.jobs.handlers.slow = async (job) => {
      runs.push(job.lockedBy!);
      if (job.lockedBy === 'w1') {
        w1Started.resolve();
        await gate.promise; // w1 hangs past its lease
        return { jobs: [{ kind: 'from-w1', payload: null, lane: 'notice' }], audit: [audit('w1')] };
      }
      return { audit: [audit('w2')] };
    };
    await enqueue({ kind: 'slow', payload: null, lane: 'notice' });
    // w1's heartbeats do not reach the store, so its lease runs out.
    const w1 = worker({ workerId: 'w1', leaseMs: 10_000 }, beating(store, { stalled: true }).store);
    const w2 = worker({ workerId: 'w2', leaseMs: 10_000 });

    const first = w1.runOnce();
    await w1Started.promise;
    expect(runs).toEqual(['w1']);
    await clock.advance(10_000);
    expect(await w2.runOnce()).toBe(0); // the lease still holds at its last millisecond
    await clock.advance(1);
    expect(await w2.runOnce()).toBe(1);
    expect(runs).toEqual(['w1', 'w2']);
    expect(await only('slow')).toMatchObject({ status: 'done', lockedBy: 'w2', attempts: 2 });

    gate.resolve();
    await first;
    expect(results).toEqual([
      { worker: 'w2', jobId: expect.any(Number), kind: 'slow', result: 'done' },
      { worker: 'w1', jobId: expect.any(Number), kind: 'slow', result: 'lost' },
    ]);
    // w1's effects were not committed and the job stays as w2 left it.
    expect(await only('slow')).toMatchObject({ status: 'done', lockedBy: 'w2', attempts: 2 });
    expect(await store.jobs.list({ kind: 'from-w1' })).toEqual([]);
    expect((await store.audit.list({})).map((a) => a.subjectId)).toEqual(['w2']);
  });

  it('a late completion or failure cannot overwrite a job the new owner is still running', async () => {
    const gates = { w1: deferred(), w2: deferred() };
    const started = { w1: deferred(), w2: deferred() };
    fake.jobs.handlers.slow = async (job) => {
      const who = job.lockedBy as 'w1' | 'w2';
      started[who].resolve();
      await gates[who].promise;
      if (who === 'w1') throw new ProviderUnreachableError('telegram', 'late failure');
    };
    await enqueue({ kind: 'slow', payload: null, lane: 'notice' });
    const w1 = worker({ workerId: 'w1', leaseMs: 5000 }, beating(store, { stalled: true }).store);
    const w2 = worker({ workerId: 'w2', leaseMs: 60_000 });
    const p1 = w1.runOnce();
    await started.w1.promise;
    await clock.advance(5001);
    const p2 = w2.runOnce();
    await started.w2.promise;
    gates.w1.resolve();
    await p1;
    expect(results.map((r) => `${r.worker}:${r.result}`)).toEqual(['w1:lost']);
    expect(await only()).toMatchObject({ status: 'running', lockedBy: 'w2', lastError: null, attempts: 2 });
    gates.w2.resolve();
    await p2;
    expect(await only()).toMatchObject({ status: 'done', lockedBy: 'w2' });
    expect(results.map((r) => `${r.worker}:${r.result}`)).toEqual(['w1:lost', 'w2:done']);
  });

  it('keeps the lease of a long-running job with heartbeats on the clock, so no other worker claims it', async () => {
    const gate = deferred();
    const started = deferred();
    fake.jobs.handlers.slow = async () => {
      started.resolve();
      await gate.promise;
      return { audit: [audit('w1')] };
    };
    await enqueue({ kind: 'slow', payload: null, lane: 'notice' });
    const hb = beating(store);
    const w1 = worker({ workerId: 'w1', leaseMs: 9000 }, hb.store);
    const w2 = worker({ workerId: 'w2', leaseMs: 9000 });
    const p1 = w1.runOnce();
    await started.promise;
    // Beats every third of the lease: 15 s of virtual time, far past the first lease, and w1 still holds it.
    for (let i = 0; i < 5; i++) {
      const beat = hb.nextBeat();
      await clock.advance(3000);
      expect(await beat).toBe('held');
      expect(await w2.runOnce()).toBe(0);
    }
    expect(await only()).toMatchObject({ status: 'running', lockedBy: 'w1', leaseUntil: clock.now() + 9000 });
    gate.resolve();
    await p1;
    expect(results.map((r) => `${r.worker}:${r.result}`)).toEqual(['w1:done']);
    expect(await only()).toMatchObject({ status: 'done', attempts: 1 });
    // The heartbeat stopped with the job.
    const beats = hb.beats.length;
    await clock.advance(30_000);
    expect(hb.beats).toHaveLength(beats);
  });

  it('tells the handler through its signal when another worker took the job, and applies none of its effects', async () => {
    const gate = deferred();
    const started = deferred();
    let signal: AbortSignal | undefined;
    fake.jobs.handlers.slow = async (job, run) => {
      if (job.lockedBy === 'w2') return { audit: [audit('w2')] };
      signal = run.signal;
      started.resolve();
      await gate.promise;
      // A handler that does not look at its signal: its effects are dropped all the same.
      return { jobs: [{ kind: 'from-w1', payload: null, lane: 'notice' }], audit: [audit('w1')] };
    };
    await enqueue({ kind: 'slow', payload: null, lane: 'notice' });
    const hb = beating(store, { stalled: true });
    const w1 = worker({ workerId: 'w1', leaseMs: 9000 }, hb.store);
    const w2 = worker({ workerId: 'w2', leaseMs: 9000 });
    const p1 = w1.runOnce();
    await started.promise;
    for (let i = 0; i < 3; i++) {
      const beat = hb.nextBeat();
      await clock.advance(3000);
      expect(await beat).toBe('failed');
    }
    expect(signal?.aborted).toBe(false); // a failed extension is not a lost lease
    await clock.advance(1);
    expect(await w2.runOnce()).toBe(1);
    hb.stalled = false;
    const beat = hb.nextBeat();
    await clock.advance(3000);
    expect(await beat).toBe('lost');
    await flush(); // the worker acts on the answer
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(LeaseLostError);
    gate.resolve();
    await p1;
    expect(results.map((r) => `${r.worker}:${r.result}`)).toEqual(['w2:done', 'w1:lost']);
    expect(await only('slow')).toMatchObject({ status: 'done', lockedBy: 'w2', attempts: 2 });
    expect(await store.jobs.list({ kind: 'from-w1' })).toEqual([]);
    expect((await store.audit.list({})).map((a) => a.subjectId)).toEqual(['w2']);
    expect(logger.lines.some((l) => l.msg?.includes('lease lost'))).toBe(true);
  });

  it('a handler that stops on its aborted signal is reported lost, not retried or dead-lettered', async () => {
    const started = deferred();
    fake.jobs.handlers.slow = async (job, run) => {
      if (job.lockedBy === 'w2') return;
      started.resolve();
      await new Promise<void>((resolve) => run.signal.addEventListener('abort', () => resolve()));
      run.signal.throwIfAborted();
    };
    await enqueue({ kind: 'slow', payload: null, lane: 'notice' });
    const hb = beating(store, { stalled: true });
    const w1 = worker({ workerId: 'w1', leaseMs: 9000 }, hb.store);
    const w2 = worker({ workerId: 'w2', leaseMs: 9000 });
    const p1 = w1.runOnce();
    await started.promise;
    await clock.advance(9001);
    expect(await w2.runOnce()).toBe(1);
    hb.stalled = false;
    const beat = hb.nextBeat();
    await clock.advance(3000);
    expect(await beat).toBe('lost');
    await flush(); // the worker acts on the answer
    await p1;
    expect(results.map((r) => `${r.worker}:${r.result}`)).toEqual(['w2:done', 'w1:lost']);
    expect(await only()).toMatchObject({ status: 'done', lockedBy: 'w2', lastError: null });
    expect(fake.deadCalls).toEqual([]);
  });

  it('claims the best priority first: invites, then removals, before notices, reminders and broadcasts', async () => {
    const order: string[] = [];
    for (const kind of ['broadcast', 'reminder', 'notice', 'invite', 'removal']) {
      fake.jobs.handlers[kind] = async (job) => {
        order.push((job.payload as { name: string }).name);
      };
    }
    await enqueue(
      ...Array.from({ length: 5 }, (_, i): NewJob => ({ kind: 'broadcast', payload: { name: `broadcast-${i}` }, lane: 'broadcast' })),
      { kind: 'reminder', payload: { name: 'reminder' }, lane: 'reminder' },
      { kind: 'notice', payload: { name: 'notice' }, lane: 'notice' },
    );
    await clock.advance(1000);
    await enqueue({ kind: 'removal', payload: { name: 'removal' }, lane: 'removal' });
    await clock.advance(1000);
    // Queued after the removal, claimed before it.
    await enqueue({ kind: 'invite', payload: { name: 'invite' }, lane: 'invite' });
    expect(await worker({ batch: 1 }).drain()).toBe(9);
    expect(order).toEqual(['invite', 'removal', 'notice', 'reminder', 'broadcast-0', 'broadcast-1', 'broadcast-2', 'broadcast-3', 'broadcast-4']);
  });

  it('runs a job enqueued twice under the same dedupe key only once', async () => {
    let calls = 0;
    fake.jobs.handlers.remind = async () => {
      calls++;
    };
    const remind: NewJob = { kind: 'remind', payload: { membershipId: 1 }, lane: 'reminder', dedupeKey: 'remind:1:3d' };
    await enqueue(remind);
    await enqueue(remind);
    expect(await store.jobs.list({})).toHaveLength(1);
    const w = worker();
    await w.drain();
    // A scheduler tick that enqueues it again after it ran still adds nothing.
    await enqueue(remind);
    await w.drain();
    expect(calls).toBe(1);
    expect(await store.jobs.list({})).toHaveLength(1);
  });

  it('drain runs batches until nothing is due', async () => {
    const ran: number[] = [];
    fake.jobs.handlers.n = async (job) => {
      ran.push(job.payload as number);
    };
    await enqueue(...Array.from({ length: 10 }, (_, i): NewJob => ({ kind: 'n', payload: i, lane: 'notice' })), {
      kind: 'n',
      payload: 99,
      lane: 'notice',
      runAt: clock.now() + 1000,
    });
    expect(await worker({ batch: 3 }).drain()).toBe(10);
    expect([...ran].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect((await store.jobs.list({ status: 'queued' })).map((j) => j.payload)).toEqual([99]);
  });

  it('drain is bounded even when every job enqueues another', async () => {
    let calls = 0;
    fake.jobs.handlers.loop = async () => {
      calls++;
      return { jobs: [{ kind: 'loop', payload: null, lane: 'notice' }] };
    };
    await enqueue({ kind: 'loop', payload: null, lane: 'notice' });
    const w = worker({ batch: 1 });
    expect(await w.drain(5)).toBe(5);
    expect(calls).toBe(5);
    expect(await store.jobs.list({ status: 'queued' })).toHaveLength(1);
    // The default bound holds too.
    expect(await w.drain()).toBe(1000);
    expect(calls).toBe(1005);
  });

  it('runs at most `batch` jobs per pass', async () => {
    const running: number[] = [];
    fake.jobs.handlers.n = async (job) => {
      running.push(job.id);
    };
    await enqueue(...Array.from({ length: 7 }, (): NewJob => ({ kind: 'n', payload: null, lane: 'notice' })));
    const w = worker({ batch: 3 });
    expect(await w.runOnce()).toBe(3);
    expect(running).toHaveLength(3);
    expect(await store.jobs.list({ status: 'queued' })).toHaveLength(4);
  });

  it('started, a job that waits long does not hold back the others (pool, not batches)', async () => {
    const slow = deferred();
    const ran: string[] = [];
    const allFast = deferred();
    fake.jobs.handlers.slow = async () => {
      await slow.promise;
      ran.push('slow');
    };
    fake.jobs.handlers.fast = async (job) => {
      ran.push(job.payload as string);
      if (ran.filter((r) => r.startsWith('f')).length === 3) allFast.resolve();
    };
    await enqueue({ kind: 'slow', payload: null, lane: 'removal' });
    for (const n of ['f1', 'f2', 'f3']) await enqueue({ kind: 'fast', payload: n, lane: 'notice' });
    const w = worker({ batch: 2, pollMs: 1000 });
    w.start();
    await allFast.promise;
    expect(ran).toEqual(['f1', 'f2', 'f3']);
    slow.resolve();
    await w.stop();
    expect(ran).toEqual(['f1', 'f2', 'f3', 'slow']);
    expect((await store.jobs.list({ status: 'done' })).length).toBe(4);
  });

  it('started, keeps slots for invites: a removal batch waiting on the platform never keeps an arriving invite from starting', async () => {
    const held = deferred();
    const started: string[] = [];
    const invited = deferred();
    fake.jobs.handlers.remove = async (job) => {
      started.push(job.payload as string);
      await held.promise; // waiting on Telegram's pace
    };
    fake.jobs.handlers.notify = async (job) => {
      started.push(job.payload as string);
    };
    fake.jobs.handlers.invite = async (job) => {
      started.push(job.payload as string);
      invited.resolve();
    };
    await enqueue(...Array.from({ length: 30 }, (_, i): NewJob => ({ kind: 'remove', payload: `remove-${i}`, lane: 'removal' })));
    const w = worker({ batch: 16, pollMs: 60_000 });
    w.start();
    await realUntil(() => started.length >= 12);
    await settleReal(); // and no more
    // 16 slots, 4 kept for invites: the removals hold 12 and wait.
    expect(started).toHaveLength(12);
    await enqueue({ kind: 'notify', payload: 'notice', lane: 'notice' }, { kind: 'invite', payload: 'invite', lane: 'invite' });
    w.notify(); // what onJobsEnqueued does
    await invited.promise; // no clock movement: the invite started at once
    await settleReal();
    // The notice may not take a kept slot either: it waits behind the removals (its lane is lower).
    expect(started.filter((x) => !x.startsWith('remove-'))).toEqual(['invite']);
    held.resolve();
    await realUntil(() => started.length >= 32);
    await w.stop();
    expect(started).toHaveLength(32);
    expect(await store.jobs.list({ status: 'queued' })).toEqual([]);
  });

  it('started, lower-lane jobs that made no call yet give their slots to due removals and invites; re-run once, attempts unchanged', async () => {
    // A slow platform: one call a second, on the fake clock that never moves until the end.
    const limiter = new OutboundLimiter(clock, { t: { perSecond: 1 } });
    const sent: string[] = [];
    const started: string[] = [];
    const held = deferred();
    // A broadcast of two messages: once its first is sent it has made a call, and may no longer yield.
    fake.jobs.handlers.broadcast = async (job) => {
      await limiter.acquire({ platform: 't', lane: 'broadcast', chatId: job.payload as string });
      sent.push(job.payload as string);
      await limiter.acquire({ platform: 't', lane: 'broadcast', chatId: job.payload as string });
      sent.push(`${job.payload as string}+`);
    };
    fake.jobs.handlers.access = async (job) => {
      started.push(job.payload as string);
      await held.promise;
    };
    await enqueue(...Array.from({ length: 10 }, (_, i): NewJob => ({ kind: 'broadcast', payload: `b${i}`, lane: 'broadcast' })));
    // 4 slots, 1 kept for invites: three broadcasts run, the first has sent its first message and waits to
    // send its second, two wait for their first.
    const w = worker({ batch: 4, inviteSlots: 1, pollMs: 60_000 });
    w.start();
    await realUntil(() => sent.length >= 1 && limiter.pending >= 3);
    await settleReal();
    expect(sent).toEqual(['b0']);
    expect(limiter.pending).toBe(3);
    await enqueue(
      { kind: 'access', payload: 'invite-1', lane: 'invite' },
      { kind: 'access', payload: 'invite-2', lane: 'invite' },
      { kind: 'access', payload: 'removal', lane: 'removal' },
    );
    w.notify();
    // No clock movement: the first invite takes the kept slot, and the two waiting broadcasts give theirs
    // to the removal and the second invite, without waiting for the platform's pace.
    await realUntil(() => started.length >= 3);
    await settleReal(); // and nothing more: no spin
    expect(started.sort()).toEqual(['invite-1', 'invite-2', 'removal']);
    const yielded = results.filter((r) => r.result === 'yielded');
    expect(yielded.map((r) => r.kind)).toEqual(['broadcast', 'broadcast']);
    // The broadcast that made its call was never asked (its handler stays on its slot until it ends).
    const b0 = (await store.jobs.list({ kind: 'broadcast' })).find((j) => j.payload === 'b0')!;
    expect(yielded.map((r) => r.jobId)).not.toContain(b0.id);
    // Re-queued at once, no attempt counted, nothing logged as a failure.
    for (const { jobId } of yielded) {
      const job = (await store.jobs.list({ kind: 'broadcast' })).find((j) => j.id === jobId)!;
      expect(job).toMatchObject({ status: 'queued', attempts: 0, runAt: clock.now() });
    }
    expect(logger.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    expect(limiter.pending).toBe(1); // b0's second message
    // A removal and an invite more, with the pool full of access jobs and one granted broadcast: nobody yields.
    await enqueue({ kind: 'access', payload: 'removal-2', lane: 'removal' });
    w.notify();
    await settleReal();
    expect(results.filter((r) => r.result === 'yielded')).toHaveLength(2);
    held.resolve();
    // Then every broadcast goes out, each exactly once.
    for (let i = 0; i < 40 && (await store.jobs.list({ status: 'done' })).length < 14; i++) {
      await clock.advance(1000);
      await settleReal();
    }
    await w.stop();
    expect(sent.sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => [`b${i}`, `b${i}+`])
        .flat()
        .sort(),
    );
    expect(await store.jobs.list({ status: 'done' })).toHaveLength(14);
  });

  it('started, only lanes below removal yield: waiting removals and invites keep their slots, whatever is due', async () => {
    const limiter = new OutboundLimiter(clock, { t: { perSecond: 1 } });
    await limiter.acquire({ platform: 't', lane: 'invite' }); // the window is used: every call below waits
    const started: string[] = [];
    const call = (lane: Lane) => async (job: Job) => {
      started.push(job.payload as string);
      await limiter.acquire({ platform: 't', lane });
    };
    fake.jobs.handlers.removal = call('removal');
    fake.jobs.handlers.invite = call('invite');
    fake.jobs.handlers.broadcast = call('broadcast');
    await enqueue(
      { kind: 'removal', payload: 'r1', lane: 'removal' },
      { kind: 'removal', payload: 'r2', lane: 'removal' },
      { kind: 'broadcast', payload: 'b', lane: 'broadcast' },
    );
    const w = worker({ batch: 4, inviteSlots: 1, pollMs: 60_000 });
    w.start();
    await realUntil(() => limiter.pending >= 3);
    await enqueue(...['i1', 'i2', 'i3'].map((p): NewJob => ({ kind: 'invite', payload: p, lane: 'invite' })));
    w.notify();
    // i1 takes the kept slot, i2 the broadcast's; i3 waits: the waiting removals never give theirs up.
    await realUntil(() => started.includes('i2'));
    await settleReal();
    expect(started.filter((p) => p.startsWith('i')).sort()).toEqual(['i1', 'i2']);
    expect(results.filter((r) => r.result === 'yielded').map((r) => r.kind)).toEqual(['broadcast']);
    for (let i = 0; i < 20 && (await store.jobs.list({ status: 'done' })).length < 6; i++) {
      await clock.advance(1000);
      await settleReal();
    }
    await w.stop();
    expect(await store.jobs.list({ status: 'done' })).toHaveLength(6);
    expect(results.filter((r) => r.result === 'yielded')).toHaveLength(1);
  });

  it('started, asks a job waiting in the limiter before one busy elsewhere (a provider call) in the same lane', async () => {
    const limiter = new OutboundLimiter(clock, { t: { perSecond: 1 } });
    await limiter.acquire({ platform: 't', lane: 'invite' });
    const provider = deferred();
    const started: string[] = [];
    fake.jobs.handlers.notice = async () => {
      await limiter.acquire({ platform: 't', lane: 'notice' });
    };
    fake.jobs.handlers.reconcile = async () => {
      started.push('reconcile');
      await provider.promise; // a payment provider's API: no limiter, no slot to give back soon
    };
    fake.jobs.handlers.removal = async () => {
      started.push('removal');
    };
    await enqueue({ kind: 'notice', payload: null, lane: 'notice' });
    await enqueue({ kind: 'reconcile', payload: null, lane: 'system' });
    const w = worker({ batch: 3, inviteSlots: 1, pollMs: 60_000 });
    w.start();
    await realUntil(() => limiter.pending >= 1 && started.includes('reconcile'));
    await enqueue({ kind: 'removal', payload: null, lane: 'removal' });
    w.notify();
    await realUntil(() => started.includes('removal'));
    expect(started).toContain('removal');
    expect(results.filter((r) => r.result === 'yielded').map((r) => r.kind)).toEqual(['notice']);
    provider.resolve();
    for (let i = 0; i < 10 && (await store.jobs.list({ status: 'done' })).length < 3; i++) {
      await clock.advance(1000);
      await settleReal();
    }
    await w.stop();
    expect(await store.jobs.list({ status: 'done' })).toHaveLength(3);
  });

  it('started, yields no more jobs than there are due jobs of a better lane (no spin)', async () => {
    const limiter = new OutboundLimiter(clock, { t: { perSecond: 1 } });
    await limiter.acquire({ platform: 't', lane: 'invite' });
    const held = deferred();
    fake.jobs.handlers.reminder = async () => {
      await limiter.acquire({ platform: 't', lane: 'reminder' });
    };
    fake.jobs.handlers.notice = async () => {
      await held.promise;
    };
    await enqueue(...Array.from({ length: 8 }, (): NewJob => ({ kind: 'reminder', payload: null, lane: 'reminder' })));
    const w = worker({ batch: 5, inviteSlots: 1, pollMs: 60_000 });
    w.start();
    await realUntil(() => limiter.pending >= 4);
    await enqueue({ kind: 'notice', payload: null, lane: 'notice' });
    w.notify();
    await realUntil(() => results.some((r) => r.result === 'yielded'));
    await settleReal();
    // One notice due: one reminder gave its slot, the notice took it, and the loop asked nobody else.
    expect(results.filter((r) => r.result === 'yielded')).toHaveLength(1);
    expect((await store.jobs.list({ kind: 'notice' }))[0]!.status).toBe('running');
    expect(limiter.pending).toBe(3);
    held.resolve();
    for (let i = 0; i < 20 && (await store.jobs.list({ status: 'done' })).length < 9; i++) {
      await clock.advance(1000);
      await settleReal();
    }
    await w.stop();
    expect(await store.jobs.list({ status: 'done' })).toHaveLength(9);
    expect(results.filter((r) => r.result === 'yielded')).toHaveLength(1);
  });

  it('started, jobs of the other lanes fill every slot but the ones kept for invites', async () => {
    const held = deferred();
    let running = 0;
    let most = 0;
    fake.jobs.handlers.n = async () => {
      running++;
      most = Math.max(most, running);
      await held.promise;
      running--;
    };
    await enqueue(...Array.from({ length: 20 }, (): NewJob => ({ kind: 'n', payload: null, lane: 'notice' })));
    const w = worker({ batch: 8, inviteSlots: 3, pollMs: 60_000 });
    w.start();
    await realUntil(() => most >= 5);
    await settleReal(); // and no more
    expect(most).toBe(5);
    held.resolve();
    await realUntil(async () => (await store.jobs.list({ status: 'done' })).length >= 20);
    await w.stop();
    expect(await store.jobs.list({ status: 'done' })).toHaveLength(20);
  });

  it('started, polls on the clock and wakes on notify()', async () => {
    // A clock that reports each time the loop goes to sleep, so the test knows the worker is idle.
    let slept = deferred();
    clock = new (class extends FakeClock {
      override sleep(ms: number): Promise<void> {
        const p = super.sleep(ms);
        slept.resolve();
        return p;
      }
    })();
    const ran: string[] = [];
    let done = deferred();
    fake.jobs.handlers.n = async (job) => {
      ran.push(job.payload as string);
      done.resolve();
    };
    const w = worker({ pollMs: 1000 });
    w.start();
    await slept.promise; // the first pass found nothing
    slept = deferred();
    await enqueue({ kind: 'n', payload: 'polled', lane: 'notice' });
    await flush();
    expect(ran).toEqual([]); // asleep until the next poll
    await clock.advance(999);
    expect(ran).toEqual([]);
    await clock.advance(1);
    await done.promise;
    expect(ran).toEqual(['polled']);
    await slept.promise; // idle again
    done = deferred();

    await enqueue({ kind: 'n', payload: 'notified', lane: 'notice' });
    w.notify(); // no clock movement needed
    await done.promise;
    expect(ran).toEqual(['polled', 'notified']);

    await w.stop(); // returns only once the loop has ended
    await enqueue({ kind: 'n', payload: 'after-stop', lane: 'notice' });
    await clock.advance(10_000);
    expect(ran).toEqual(['polled', 'notified']);
    expect((await store.jobs.list({ status: 'queued' })).map((j) => j.payload)).toEqual(['after-stop']);
  });
});

describe.each(DIALECTS.filter((d) => d === 'postgres'))('Worker on several instances (%s)', (dialect) => {
  let db: TestDb;
  beforeEach(async () => {
    db = await openTestDb(dialect);
  });
  afterEach(async () => {
    await db.close();
  });

  it('two workers draining 200 due jobs concurrently never claim the same job and complete all exactly once', async () => {
    const clock = new FakeClock();
    const logger = memoryLogger();
    const claims: Array<{ worker: string; id: number }> = [];
    const results: Array<{ worker: string; id: number; result: Result }> = [];
    const handlers: JobHandlers = {
      handlers: {
        work: async (job) => {
          claims.push({ worker: job.lockedBy!, id: job.id });
          // Give the other instance room to claim while this batch is in flight.
          await new Promise((r) => setImmediate(r));
        },
      },
      onDead: async () => [],
    };
    await db.store.jobs.enqueue(
      Array.from({ length: 200 }, (_, i): NewJob => ({ kind: 'work', payload: i, lane: i % 2 ? 'notice' : 'broadcast' })),
      clock.now(),
    );
    const [a, b] = [await db.reopen(), await db.reopen()];
    const mk = (store: Store, id: string) =>
      new Worker(store, clock, handlers, logger, { workerId: id, batch: 7, onResult: (job, result) => results.push({ worker: id, id: job.id, result }) });
    const w1 = mk(a.store, 'w1');
    const w2 = mk(b.store, 'w2');

    const [n1, n2] = await Promise.all([w1.drain(), w2.drain()]);
    expect(n1 + n2).toBe(200);
    expect(n1).toBeGreaterThan(0);
    expect(n2).toBeGreaterThan(0);

    const ids = claims.map((c) => c.id);
    expect(new Set(ids).size).toBe(200); // no job was handed to both
    expect(claims).toHaveLength(200);
    expect(results.every((r) => r.result === 'done')).toBe(true);
    expect(results).toHaveLength(200);
    for (const r of results) expect(claims.find((c) => c.id === r.id)!.worker).toBe(r.worker);

    const rows = await db.store.jobs.list({});
    expect(rows.every((r) => r.status === 'done' && r.attempts === 1)).toBe(true);
    expect(new Set(rows.map((r) => r.lockedBy))).toEqual(new Set(['w1', 'w2']));
  });

  it('many concurrent claims from two instances split 200 jobs without overlap and within each limit', async () => {
    const now = Date.UTC(2026, 0, 1);
    await db.store.jobs.enqueue(
      Array.from({ length: 200 }, (_, i): NewJob => ({ kind: 'c', payload: i, lane: 'notice' })),
      now,
    );
    const [a, b] = [await db.reopen(), await db.reopen()];
    const batches = await Promise.all(
      Array.from({ length: 30 }, (_, i) => {
        const s = i % 2 ? a.store : b.store;
        return s.transaction((tx) => tx.jobs.claim(`c${i}`, now, 60_000, 10));
      }),
    );
    for (const batch of batches) expect(batch.length).toBeLessThanOrEqual(10);
    const ids = batches.flat().map((j) => j.id);
    expect(ids).toHaveLength(200);
    expect(new Set(ids).size).toBe(200);
    // Each row is locked by exactly the claimer that got it back.
    const rows = await db.store.jobs.list({});
    const owner = new Map(batches.flatMap((batch, i) => batch.map((j) => [j.id, `c${i}`] as const)));
    for (const r of rows) expect(r).toMatchObject({ status: 'running', attempts: 1, lockedBy: owner.get(r.id) });
  });
});
