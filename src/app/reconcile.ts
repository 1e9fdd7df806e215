// Reconcile: ask the provider about orders whose truth is there — pending ones (a notification may be
// lost), recently expired ones (a late payment), refunds in flight — so a lost notification loses
// nothing. A paid answer goes through the same exactly-once path as a webhook.
import { HOUR_MS, MINUTE_MS } from '../domain/time.ts';
import type { AppDeps } from './deps.ts';
import { reconcileJob } from './job-kinds.ts';

export const RECONCILE_INTERVAL_MS = 5 * MINUTE_MS;
/** Pending orders younger than this are left to their webhook. */
export const RECONCILE_PENDING_AFTER_MS = 2 * MINUTE_MS;
/** Expired orders are still asked about for this long (a payment made just before the close, a delayed notification). */
export const RECONCILE_EXPIRED_FOR_MS = HOUR_MS;

export async function sweepReconcile(deps: AppDeps, limit = 2000): Promise<{ queued: number }> {
  const now = deps.clock.now();
  const orders = await deps.store.orders.toReconcile({
    pendingCreatedBefore: now - RECONCILE_PENDING_AFTER_MS,
    expiredAfter: now - RECONCILE_EXPIRED_FOR_MS,
    limit,
  });
  if (orders.length === 0) return { queued: 0 };
  // One query per order per interval, however many ticks or instances run in it.
  const bucket = Math.floor(now / RECONCILE_INTERVAL_MS);
  await deps.store.jobs.enqueue(
    orders.filter((o) => deps.providers.has(o.provider)).map((o) => reconcileJob(o.id, bucket)),
    now,
  );
  deps.onJobsEnqueued?.();
  return { queued: orders.length };
}
