// What the worker tells the outbound limiter about the job whose handler is making a call (issue 14
// part 3: a payer never waits behind removals, nor behind a broadcast that holds a worker slot).
//
// The worker runs each handler inside an AsyncLocalStorage context holding a per-job "yield" signal and
// a `granted` flag. The limiter reads it on acquire: a call still waiting when the worker aborts the
// signal leaves the queue and its acquire rejects with YieldedError; a grant sets `granted`. The worker
// asks only a job that has not been granted any call to yield (so re-running it cannot repeat a message),
// re-queues it with no attempt counted, and a due job of a higher lane takes its slot. A call made outside
// any job (a reply to someone writing to the bot) carries no context and never yields.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface JobCallContext {
  /** Aborted by the worker when the job should give its slot back. */
  readonly yieldSignal: AbortSignal;
  /** Set by the limiter when any call of this job has been granted: from then on the job is never asked to yield. */
  granted: boolean;
  /** Set by the limiter when it turned a call of this job away because of the yield signal. */
  yielded: boolean;
  /** Calls of this job waiting in the limiter now (the worker asks such a job first: it frees its slot at once). */
  waiting: number;
}

const storage = new AsyncLocalStorage<JobCallContext>();

/** Runs `fn` (a job's handler) with `ctx` as the context every outbound call it makes will see. */
export function runInJobContext<T>(ctx: JobCallContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/** The context of the job whose handler is running here, if any. */
export function currentJobContext(): JobCallContext | undefined {
  return storage.getStore();
}

/**
 * A job's outbound call was turned away before it was granted, because the worker wants the job's slot
 * for a due job of a higher lane. Nothing was sent; the worker re-queues the job at once, no attempt counted.
 */
export class YieldedError extends Error {
  constructor() {
    super('gave its worker slot to a job of a higher lane before making any call');
    this.name = 'YieldedError';
  }
}
