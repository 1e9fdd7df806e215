// The expiry sweep: active → grace when the paid time is over, grace → expired when grace is over.
// Set-based and batched so its cost follows the number of due rows, not the number of members; each
// batch commits the status change, the removal job and the audit line together.
import { toIso } from '../domain/time.ts';
import type { AppDeps } from './deps.ts';
import { removeJob } from './job-kinds.ts';

export const SWEEP_BATCH = 1000;

export interface ExpirySweepResult {
  lapsed: number;
  expired: number;
}

export async function sweepExpiry(deps: AppDeps, batch = SWEEP_BATCH): Promise<ExpirySweepResult> {
  const now = deps.clock.now();
  let lapsed = 0;
  let expired = 0;
  for (;;) {
    const n = await deps.store.transaction((tx) => tx.memberships.lapseDue(now, batch));
    lapsed += n;
    if (n < batch) break;
  }
  for (;;) {
    const rows = await deps.store.transaction(async (tx) => {
      const due = await tx.memberships.expireDue(now, batch);
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
    });
    expired += rows;
    if (rows < batch) break;
  }
  if (expired > 0) deps.onJobsEnqueued?.();
  return { lapsed, expired };
}
