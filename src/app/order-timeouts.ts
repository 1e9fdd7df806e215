// Pending orders past their window expire and the provider order is closed (so the QR stops working).
// A payment that still arrives later is honoured (expired → paid), see confirm-payment.
import type { AppDeps } from './deps.ts';
import { closeOrderJob } from './job-kinds.ts';

export async function sweepOrderTimeouts(deps: AppDeps, batch = 500): Promise<{ expired: number }> {
  const now = deps.clock.now();
  let expired = 0;
  for (;;) {
    const n = await deps.store.transaction(async (tx) => {
      const orders = await tx.orders.expireDue(now, batch);
      await tx.jobs.enqueue(
        orders.map((o) => closeOrderJob(o.id)),
        now,
      );
      return orders.length;
    });
    expired += n;
    if (n < batch) break;
  }
  if (expired > 0) deps.onJobsEnqueued?.();
  return { expired };
}
