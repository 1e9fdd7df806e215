// The access sweep: the safety net under the invite and removal jobs (issue 13 part 3). Jobs retry an
// outage for 7 days, but a refusal (the person had blocked the bot), a job given up on, or one lost to
// a bug before this existed still leaves a paid member outside or a lapsed one inside. Each tick looks
// at a bounded batch of memberships and asks the platform (ChatGateway.memberStatus: Telegram
// getChatMember, the WeChat room roster, the playground roster) where the person is. The rule, here
// and nowhere else:
//   - "invite confirmed" = the person was seen in the group: an invite the platform answered `added`,
//     or this sweep finding them in. Our own removal clears it. Someone who left on their own after
//     being seen in is not chased.
//   - active, paid time left, never confirmed, RECHECK after the grant (the platform's own invitation and
//     its follow-ups, e.g. WeChat's invitation wait, go first) → a fresh invite (at most
//     MAX_SWEEP_REINVITES, RECHECK apart). These invites never carry `first`, so the gateway checks
//     where the person is before inviting: this is what lets a first invitation skip that check
//     (job-handlers.ts firstInvite) without leaving a paid member out, e.g. someone an owner banned
//     before the bot was bound, whose first link could not be used: Telegram's ban is lifted here.
//   - expired, revoked or banned and still seen in the group → removed again (the removal job re-checks
//     the membership before it acts, like every removal); looked at again RECHECK later while still in,
//     at most MAX_SWEEP_REINVITES times (a refusal is told to the owner once by the dead job).
//   - owners and admins (memberStatus `admin`) are never removed; `unknown` changes nothing.
// Safe on several instances: the batch is claimed with a stamp (SKIP LOCKED on PostgreSQL) and the jobs
// it enqueues carry dedupe keys. Platforms with no running adapter are left out of the batch.
import { HOUR_MS, MINUTE_MS } from '../domain/time.ts';
import { ProviderRejectedError, ProviderUnreachableError, RetryAfterError } from '../domain/errors.ts';
import type { AppDeps } from './deps.ts';
import { inviteJob, removeJob, type RemovalReason } from './job-kinds.ts';
import type { Platform } from './model.ts';
import type { AccessCheck, NewJob } from './ports.ts';

export const ACCESS_SWEEP_BATCH = 50;
/** A lapsed membership whose status changed more recently than this is left to its own removal job. */
export const ACCESS_SETTLE_MS = 15 * MINUTE_MS;
/** How long before an unconfirmed member, or a lapsed one still seen in, is looked at again. */
export const ACCESS_RECHECK_MS = 6 * HOUR_MS;
export const MAX_SWEEP_REINVITES = 3;

export interface AccessSweepResult {
  checked: number;
  confirmed: number;
  reinvited: number;
  removing: number;
  /** Platforms that could not be asked this tick (their rows are looked at again next tick). */
  unreachable: Platform[];
}

export async function sweepAccess(deps: AppDeps, batch = ACCESS_SWEEP_BATCH): Promise<AccessSweepResult> {
  const { store, clock } = deps;
  const now = clock.now();
  const result: AccessSweepResult = { checked: 0, confirmed: 0, reinvited: 0, removing: 0, unreachable: [] };
  const platforms = [...deps.gateways.keys()];
  const rows = await store.transaction((tx) =>
    tx.memberships.claimAccessChecks({
      now,
      platforms,
      settledBefore: now - ACCESS_SETTLE_MS,
      recheckBefore: now - ACCESS_RECHECK_MS,
      maxReinvites: MAX_SWEEP_REINVITES,
      limit: batch,
    }),
  );
  const down = new Set<Platform>();
  for (const row of rows) {
    const gateway = deps.gateways.get(row.platform);
    if (!gateway || down.has(row.platform)) {
      await store.memberships.setAccess(row.membershipId, { checkedAt: null });
      continue;
    }
    let where;
    try {
      where = await gateway.memberStatus(row.chatId, row.userId);
    } catch (err) {
      // Our own failure (the database…) is not the platform's: the row is put back and the error goes up
      // to the tick, which logs it, instead of being logged as "could not ask the platform".
      if (!(err instanceof ProviderRejectedError || err instanceof ProviderUnreachableError || err instanceof RetryAfterError)) {
        await store.memberships.setAccess(row.membershipId, { checkedAt: null });
        throw err;
      }
      // Unreachable (or asked to wait): this row and the rest of this platform's are looked at next tick.
      // A refusal (chat gone, rights missing) is left for the RECHECK interval.
      if (!(err instanceof ProviderRejectedError)) {
        down.add(row.platform);
        await store.memberships.setAccess(row.membershipId, { checkedAt: null });
      }
      deps.logger.warn(
        { membershipId: row.membershipId, platform: row.platform, err: err instanceof Error ? err.message : String(err) },
        'access sweep: could not ask the platform',
      );
      continue;
    }
    result.checked++;
    const inGroup = where === 'member' || where === 'admin';
    if (row.status === 'active') {
      if (inGroup) {
        await store.memberships.setAccess(row.membershipId, { confirmedAt: now, reinvites: 0 });
        result.confirmed++;
      } else if (where === 'absent' || where === 'banned') {
        await enqueue(
          deps,
          row,
          [inviteJob({ membershipId: row.membershipId, expiresAt: row.expiresAt }, `sweep:${now}`)],
          'membership.reinvite',
          `never seen in the group: a fresh invite (${row.reinvites + 1} of ${MAX_SWEEP_REINVITES})`,
          true,
        );
        result.reinvited++;
      }
    } else if (where === 'member') {
      const reason: RemovalReason = row.status === 'expired' ? 'expired' : row.status === 'banned' ? 'banned' : 'revoked';
      await enqueue(
        deps,
        row,
        [removeJob({ membershipId: row.membershipId, reason, expectStatus: reason }, `sweep:${row.updatedAt}:${now}`)],
        'membership.reremove',
        `membership ${row.status} but still in the group: removal queued again`,
        false,
      );
      result.removing++;
    } else if (where !== 'admin' && where !== 'unknown') {
      if (row.confirmedAt !== null) await store.memberships.setAccess(row.membershipId, { confirmedAt: null });
    }
  }
  result.unreachable = [...down];
  if (result.reinvited + result.removing > 0) deps.onJobsEnqueued?.();
  return result;
}

async function enqueue(deps: AppDeps, row: AccessCheck, jobs: NewJob[], action: string, reason: string, reinvite: boolean): Promise<void> {
  const now = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    await tx.jobs.enqueue(jobs, now);
    // Seen in (removal) or not yet (invite): stamped so the row is looked at again only after RECHECK.
    // The same counter bounds repeated removals (an admin the platform will not let us remove, say).
    await tx.memberships.setAccess(row.membershipId, reinvite ? { reinvites: 'increment' } : { confirmedAt: now, reinvites: 'increment' });
    await tx.audit.insert({
      at: now,
      actor: 'system',
      action,
      subjectType: 'membership',
      subjectId: String(row.membershipId),
      reason,
      detail: { groupId: row.groupId, status: row.status },
    });
  });
}
