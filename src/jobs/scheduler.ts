// The clock's entry point: node-cron calls tick() and nothing else, so tests drive every schedule by
// moving a fake clock and calling tick() themselves. Every sweep is safe to run on several instances
// at once (conditional updates, SKIP LOCKED on PostgreSQL, dedupe keys on the jobs they enqueue).
import cron from 'node-cron';
import { sweepAccess } from '../app/access-sweep.ts';
import type { AppDeps } from '../app/deps.ts';
import { sweepWinbacks } from '../app/coupons.ts';
import { sweepExpiry } from '../app/expire.ts';
import { sweepOrderTimeouts } from '../app/order-timeouts.ts';
import { sweepReconcile } from '../app/reconcile.ts';
import { sweepReminders } from '../app/reminders.ts';
import { sweepReviews } from '../app/review.ts';
import { sweepRenewalNotices } from '../app/subscriptions.ts';
import { sweepWebhookPayloads } from '../app/retention.ts';
import { storageProblem } from '../app/storage-guard.ts';
import { sweepReferralRewards } from '../app/referrals.ts';
import { sweepDigest } from '../app/digest.ts';

export type Sweep = { name: string; run: () => Promise<unknown> };

export interface TickResult {
  [sweep: string]: unknown;
}

export class Scheduler {
  private ticking: Promise<TickResult> | null = null;
  private readonly sweeps: Sweep[];

  constructor(
    private readonly deps: AppDeps,
    extra: Sweep[] = [],
  ) {
    this.sweeps = [
      { name: 'expiry', run: () => sweepExpiry(deps) },
      { name: 'reminders', run: () => sweepReminders(deps) },
      { name: 'renewalNotices', run: () => sweepRenewalNotices(deps) },
      { name: 'orderTimeouts', run: () => sweepOrderTimeouts(deps) },
      { name: 'reconcile', run: () => sweepReconcile(deps) },
      { name: 'webhookPayloads', run: () => sweepWebhookPayloads(deps) },
      { name: 'access', run: () => sweepAccess(deps) },
      { name: 'reviews', run: () => sweepReviews(deps) },
      { name: 'referrals', run: () => sweepReferralRewards(deps) },
      { name: 'digest', run: () => sweepDigest(deps) },
      { name: 'winbacks', run: () => sweepWinbacks(deps) },
      ...extra,
    ];
  }

  /**
   * A tick that reads "now" no earlier than this call: waits for a tick already running (the cron's, which
   * may have read the clock before time travel moved it), then runs one of its own.
   */
  async tickFromNow(): Promise<TickResult> {
    if (this.ticking) await this.ticking.catch(() => {});
    return this.tick();
  }

  /** Runs every sweep once (none while the store's file is gone). Overlapping calls share the running tick instead of stacking up. */
  tick(): Promise<TickResult> {
    if (!this.ticking) {
      this.ticking = (async () => {
        const result: TickResult = {};
        // The SQLite file deleted or replaced: no sweep runs (they would expire, remind and enqueue into it).
        const problem = storageProblem(this.deps.store, this.deps.logger);
        if (problem !== null) return { skipped: problem };
        for (const s of this.sweeps) result[s.name] = await s.run();
        return result;
      })().finally(() => {
        this.ticking = null;
      });
    }
    return this.ticking;
  }
}

/** Calls `tick` on a cron expression (default: every 30 seconds). Returns a stop function. */
export function startCron(scheduler: Scheduler, onError: (err: unknown) => void, expression = '*/30 * * * * *'): () => void {
  const task = cron.schedule(expression, () => {
    scheduler.tick().catch(onError);
  });
  return () => {
    void task.stop();
  };
}
