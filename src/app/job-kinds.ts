// Payloads of the jobs the use cases enqueue. Handlers re-read state when they run (jobs are
// at-least-once), so payloads carry ids and the facts the job was created for, not copies of state.
import { z } from 'zod';
import { defineJobKind } from './job-registry.ts';
import type { NewJob } from './ports.ts';

const id = z.number().int();
const messageRef = z.object({ key: z.string(), params: z.record(z.string(), z.union([z.string(), z.number()])) });
/** Buttons under a message (Telegram inline keyboard; a numbered menu elsewhere): what is sent back, and the label. */
const choices = z.array(z.object({ value: z.string().max(64), label: messageRef })).max(10);

export const INVITE = defineJobKind(
  'invite',
  z.object({
    membershipId: id,
    /** The expiry this invite was issued for; a later renewal issues its own. */
    expiresAt: z.number(),
    /**
     * The payment confirmation rides with this invite (grant.ts decides; only for a gateway that
     * `confirmsWithInvite`): no separate notice was queued. The handler sends it on its own when the
     * invite needed no message, and `onDead` when the invite is given up on.
     */
    confirmation: z.object({ accountId: id, orderId: z.string(), message: messageRef }).optional(),
    /**
     * Queued by the grant that created the membership (the account had none in this group before): the
     * handler may tell the gateway this is the first invitation (see firstInvite in job-handlers.ts).
     * Every other invite (a sweep's, an undone removal's, an unban's, /invite's) leaves it out.
     */
    first: z.boolean().optional(),
  }),
);
export type InvitePayload = z.output<typeof INVITE.schema>;

const removalReason = z.enum(['expired', 'revoked', 'banned']);
export type RemovalReason = z.output<typeof removalReason>;

export const REMOVE = defineJobKind(
  'remove',
  z.object({
    membershipId: id,
    reason: removalReason,
    /** The membership status the removal is for; if the membership is in another status when the job runs, it does nothing. */
    expectStatus: removalReason,
  }),
);
export type RemovePayload = z.output<typeof REMOVE.schema>;

export const NOTIFY = defineJobKind(
  'notify',
  z.object({
    accountId: id,
    message: messageRef,
    /** Send only if this membership is still in one of these statuses (a "you were removed" notice after a renewal would be wrong). */
    onlyIf: z.object({ membershipId: id, statuses: z.array(z.string()) }).optional(),
    /** An owner alert: if it dies it raises no other alert. */
    ownerAlert: z.boolean().optional(),
    /** Alerts of the same kind held back before this one (said under the message). */
    coalesced: z.number().optional(),
    /** Buttons under the message (the join review's approve/reject). */
    choices: choices.optional(),
    /** The owner's broadcast this message is part of (src/app/broadcast.ts); its progress counts this job. */
    broadcastId: id.optional(),
  }),
);
export type NotifyPayload = z.output<typeof NOTIFY.schema>;

/** The language a notify is rendered in: the person's own, else the service's default. */
export const notifyLocale = (account: { locale: string | null }, defaultLocale: string): string => account.locale ?? defaultLocale;

export const ALERT_OWNERS = defineJobKind(
  'alert_owners',
  z.object({
    /** Owners of these groups are told; empty = every owner of every group (e.g. an unknown order). */
    groupIds: z.array(id),
    message: messageRef,
    /** What counts as "the same kind" for the one-per-hour limit (default: the message key). */
    coalesceKey: z.string().optional(),
    /** Buttons under the message (the join review's approve/reject). */
    choices: choices.optional(),
  }),
);
export type AlertOwnersPayload = z.output<typeof ALERT_OWNERS.schema>;

export const REMIND = defineJobKind(
  'remind',
  z.object({
    membershipId: id,
    /** The expiry this reminder is about; after a renewal it no longer matches and the job does nothing. */
    expiresAt: z.number(),
    offsetMs: z.number(),
  }),
);
export type RemindPayload = z.output<typeof REMIND.schema>;

const orderPayload = z.object({ orderId: z.string() });
export type OrderPayload = z.output<typeof orderPayload>;
export const CLOSE_ORDER = defineJobKind('close_order', orderPayload);
export const RECONCILE_ORDER = defineJobKind('reconcile_order', orderPayload);
export const REFUND = defineJobKind('refund', orderPayload);
/** Issue 21: one attempt of an order was paid; the order's other open attempts are closed at the provider. */
export const CLOSE_ATTEMPTS = defineJobKind('close_attempts', orderPayload);
/** Issue 21: a second attempt of an already paid order was paid too; that money goes back (its number is stored). */
export const REFUND_ATTEMPT = defineJobKind('refund_attempt', z.object({ tradeNo: z.string() }));
/** Cancel (or turn back on) a subscription's renewal at its rail (src/app/subscriptions.ts). */
/** `immediately`: a ban ends the subscription at the rail now, not at the period's end (absent in older jobs: false). */
export const SUBSCRIPTION_EDIT = defineJobKind('subscription_edit', z.object({ subscriptionId: id, cancel: z.boolean(), immediately: z.boolean().optional() }));
export type SubscriptionEditPayload = z.output<typeof SUBSCRIPTION_EDIT.schema>;

/** One invite per paid expiry; `occasion` marks another reason to invite for the same expiry (an unban). */
export const inviteJob = (p: InvitePayload, occasion?: string): NewJob =>
  INVITE.job(p, {
    lane: 'invite',
    about: { membershipId: p.membershipId },
    dedupeKey: `invite:${p.membershipId}:${p.expiresAt}${occasion ? `:${occasion}` : ''}`,
  });

export const removeJob = (p: RemovePayload, periodKey: number | string): NewJob =>
  REMOVE.job(p, { lane: 'removal', about: { membershipId: p.membershipId }, dedupeKey: `remove:${p.membershipId}:${p.reason}:${periodKey}` });

export const notifyJob = (p: NotifyPayload, dedupeKey?: string): NewJob =>
  NOTIFY.job(p, { lane: 'notice', about: { accountId: p.accountId }, ...(dedupeKey ? { dedupeKey } : {}) });

/** The "payment received" notice of an order, as a message of its own: at most one per order, whoever queues it. */
export const confirmationJob = (c: NonNullable<InvitePayload['confirmation']>): NewJob =>
  notifyJob({ accountId: c.accountId, message: c.message }, `paid:${c.orderId}`);

export const alertOwnersJob = (p: AlertOwnersPayload, dedupeKey?: string): NewJob =>
  ALERT_OWNERS.job(p, { lane: 'notice', ...(dedupeKey ? { dedupeKey } : {}) });

export const remindJob = (p: RemindPayload): NewJob =>
  REMIND.job(p, { lane: 'reminder', about: { membershipId: p.membershipId }, dedupeKey: `remind:${p.membershipId}:${p.expiresAt}:${p.offsetMs}` });

export const closeOrderJob = (orderId: string): NewJob => CLOSE_ORDER.job({ orderId }, { lane: 'system', dedupeKey: `close:${orderId}` });

export const reconcileJob = (orderId: string, bucket: number): NewJob =>
  RECONCILE_ORDER.job({ orderId }, { lane: 'system', dedupeKey: `reconcile:${orderId}:${bucket}` });

/** Keyed by the refund number, which is never reissued: one provider refund call chain per refund. */
export const refundJob = (orderId: string, outRefundNo: string): NewJob =>
  REFUND.job({ orderId }, { lane: 'system', dedupeKey: `refund:${outRefundNo}`, maxAttempts: 12 });

export const closeAttemptsJob = (orderId: string): NewJob => CLOSE_ATTEMPTS.job({ orderId }, { lane: 'system', dedupeKey: `close-attempts:${orderId}` });

/** Keyed by the attempt's trade number: its one refund number is stored before the job is queued. */
export const refundAttemptJob = (tradeNo: string): NewJob =>
  REFUND_ATTEMPT.job({ tradeNo }, { lane: 'system', dedupeKey: `refund-attempt:${tradeNo}`, maxAttempts: 12 });
export const subscriptionEditJob = (p: SubscriptionEditPayload, occasion: string): NewJob =>
  SUBSCRIPTION_EDIT.job(p, { lane: 'system', dedupeKey: `subscription:${p.subscriptionId}:${p.cancel ? 'cancel' : 'resume'}:${occasion}`, maxAttempts: 12 });
