// The expiry sweep: active → grace when the paid time is over, grace → expired when grace is over.
// Set-based and batched so its cost follows the number of due rows, not the number of members; each
// batch commits the status change, the removal job and the audit line together.
import { toIso } from '../domain/time.ts';
import type { AppDeps } from './deps.ts';
import type { Membership } from './model.ts';
import type { Repos } from './ports.ts';
import { removeJob } from './job-kinds.ts';
import { RENEWAL_SETTLE_MS } from './subscriptions.ts';

export const SWEEP_BATCH = 1000;

export interface ExpirySweepResult {
  lapsed: number;
  expired: number;
}

export async function sweepExpiry(deps: AppDeps, batch = SWEEP_BATCH): Promise<ExpirySweepResult> {
  const now = deps.clock.now();
  let lapsed = 0;
  let expired = 0;
  // active → grace; a member whose grace is over as well (a group without grace, a late sweep) goes
  // straight to expired in the same write and gets its removal here. A member an active subscription renews
  // keeps at least RENEWAL_SETTLE_MS of grace: the rail charges at or a little after the period's end.
  for (;;) {
    const moved = await deps.store.transaction(async (tx) => {
      const rows = await tx.memberships.lapseDue(now, batch, RENEWAL_SETTLE_MS);
      expired += await queueRemovals(
        tx,
        rows.filter((m) => m.status === 'expired'),
        now,
      );
      return rows.length;
    });
    lapsed += moved;
    if (moved < batch) break;
  }
  for (;;) {
    const rows = await deps.store.transaction(async (tx) => queueRemovals(tx, await tx.memberships.expireDue(now, batch), now));
    expired += rows;
    if (rows < batch) break;
  }
  if (expired > 0) deps.onJobsEnqueued?.();
  return { lapsed, expired };
}

/** One removal job and one audit line per expired member, in the transaction that expired them. */
async function queueRemovals(tx: Repos, due: Membership[], now: number): Promise<number> {
  await tx.jobs.enqueue(
    due.map((m) => removeJob({ membershipId: m.id, reason: 'expired', expectStatus: 'expired' }, m.expiresAt)),
    now,
  );
  await tx.audit.insertMany(
    due.map((m) => ({
      at: now,
      actor: 'system',
      action: 'membership.expire',
      subjectType: 'membership',
      subjectId: String(m.id),
      reason: `paid period ended ${toIso(m.expiresAt)} and grace ended ${toIso(m.graceUntil ?? m.expiresAt)} without renewal; removal queued`,
      detail: { groupId: m.groupId, accountId: m.accountId, expiresAt: m.expiresAt },
    })),
  );
  return due.length;
}
