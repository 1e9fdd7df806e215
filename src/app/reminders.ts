// Reminders before expiry (default 3 days and 1 day before) and at expiry with the grace left. Each is
// sent once per paid period: memberships.reminded_offset_ms records the closest offset already sent for
// the current expiry (reset by every renewal) and the job's dedupe key is (membership, expires_at, offset).
// Only the window near each offset is read, so the cost follows the members about to expire.
import type { AppDeps } from './deps.ts';
import { remindJob } from './job-kinds.ts';
import { RENEWAL_SETTLE_MS } from './subscriptions.ts';

export async function sweepReminders(deps: AppDeps, batch = 1000): Promise<{ queued: number }> {
  const now = deps.clock.now();
  let queued = 0;
  for (const group of await deps.store.groups.list()) {
    const offsets = [...new Set(group.reminderOffsetsMs)].sort((a, b) => b - a);
    for (let i = 0; i < offsets.length; i++) {
      const offsetMs = offsets[i]!;
      // A member first seen inside a closer window gets only that window's reminder.
      const window =
        offsetMs > 0
          ? { statuses: ['active' as const], fromMs: now + (offsets[i + 1] ?? 0), toMs: now + offsetMs }
          : { statuses: ['grace' as const], fromMs: 0, toMs: now };
      for (;;) {
        const n = await deps.store.transaction(async (tx) => {
          const due = await tx.memberships.remindersDue({ groupId: group.id, ...window, offsetMs, limit: batch, renewalSettleMs: RENEWAL_SETTLE_MS });
          await tx.jobs.enqueue(
            due.map((m) => remindJob({ membershipId: m.id, expiresAt: m.expiresAt, offsetMs })),
            now,
          );
          await tx.memberships.markReminded(
            due.map((m) => m.id),
            offsetMs,
            now,
          );
          return due.length;
        });
        queued += n;
        if (n < batch) break;
      }
    }
  }
  if (queued > 0) deps.onJobsEnqueued?.();
  return { queued };
}
