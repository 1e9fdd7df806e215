import { conflict, invalid } from './errors.ts';
import { addDays } from './time.ts';

/**
 * Membership lifecycle (DESIGN.md "State machines"):
 *   active → grace → expired (removed);  active|grace → revoked (refund / owner removal);
 *   any → banned, and only `unban` leaves banned.
 *   (none)|expired|revoked → awaiting_review (paid in a `review` group, issue 17): no period yet; a `period` (the
 *   approval) starts at its startAt and invites, `reject_review` sends it to revoked. Nothing else moves it,
 *   except `ban`. A person in the group (active, grace) renews without review.
 * A paid period while active or grace extends from the current expiry (never loses days); otherwise
 * the period starts at the provider's success time and the person is invited again.
 */
export const MEMBERSHIP_STATUSES = ['active', 'grace', 'expired', 'revoked', 'banned', 'awaiting_review'] as const;
export type MembershipStatus = (typeof MEMBERSHIP_STATUSES)[number];

export interface MembershipState {
  status: MembershipStatus;
  expiresAt: number;
}

export type MembershipEvent =
  /** A paid (or comped) period of `days` starting no earlier than `startAt` (the provider's success time). */
  | { type: 'period'; days: number; startAt: number }
  /** The paid time ran out: grace begins. */
  | { type: 'lapse'; now: number }
  /** Grace is over: the person is removed. */
  | { type: 'expire'; now: number }
  /** Access withdrawn (refund, owner removal). */
  | { type: 'revoke' }
  | { type: 'ban' }
  /** Paid in a review group while not in it: waits for the rules and the owner (the period starts at approval). */
  | { type: 'await_review' }
  /** The review said no (rejected, refunded, timed out to a refund): back out, free to apply again later. */
  | { type: 'reject_review' }
  | { type: 'unban'; now: number }
  /**
   * Owner gives whole days: added to the later of the current expiry and now, so it never shortens a
   * membership (not one whose paid time runs past now, even if it was removed) and never gives days
   * that are already over. A member not in the group is invited.
   */
  | { type: 'extend'; days: number; now: number }
  /** Owner moves the expiry by whole days (positive extends; a negative value shortens but never below now). */
  | { type: 'adjust'; days: number; now: number };

export interface MembershipTransition extends MembershipState {
  /** The person is not in the group and should be invited. */
  invite: boolean;
  /** The person may be in the group and should be removed. */
  remove: boolean;
}

const inGroup = (s: MembershipStatus | undefined) => s === 'active' || s === 'grace';

/** `null` state = no membership yet. Throws a conflict for a transition the machine does not allow. */
export function applyMembershipEvent(state: MembershipState | null, event: MembershipEvent): MembershipTransition {
  const status = state?.status;
  const refuse = (): never => {
    throw conflict(`a membership that is ${status ?? 'absent'} cannot ${event.type}`);
  };
  switch (event.type) {
    case 'period': {
      if (!Number.isInteger(event.days) || event.days <= 0) throw invalid('a period must be a positive number of days');
      if (status === 'banned') return refuse();
      if (state && inGroup(status)) {
        return { status: 'active', expiresAt: addDays(state.expiresAt, event.days), invite: false, remove: false };
      }
      return { status: 'active', expiresAt: addDays(event.startAt, event.days), invite: true, remove: false };
    }
    case 'extend': {
      if (!Number.isInteger(event.days) || event.days <= 0) throw invalid('an extension must be a positive number of days');
      // Someone awaiting review is approved (or rejected), not given days around the review.
      if (status === 'banned' || status === 'awaiting_review') return refuse();
      const expiresAt = addDays(Math.max(state?.expiresAt ?? 0, event.now), event.days);
      return { status: 'active', expiresAt, invite: !inGroup(status), remove: false };
    }
    case 'lapse':
      if (!state || status !== 'active' || event.now < state.expiresAt) return refuse();
      return { ...state, status: 'grace', invite: false, remove: false };
    case 'expire':
      if (!state || status !== 'grace') return refuse();
      return { ...state, status: 'expired', invite: false, remove: true };
    case 'revoke':
      if (!state || !inGroup(status)) return refuse();
      return { ...state, status: 'revoked', invite: false, remove: true };
    case 'ban':
      if (!state) return refuse();
      if (status === 'banned') return { ...state, invite: false, remove: false };
      return { ...state, status: 'banned', invite: false, remove: true };
    case 'await_review':
      if (status === 'awaiting_review') return { ...state!, invite: false, remove: false };
      if (state && status !== 'expired' && status !== 'revoked') return refuse();
      return { status: 'awaiting_review', expiresAt: state?.expiresAt ?? 0, invite: false, remove: false };
    case 'reject_review':
      // `revoked`, not `expired`: the row may carry the expiry of time refunded before, which must never count
      // as paid time again (a renewal does not extend from a revoked expiry; grant.ts's late-renewal rule reads
      // `expired` only).
      if (!state || status !== 'awaiting_review') return refuse();
      return { ...state, status: 'revoked', invite: false, remove: false };
    case 'unban':
      if (!state || status !== 'banned') return refuse();
      if (state.expiresAt > event.now) return { ...state, status: 'active', invite: true, remove: false };
      return { ...state, status: 'expired', invite: false, remove: false };
    case 'adjust': {
      if (!Number.isInteger(event.days)) throw invalid('an adjustment must be a whole number of days');
      if (!state || !inGroup(status)) return refuse();
      // Shortening stops at now, but never moves an expiry that is already past (grace) later.
      const expiresAt = Math.max(addDays(state.expiresAt, event.days), Math.min(state.expiresAt, event.now));
      return { status: expiresAt > event.now ? 'active' : status!, expiresAt, invite: false, remove: false };
    }
  }
}

export function isMembershipStatus(s: string): s is MembershipStatus {
  return (MEMBERSHIP_STATUSES as readonly string[]).includes(s);
}
