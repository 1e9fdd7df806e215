// Payloads of the jobs the use cases enqueue. Handlers re-read state when they run (jobs are
// at-least-once), so payloads carry ids and the facts the job was created for, not copies of state.
import type { MessageRef, NewJob } from './ports.ts';

export interface InvitePayload {
  membershipId: number;
  /** The expiry this invite was issued for; a later renewal issues its own. */
  expiresAt: number;
}

export type RemovalReason = 'expired' | 'revoked' | 'banned';

export interface RemovePayload {
  membershipId: number;
  reason: RemovalReason;
  /** The membership status the removal is for; if the membership is in another status when the job runs, it does nothing. */
  expectStatus: 'expired' | 'revoked' | 'banned';
}

export interface NotifyPayload {
  accountId: number;
  message: MessageRef;
  /** Send only if this membership is still in one of these statuses (a "you were removed" notice after a renewal would be wrong). */
  onlyIf?: { membershipId: number; statuses: string[] };
  /** An owner alert: if it dies it raises no other alert. */
  ownerAlert?: boolean;
  /** Alerts of the same kind held back before this one (said under the message). */
  coalesced?: number;
}

export interface AlertOwnersPayload {
  /** Owners of these groups are told; empty = every owner of every group (e.g. an unknown order). */
  groupIds: number[];
  message: MessageRef;
  /** What counts as "the same kind" for the one-per-hour limit (default: the message key). */
  coalesceKey?: string;
}

/** One invite per paid expiry; `occasion` marks another reason to invite for the same expiry (an unban). */
export const inviteJob = (p: InvitePayload, occasion?: string): NewJob => ({
  kind: 'invite',
  payload: p,
  lane: 'access',
  dedupeKey: `invite:${p.membershipId}:${p.expiresAt}${occasion ? `:${occasion}` : ''}`,
});

export const removeJob = (p: RemovePayload, periodKey: number | string): NewJob => ({
  kind: 'remove',
  payload: p,
  lane: 'access',
  dedupeKey: `remove:${p.membershipId}:${p.reason}:${periodKey}`,
});

export const notifyJob = (p: NotifyPayload, dedupeKey?: string): NewJob => ({
  kind: 'notify',
  payload: p,
  lane: 'notice',
  ...(dedupeKey ? { dedupeKey } : {}),
});

export const alertOwnersJob = (p: AlertOwnersPayload, dedupeKey?: string): NewJob => ({
  kind: 'alert_owners',
  payload: p,
  lane: 'notice',
  ...(dedupeKey ? { dedupeKey } : {}),
});

export interface RemindPayload {
  membershipId: number;
  /** The expiry this reminder is about; after a renewal it no longer matches and the job does nothing. */
  expiresAt: number;
  offsetMs: number;
}

export interface OrderPayload {
  orderId: string;
}

export const remindJob = (p: RemindPayload): NewJob => ({
  kind: 'remind',
  payload: p,
  lane: 'reminder',
  dedupeKey: `remind:${p.membershipId}:${p.expiresAt}:${p.offsetMs}`,
});

export const closeOrderJob = (orderId: string): NewJob => ({ kind: 'close_order', payload: { orderId }, lane: 'system', dedupeKey: `close:${orderId}` });

export const reconcileJob = (orderId: string, bucket: number): NewJob => ({
  kind: 'reconcile_order',
  payload: { orderId },
  lane: 'system',
  dedupeKey: `reconcile:${orderId}:${bucket}`,
});

/** Keyed by the refund number, which is never reissued: one provider refund call chain per refund. */
export const refundJob = (orderId: string, outRefundNo: string): NewJob => ({
  kind: 'refund',
  payload: { orderId },
  lane: 'system',
  dedupeKey: `refund:${outRefundNo}`,
  maxAttempts: 12,
});
