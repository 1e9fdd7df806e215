// Claims due jobs with a lease, runs their handlers, and records the result.
//
// Retry rules (DESIGN "Rules every change keeps"; issue 13 part 3):
//   - RetryAfterError (429 retry_after, WeChat logged out): re-queued at exactly now + retryAfter; costs no attempt.
//   - ProviderRejectedError (the platform said no: user blocked the bot, chat gone, rights missing): a
//     dead letter at once, whatever the lane; the owner is told (once, see app/job-handlers.ts onDead).
//   - Access jobs (lanes `invite` and `removal`) never run out of attempts on a transient failure
//     (unreachable, 5xx, timeout, any other error): they retry with equal-jitter exponential backoff capped
//     at `accessMaxBackoffMs` (5 min) for as long as `accessRetryForMs` (7 days) from the job's creation;
//     only then do they become dead letters. An outage of hours therefore loses no invite and no removal.
//   - No adapter for the job's platform (issue 14 part 5): a job records the chat platform it needs
//     (jobs.platform, from its membership, account or group at enqueue) and a worker claims only jobs for
//     the platforms running here (`platforms`; WeChat only on the instance holding the WeChat lock), so
//     such a job is never claimed: no attempt, no backoff, no store work; it stays queued, counted in
//     /metrics and the admin /healthz, and the instance that runs the platform takes it at once. Its
//     access window (7 days) still counts from creation: an invite or removal that could not be sent for
//     a week gets one try when its adapter is back, and if that fails transiently it is a dead letter with
//     an owner alert, as the owner should know by then. Decided, not accidental: a longer window would
//     let a removal fire weeks late into a group that may have changed.
//   - A job whose platform cannot be known (an owner alert for several groups) and still meets a missing
//     adapter (PlatformNotRunningError) waits `noAdapterBackoffMs` (2 h, jittered) between tries, so it
//     never keeps the store busy (the SQLite webhook path shares its one connection). Access jobs still
//     live 7 days; other jobs count the attempt.
//   - Every other job (notices, reminders, provider calls): exponential backoff (base 5 s, cap 1 h) and a
//     dead letter after `maxAttempts`, but never before it has been retrying for `retryForAtLeastMs` (6 h)
//     from its creation, so an outage of a few hours drops no payment confirmation or reminder either.
//   - A dead letter's owner alert is raised by onDead (app/); an alert that dies raises none.
//   - Yielding (issue 14 part 3: a payer never waits behind removals). With the pool full, a job of a lane
//     below removal (notice, system, reminder, broadcast) that has not been granted any outbound call yet
//     gives its slot back when a job of a better lane is due: the worker aborts its yield signal
//     (jobs/job-context.ts), its waiting call leaves the limiter with YieldedError, and it is re-queued at
//     once with no attempt counted (logged at debug); the freed slot goes to the best due job. Invites and
//     removals never yield, and neither does a job that made a call (re-running it would repeat a message).
//     Bounded: at most as many jobs are asked to yield as there are due better jobs not already covered
//     by a yield under way, so nothing can be yielded and re-claimed in a loop.
import { randomUUID } from 'node:crypto';
import type { JobHandlers } from '../app/job-handlers.ts';
import type { Job, Platform } from '../app/model.ts';
import { type Clock, LANES, type Lane, type Logger, type Store } from '../app/ports.ts';
import { storageProblem } from '../app/storage-guard.ts';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../domain/time.ts';
import { PlatformNotRunningError, ProviderRejectedError, RetryAfterError } from '../domain/errors.ts';
import { type JobCallContext, runInJobContext } from './job-context.ts';
import type { PriorityGate } from './priority-gate.ts';

export interface WorkerOptions {
  leaseMs?: number;
  batch?: number;
  /**
   * Of the `batch` slots of the started pool, how many only invites may take (default batch / 4, rounded
   * down: 4 of 16). A removal batch waiting on the platform's pace can hold every other slot, and an invite
   * that arrives meanwhile still starts at once (issue 14 part 3: a payer never waits behind removals).
   */
  inviteSlots?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  pollMs?: number;
  /** Access jobs: backoff cap while a platform is unreachable (default 5 min). */
  accessMaxBackoffMs?: number;
  /** Access jobs: how long after its creation a job keeps retrying transient failures (default 7 days). */
  accessRetryForMs?: number;
  /**
   * The chat platforms whose adapter runs here now (asked before every claim): a job recorded for another
   * platform is not claimed at all and waits, queued, for the instance that runs it. Absent: no filter.
   */
  platforms?: () => readonly Platform[];
  /** Wait between tries while no adapter for the job's platform is running (default 2 h). */
  noAdapterBackoffMs?: number;
  /** Other jobs: never dead-lettered for failed attempts before they have been retrying this long (default 6 h). */
  retryForAtLeastMs?: number;
  random?: () => number;
  workerId?: string;
  onResult?: (job: Job, result: 'done' | 'retry' | 'dead' | 'lost' | 'yielded') => void;
  /** Webhooks first: before each claim the loop waits for this gate to be free, at most `priorityWaitMs` (jobs/priority-gate.ts). */
  priority?: Pick<PriorityGate, 'idle'>;
  /** The longest the loop waits for the gate before claiming anyway (default 50 ms): the worker is slowed, never stopped. */
  priorityWaitMs?: number;
}

export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  // "Equal jitter": never less than half the ceiling, so retries never bunch at zero.
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** The reason a lost lease's AbortSignal carries. */
export class LeaseLostError extends Error {
  constructor(
    readonly jobId: number,
    readonly workerId: string,
  ) {
    super(`job ${jobId}: lease of ${workerId} lost to another worker`);
    this.name = 'LeaseLostError';
  }
}

export const ACCESS_MAX_BACKOFF_MS = 5 * MINUTE_MS;
export const ACCESS_RETRY_FOR_MS = 7 * DAY_MS;
export const NO_ADAPTER_BACKOFF_MS = 2 * HOUR_MS;
export const RETRY_FOR_AT_LEAST_MS = 6 * HOUR_MS;

/** Invites and removals (lanes `invite` and `removal`): the jobs that must survive any outage. */
const isAccessJob = (job: Pick<Job, 'lane'>) => job.lane === 'invite' || job.lane === 'removal';

/** A job in the pool, as the yield decision sees it. */
interface Running {
  job: Job;
  ctx: JobCallContext;
  yieldCtl: AbortController;
}

export class Worker {
  readonly id: string;
  private readonly leaseMs: number;
  private readonly batch: number;
  private readonly inviteSlots: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly pollMs: number;
  private readonly accessMaxBackoffMs: number;
  private readonly accessRetryForMs: number;
  private readonly noAdapterBackoffMs: number;
  private readonly retryForAtLeastMs: number;
  private readonly random: () => number;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private signalled = false;
  private readonly inflight = new Set<Promise<void>>();
  /** The jobs in the pool by id (started mode and runOnce alike). */
  private readonly runningJobs = new Map<number, Running>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly jobs: JobHandlers,
    private readonly logger: Logger,
    private readonly opts: WorkerOptions = {},
  ) {
    this.id = opts.workerId ?? `w-${randomUUID().slice(0, 8)}`;
    this.leaseMs = opts.leaseMs ?? 60_000;
    this.batch = opts.batch ?? 16;
    this.inviteSlots = Math.max(0, Math.min(this.batch - 1, opts.inviteSlots ?? Math.floor(this.batch / 4)));
    this.baseBackoffMs = opts.baseBackoffMs ?? 5_000;
    this.maxBackoffMs = opts.maxBackoffMs ?? HOUR_MS;
    this.pollMs = opts.pollMs ?? 1_000;
    this.accessMaxBackoffMs = opts.accessMaxBackoffMs ?? ACCESS_MAX_BACKOFF_MS;
    this.accessRetryForMs = opts.accessRetryForMs ?? ACCESS_RETRY_FOR_MS;
    this.noAdapterBackoffMs = opts.noAdapterBackoffMs ?? NO_ADAPTER_BACKOFF_MS;
    this.retryForAtLeastMs = opts.retryForAtLeastMs ?? RETRY_FOR_AT_LEAST_MS;
    this.random = opts.random ?? Math.random;
  }

  /** Claims one batch of due jobs and runs them concurrently. Returns how many were claimed (none while the store's file is gone). */
  async runOnce(): Promise<number> {
    // The SQLite file deleted or replaced: claim nothing, so no job's effect is recorded where nobody reads it.
    if (storageProblem(this.store, this.logger) !== null) return 0;
    const claimed = await this.store.jobs.claim(this.id, this.clock.now(), this.leaseMs, this.batch, this.opts.platforms?.());
    await Promise.all(claimed.map((job) => this.run(job)));
    return claimed.length;
  }

  /** Runs batches until nothing is due now (tests; at start-up). Bounded so a bug cannot spin forever. */
  async drain(maxBatches = 1000): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const n = await this.runOnce();
      total += n;
      if (n === 0) break;
    }
    return total;
  }

  /**
   * Runs every job due now to its end, and waits for those the loop already took, until none is due or
   * running (bounded by `maxWaitMs` of real time). Time travel calls it before it moves the clock on: a job
   * still running would look abandoned once the clock passes its lease, and a reminder sent late would
   * count its days from the wrong "now".
   */
  async settle(maxWaitMs = 10_000): Promise<void> {
    const until = Date.now() + maxWaitMs;
    for (;;) {
      await Promise.all(this.inflight);
      if ((await this.drain()) > 0) continue;
      const running = this.inflight.size + (await this.store.jobs.list({ status: 'running' })).length;
      if (running === 0 || Date.now() > until) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private async run(job: Job): Promise<void> {
    const handler = this.jobs.handlers[job.kind];
    const lease = new AbortController();
    const yieldCtl = new AbortController();
    const ctx: JobCallContext = { yieldSignal: yieldCtl.signal, granted: false, yielded: false, waiting: 0 };
    this.runningJobs.set(job.id, { job, ctx, yieldCtl });
    // A job that waits long (a platform's pace) keeps its lease, so no other instance runs it twice.
    const heartbeat = this.heartbeat(job, lease);
    try {
      if (!handler) throw new ProviderRejectedError('worker', `no handler for job kind "${job.kind}"`);
      let effects;
      try {
        effects = (await runInJobContext(ctx, () => handler(job, { signal: lease.signal }))) ?? {};
      } catch (err) {
        if (ctx.yielded && !ctx.granted && !lease.signal.aborted) return await this.requeueYielded(job);
        throw err;
      }
      // Turned away by the limiter and yet it returned (something swallowed the YieldedError): it made no
      // call, so it runs again rather than count as done with its message unsent.
      if (ctx.yielded && !ctx.granted && !lease.signal.aborted) return await this.requeueYielded(job);
      // Another worker took the job while it ran: none of this run's effects are applied.
      // A job with no follow-ups is completed by one statement, without a transaction around it (two
      // statements fewer per job, and most jobs have none); follow-ups commit together with the completion.
      const hasEffects = !!effects.jobs?.length || !!effects.audit?.length;
      const ok =
        !lease.signal.aborted &&
        (hasEffects
          ? await this.store.transaction(async (tx) => {
              const now = this.clock.now();
              if (!(await tx.jobs.complete(job.id, this.id, now))) return false;
              if (effects.jobs?.length) await tx.jobs.enqueue(effects.jobs, now);
              if (effects.audit?.length) await tx.audit.insertMany(effects.audit);
              return true;
            })
          : await this.store.jobs.complete(job.id, this.id, this.clock.now()));
      this.opts.onResult?.(job, ok ? 'done' : 'lost');
      if (ok && effects.jobs?.length) this.notify();
    } catch (err) {
      if (lease.signal.aborted) this.opts.onResult?.(job, 'lost');
      else await this.fail(job, err);
    } finally {
      heartbeat.stop();
      this.runningJobs.delete(job.id);
    }
  }

  /** A job that gave its slot back before making any call: queued again at once, no attempt counted. */
  private async requeueYielded(job: Job): Promise<void> {
    const now = this.clock.now();
    let ok = false;
    try {
      ok = await this.store.jobs.retry(job.id, this.id, now, 'yielded its slot to a higher lane', false, now);
    } catch (err) {
      // Its lease runs out and it is claimed again: nothing was sent, nothing is lost.
      this.logger.error({ jobId: job.id, kind: job.kind, err }, 'could not re-queue a yielded job');
    }
    this.logger.debug?.({ jobId: job.id, kind: job.kind, lane: job.lane }, 'job yielded its slot to a higher lane');
    this.opts.onResult?.(job, ok ? 'yielded' : 'lost');
  }

  /**
   * With the pool full, asks the lowest-lane jobs that have made no call yet to give their slot back, one
   * per due job of a better lane that no yield under way already makes room for. Only lanes below removal
   * yield. Returns how many were asked.
   */
  private async yieldForBetter(): Promise<number> {
    let asked = 0;
    const candidates: Running[] = [];
    for (const r of this.runningJobs.values()) {
      if (r.yieldCtl.signal.aborted) asked++;
      else if (!r.ctx.granted && r.job.priority > LANES.removal) candidates.push(r);
    }
    if (candidates.length === 0) return 0;
    // The worst lane first; within it a job waiting in the limiter (it lets go at once, where one busy
    // with something else, a provider's API, only at its first call), then the one that started last.
    const atLimiter = (r: Running) => (r.ctx.waiting > 0 ? 0 : 1);
    candidates.sort((a, b) => b.job.priority - a.job.priority || atLimiter(a) - atLimiter(b) || b.job.id - a.job.id);
    const worst = candidates[0]!.job.priority;
    const ofWorst = candidates.filter((r) => r.job.priority === worst);
    const due = await this.store.jobs.countDueBetter(this.clock.now(), worst, ofWorst.length + asked, this.opts.platforms?.());
    const n = Math.min(ofWorst.length, due - asked);
    let yielded = 0;
    for (const r of ofWorst.slice(0, Math.max(0, n))) {
      // Granted meanwhile (the query above awaited): it keeps its slot.
      if (r.ctx.granted || !this.runningJobs.has(r.job.id)) continue;
      r.yieldCtl.abort();
      yielded++;
    }
    return yielded;
  }

  /**
   * Extends the lease every third of it, on the injectable clock. When the store says the lease is no
   * longer ours (another worker claimed the job), `lease` is aborted and the handler is told through its
   * signal. A failed extension (store unreachable) is tried again at the next beat.
   */
  private heartbeat(job: Job, lease: AbortController): { stop(): void } {
    let stopped = false;
    let wake!: () => void;
    const stoppedP = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const every = Math.max(1000, Math.floor(this.leaseMs / 3));
    void (async () => {
      while (!stopped) {
        await Promise.race([this.clock.sleep(every), stoppedP]);
        if (stopped) return;
        let held: boolean;
        try {
          held = await this.store.jobs.extendLease(job.id, this.id, this.clock.now() + this.leaseMs);
        } catch {
          continue;
        }
        if (!held && !stopped) {
          this.logger.warn({ jobId: job.id, kind: job.kind, workerId: this.id }, 'job lease lost to another worker; its effects are dropped');
          lease.abort(new LeaseLostError(job.id, this.id));
          return;
        }
      }
    })();
    return {
      stop() {
        stopped = true;
        wake();
      },
    };
  }

  private async fail(job: Job, err: unknown): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    const now = this.clock.now();
    if (err instanceof RetryAfterError) {
      const ok = await this.store.jobs.retry(job.id, this.id, now + err.retryAfterMs, message, false, now);
      this.opts.onResult?.(job, ok ? 'retry' : 'lost');
      return;
    }
    const permanent = err instanceof ProviderRejectedError;
    const access = isAccessJob(job);
    const outlived = access && now >= job.createdAt + this.accessRetryForMs;
    const exhausted = !access && job.attempts >= job.maxAttempts && now >= job.createdAt + this.retryForAtLeastMs;
    if (permanent || outlived || exhausted) {
      const followUps = await this.jobs.onDead(job, message).catch((deadErr: unknown) => {
        // Buried all the same; the follow-ups (an owner alert) are lost, and the log says why.
        this.logger.error({ jobId: job.id, kind: job.kind, err: deadErr }, 'job dead-letter follow-ups failed');
        return [];
      });
      const ok = await this.store.transaction(async (tx) => {
        if (!(await tx.jobs.bury(job.id, this.id, message, now))) return false;
        await tx.jobs.enqueue(followUps, now);
        return true;
      });
      // The boundary for a job's error: logged here once, with its stack and cause (nobody deeper logs it).
      this.logger.error({ jobId: job.id, kind: job.kind, attempts: job.attempts, err }, 'job dead-lettered');
      this.opts.onResult?.(job, ok ? 'dead' : 'lost');
      if (ok) this.notify();
      return;
    }
    let delay: number;
    if (err instanceof PlatformNotRunningError) delay = backoffDelay(1, this.noAdapterBackoffMs, this.noAdapterBackoffMs, this.random);
    else delay = backoffDelay(job.attempts, this.baseBackoffMs, access ? Math.min(this.maxBackoffMs, this.accessMaxBackoffMs) : this.maxBackoffMs, this.random);
    // An access job's last try lands on its deadline, not past it.
    if (access) delay = Math.max(0, Math.min(delay, job.createdAt + this.accessRetryForMs - now));
    const ok = await this.store.jobs.retry(job.id, this.id, now + delay, message, true, now);
    this.logger.warn({ jobId: job.id, kind: job.kind, attempts: job.attempts, retryInMs: delay, err }, 'job failed, will retry');
    this.opts.onResult?.(job, ok ? 'retry' : 'lost');
  }

  /** Wake the loop now (after a transaction enqueued work, or when a running job finished). */
  notify(): void {
    this.signalled = true;
    this.wake?.();
  }

  /**
   * Runs as a pool: up to `batch` jobs in flight, and a freed slot is refilled at once, so a job that
   * waits long on a platform's pace (WeChat's daily cap) never holds back the jobs of other platforms.
   * `inviteSlots` of them only take invites: jobs of the other lanes fill at most batch - inviteSlots, so a
   * removal batch waiting on Telegram's pace never keeps an arriving invite from starting (notify() wakes
   * the loop when one is queued; the limiter then lets it pass the waiting removals).
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        // One turn of the event loop before every claim. On SQLite every statement completes synchronously,
        // so a backlog of quick jobs would otherwise run claim after claim on promise callbacks alone, and no
        // socket (a provider's webhook) would be read until the backlog is gone: the webhook path shares the
        // one connection, and it gets its turn here, ahead of the next claim.
        await new Promise<void>((resolve) => setImmediate(resolve));
        // And webhooks being handled go first (bounded wait, see priority-gate.ts).
        await this.opts.priority?.idle(() => this.clock.sleep(this.opts.priorityWaitMs ?? 50));
        if (!this.running) break;
        const free = this.batch - this.inflight.size;
        const roomForOthers = Math.max(0, this.batch - this.inviteSlots - this.othersInflight);
        let more = false;
        if (free > 0) {
          try {
            // Best priority first, so invites come first; then, when the other lanes have used their room,
            // invites alone into the kept slots. A first claim short of its limit found nothing more due.
            const first = Math.min(free, roomForOthers);
            let got = first > 0 ? await this.claimInto(first) : 0;
            more = first > 0 && got === first;
            const left = free - got;
            if (left > 0 && (first === 0 || more)) {
              got = await this.claimInto(left, ['invite']);
              more = got === left;
            }
          } catch (err) {
            this.logger.error({ err }, 'worker claim failed');
          }
        }
        // The pool full (for the lanes but invites, or for all): a due job of a better lane than a running
        // one that has made no call yet takes its slot (a yielded job's end wakes this loop to claim it).
        if (!more && this.running && (this.inflight.size >= this.batch || this.othersInflight >= this.batch - this.inviteSlots)) {
          try {
            await this.yieldForBetter();
          } catch (err) {
            this.logger.error({ err }, 'worker yield check failed');
          }
        }
        if (!more && this.running) await this.idle();
      }
      await Promise.all(this.inflight);
    })();
  }

  /** The running jobs that are not invites (they may hold at most batch - inviteSlots slots). */
  private get othersInflight(): number {
    let n = 0;
    for (const r of this.runningJobs.values()) if (r.job.lane !== 'invite') n++;
    return n;
  }

  /** Claims up to `limit` due jobs (of `lanes`, when given) and starts them in the pool; returns how many. */
  private async claimInto(limit: number, lanes?: readonly Lane[]): Promise<number> {
    // One statement, atomic on its own: no transaction around it (on PostgreSQL that is two round trips
    // fewer per claim; the webhook path shares the database with the worker).
    const claimed = await this.store.jobs.claim(this.id, this.clock.now(), this.leaseMs, limit, this.opts.platforms?.(), lanes);
    for (const job of claimed) {
      const p: Promise<void> = this.run(job).finally(() => {
        this.inflight.delete(p);
        this.notify();
      });
      this.inflight.add(p);
    }
    return claimed.length;
  }

  /** Sleeps until the poll interval passes or someone calls notify(). */
  private async idle(): Promise<void> {
    if (this.signalled) {
      this.signalled = false;
      return;
    }
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      void this.clock.sleep(this.pollMs).then(resolve);
    });
    this.wake = null;
    this.signalled = false;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }
}
