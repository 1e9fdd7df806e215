// What each job does when it runs. Jobs are at-least-once: every handler re-reads state first and does
// nothing when the reason it was queued no longer holds (a removal for someone who renewed meanwhile).
import { trialEndingAt } from './trials.ts';
import { PlatformNotRunningError, ProviderRejectedError, ProviderUnreachableError } from '../domain/errors.ts';
import { orderSourceStatuses } from '../domain/order.ts';
import { DAY_MS, HOUR_MS } from '../domain/time.ts';
import { handleProviderEvent } from './confirm-payment.ts';
import { confirmFullRefund, refundBalance, refundRefused } from './refunds.ts';
import { runSubscriptionEdit } from './subscriptions.ts';
import type { AppDeps } from './deps.ts';
import { ownersToTell } from './actors.ts';
import {
  ALERT_OWNERS,
  CLOSE_ORDER,
  INVITE,
  type InvitePayload,
  NOTIFY,
  type NotifyPayload,
  RECONCILE_ORDER,
  REFUND,
  SUBSCRIPTION_EDIT,
  REMIND,
  REMOVE,
  type RemovePayload,
  alertOwnersJob,
  confirmationJob,
  inviteJob,
  notifyJob,
  notifyLocale,
  reconcileJob,
} from './job-kinds.ts';
import { JobRegistry } from './job-registry.ts';
import { asPaid, closeExpiredAttempts, reconcileAttempts, registerPhonePayJobs } from './phone-pay.ts';
import { DOOR_LAPSE, doorLapse } from './door.ts';
import { LEGACY_TELEGRAM_INTRUDER, LEGACY_WECHAT_REMOVE_INTRUDER, REMOVE_INTRUDER, removeIntruder } from './roster.ts';
import { jobGroupIds } from './system.ts';
import type { AuditEntry, Job, Platform } from './model.ts';
import type { ChatGateway, MessageRef, NewJob } from './ports.ts';

export interface JobEffects {
  /** Enqueued in the same transaction that marks the job done. */
  jobs?: NewJob[];
  audit?: Omit<AuditEntry, 'id'>[];
}

/** What the worker tells a running handler. */
export interface JobRun {
  /**
   * Aborted when the worker lost the job's lease (another worker took it): the handler's returned effects
   * are dropped, and a handler should check it (`signal.throwIfAborted()`) before any write or call of its own.
   */
  signal: AbortSignal;
}

export type JobHandler = (job: Job, run: JobRun) => Promise<JobEffects | void>;

export interface JobHandlers {
  /** What the worker runs, by kind (the registry's handlers). */
  handlers: Record<string, JobHandler>;
  /** Follow-ups for a job that was given up on: the owner is told. */
  onDead(job: Job, error: string): Promise<NewJob[]>;
}

/** Owner alerts: at most one of each kind per owner in this window. */
export const OWNER_ALERT_WINDOW_MS = HOUR_MS;

export function createJobHandlers(deps: AppDeps): JobHandlers & { registry: JobRegistry } {
  const { store, clock, messages, settings } = deps;

  const gatewayFor = (platform: Platform): ChatGateway => {
    const g = deps.gateways.get(platform);
    // Transient from the job's point of view: the adapter may be configured or reconnect later.
    if (!g) throw new PlatformNotRunningError(platform);
    return g;
  };

  const loadMembership = async (membershipId: number) => {
    const m = await store.memberships.get(membershipId);
    if (!m) return null;
    const [group, account] = await Promise.all([store.groups.get(m.groupId), store.accounts.get(m.accountId)]);
    if (!group || !account) return null;
    return { m, group, account };
  };

  /** The one rule for "is this removal still due?": the membership, re-read by id, is still in the status the removal was queued for. */
  const removalStillDue = async (p: RemovePayload): Promise<boolean> => (await store.memberships.get(p.membershipId))?.status === p.expectStatus;

  const registry = new JobRegistry();

  /**
   * The record that an order's confirmation went out inside an invitation message: written right after the
   * gateway sent it (before anything else can fail), so a retried or dead invite job never sends it again.
   */
  const CONFIRMED_WITH_INVITE = 'order.confirmed_with_invite';
  const confirmationSent = async (orderId: string): Promise<boolean> =>
    (await store.audit.page({ subjectType: 'order', subjectId: orderId, action: CONFIRMED_WITH_INVITE, limit: 1 })).length > 0;

  /**
   * The one rule for "first invitation" (InviteContext.firstInvite): the membership was created by the grant
   * that queued this invite (the account had no membership of the group before, so no earlier period, ban or
   * removal), and since then it was never seen in the group, never put out by a removal and never looked at
   * by the access sweep (a removal stamps checkedAt, the sweep claims by stamping it too). A re-invite from
   * the sweep, an undone removal, an unban or /invite carries no `first` and is checked as before. A gateway
   * may then skip asking whether the person is already in or banned; if they were banned before the bot
   * was bound, the invitation cannot be used, and the sweep (RECHECK later, never first) invites again
   * with the check, lifting that ban.
   */
  const firstInvite = async (p: InvitePayload, membershipId: number): Promise<boolean> => {
    if (p.first !== true) return false;
    const access = await store.memberships.getAccess(membershipId);
    return access !== null && access.confirmedAt === null && access.checkedAt === null && access.reinvites === 0;
  };

  registry.register(INVITE, async (p, _job, { signal }) => {
    // The confirmation that rides with this invite, unless an earlier attempt already delivered it.
    const confirmation = p.confirmation && !(await confirmationSent(p.confirmation.orderId)) ? p.confirmation : undefined;
    // Not delivered with an invitation: a notice of its own (one per order, whoever queues it).
    const onItsOwn = confirmation ? [confirmationJob(confirmation)] : [];
    const ctx = await loadMembership(p.membershipId);
    if (!ctx || ctx.m.status !== 'active') return { jobs: onItsOwn };
    const gateway = gatewayFor(ctx.group.platform);
    const bundled = confirmation && gateway.confirmsWithInvite === true ? confirmation : undefined;
    const first = await firstInvite(p, ctx.m.id);
    const result = await gateway.invite(ctx.group.platformChatId, ctx.account.platformUserId, {
      membershipId: ctx.m.id,
      expiresAt: ctx.m.expiresAt,
      groupTitle: ctx.group.title,
      locale: ctx.account.locale ?? ctx.group.defaultLocale ?? settings.defaultLocale,
      ...(bundled ? { confirmation: bundled.message } : {}),
      ...(first ? { firstInvite: true } : {}),
    });
    const delivered = bundled !== undefined && result === 'invited';
    if (delivered)
      await store.audit.insert({
        at: clock.now(),
        actor: 'system',
        action: CONFIRMED_WITH_INVITE,
        subjectType: 'order',
        subjectId: bundled.orderId,
        reason: `payment confirmation sent with the invitation to ${ctx.group.title}`,
        detail: { membershipId: ctx.m.id, groupId: ctx.group.id },
      });
    // The platform confirmed the person is in: the access sweep stops looking for them.
    // Another worker took the job meanwhile: its run records the outcome, not this one.
    signal.throwIfAborted();
    if (result === 'added') await store.memberships.setAccess(ctx.m.id, { confirmedAt: clock.now(), reinvites: 0 });
    return {
      jobs: delivered ? [] : onItsOwn,
      audit: [
        {
          at: clock.now(),
          actor: 'system',
          action: 'membership.invite',
          subjectType: 'membership',
          subjectId: String(ctx.m.id),
          reason: result === 'added' ? `added to ${ctx.group.title}` : `invitation to ${ctx.group.title} sent`,
          detail: { groupId: ctx.group.id },
        },
      ],
    };
  });

  registry.register(REMOVE, async (p, job, { signal }) => {
    const ctx = await loadMembership(p.membershipId);
    // Read just now: the first check needs no second read; `stillDue` re-reads before each later step.
    if (!ctx || ctx.m.status !== p.expectStatus) return;
    const result = await gatewayFor(ctx.group.platform).remove(ctx.group.platformChatId, ctx.account.platformUserId, {
      ban: p.reason === 'banned',
      stillDue: () => removalStillDue(p),
    });
    if (result !== 'removed') {
      // Renewed (or unbanned) while the removal was under way: left in, or let back in.
      const m = await store.memberships.get(ctx.m.id);
      const reinvite = result === 'undone' && m?.status === 'active';
      return {
        jobs: reinvite ? [inviteJob({ membershipId: m.id, expiresAt: m.expiresAt }, `undo-remove:${job.id}`)] : [],
        audit: [
          {
            at: clock.now(),
            actor: 'system',
            action: 'membership.removal_cancelled',
            subjectType: 'membership',
            subjectId: String(ctx.m.id),
            reason:
              result === 'undone'
                ? `removal from ${ctx.group.title} undone: the membership is ${m?.status ?? 'gone'} again${reinvite ? '; invited again' : ''}`
                : `removal from ${ctx.group.title} not carried out: the membership is ${m?.status ?? 'gone'} now`,
            detail: { groupId: ctx.group.id, reason: p.reason, result },
          },
        ],
      };
    }
    // Out by our hand: not "seen in" any more, and nothing left for the access sweep to look at.
    signal.throwIfAborted();
    await store.memberships.setAccess(ctx.m.id, { confirmedAt: null, checkedAt: clock.now(), reinvites: 0 });
    const key = p.reason === 'expired' ? 'membership.removed_expired' : p.reason === 'banned' ? 'membership.removed_banned' : 'membership.removed_revoked';
    return {
      // One notice per removal occasion (status change), however many jobs carried it out.
      jobs: [
        notifyJob(
          { accountId: ctx.account.id, message: { key, params: { group: ctx.group.title } }, onlyIf: { membershipId: ctx.m.id, statuses: [p.expectStatus] } },
          `removed:${ctx.m.id}:${p.reason}:${ctx.m.updatedAt}`,
        ),
      ],
      audit: [
        {
          at: clock.now(),
          actor: 'system',
          action: 'membership.removed',
          subjectType: 'membership',
          subjectId: String(ctx.m.id),
          reason: `removed from ${ctx.group.title}: membership ${p.reason}`,
          detail: { groupId: ctx.group.id, reason: p.reason },
        },
      ],
    };
  });

  registry.register(NOTIFY, async (p, job) => {
    if (p.onlyIf) {
      const m = await store.memberships.get(p.onlyIf.membershipId);
      if (!m || !p.onlyIf.statuses.includes(m.status)) return;
    }
    const account = await store.accounts.get(p.accountId);
    if (!account) return;
    const locale = notifyLocale(account, settings.defaultLocale);
    let text = messages.render(locale, p.message);
    if (p.coalesced) text += `\n${messages.render(locale, { key: 'owner.alert_coalesced', params: { count: p.coalesced } })}`;
    const gateway = gatewayFor(account.platform);
    if (p.choices && p.choices.length > 0 && gateway.choicesAreButtons) {
      const options = p.choices.map((c) => ({ value: c.value, label: messages.render(locale, c.label) }));
      return gateway.sendChoices(account.platformUserId, text, options, { lane: job.lane as 'notice' });
    }
    await gateway.sendText(account.platformUserId, text, { lane: job.lane as 'notice' });
  });

  registry.register(REMIND, async (p) => {
    const ctx = await loadMembership(p.membershipId);
    // Never after a renewal (the expiry moved) or once the person is out.
    if (!ctx || ctx.m.expiresAt !== p.expiresAt || (ctx.m.status !== 'active' && ctx.m.status !== 'grace')) return;
    const locale = ctx.account.locale ?? ctx.group.defaultLocale ?? settings.defaultLocale;
    // Issue 16: the end of a free trial. The reminder carries the pay option: a button for the trial's plan where
    // the platform draws buttons (the text says /renew for the others).
    const trial = ctx.m.status === 'active' ? await trialEndingAt(deps, ctx.account.id, ctx.group.id, ctx.m.expiresAt) : null;
    if (trial) {
      const gateway = gatewayFor(ctx.account.platform);
      const text = messages.render(locale, { key: 'reminder.trial', params: { plan: trial.plan.name, group: ctx.group.title, expiresAt: ctx.m.expiresAt } });
      if (gateway.choicesAreButtons)
        return gateway.sendChoices(
          ctx.account.platformUserId,
          text,
          [{ value: `plan:${trial.plan.id}`, label: messages.render(locale, { key: 'button.pay_plan', params: { plan: trial.plan.name } }) }],
          { lane: 'reminder' },
        );
      return gateway.sendText(ctx.account.platformUserId, text, { lane: 'reminder' });
    }
    const message: MessageRef =
      ctx.m.status === 'grace'
        ? { key: 'reminder.grace', params: { group: ctx.group.title, graceUntil: ctx.m.graceUntil ?? ctx.m.expiresAt + ctx.group.graceMs } }
        : {
            key: 'reminder.before',
            params: { group: ctx.group.title, expiresAt: ctx.m.expiresAt, days: Math.max(1, Math.ceil((ctx.m.expiresAt - clock.now()) / DAY_MS)) },
          };
    await gatewayFor(ctx.account.platform).sendText(ctx.account.platformUserId, messages.render(locale, message), { lane: 'reminder' });
  });

  registry.register(CLOSE_ORDER, async ({ orderId }) => {
    const order = await store.orders.get(orderId);
    if (!order || order.status !== 'expired') return;
    const provider = deps.providers.get(order.provider);
    if (!provider) return;
    try {
      await provider.close(order);
    } catch (err) {
      // Refusing to close usually means it was paid at the last moment: ask right away.
      if (err instanceof ProviderRejectedError) return { jobs: [reconcileJob(order.id, clock.now())] };
      throw err;
    }
    // Its phone attempts (issue 21) die with it too; one that refuses is asked about by the reconcile job.
    if ((await closeExpiredAttempts(deps, order, provider)).length > 0) return { jobs: [reconcileJob(order.id, clock.now())] };
  });

  registry.register(RECONCILE_ORDER, async ({ orderId }) => {
    const order = await store.orders.get(orderId);
    if (!order || !['pending', 'expired', 'refund_pending'].includes(order.status)) return;
    const provider = deps.providers.get(order.provider);
    if (!provider) return;
    // Issue 21: a pending or expired order's phone attempts may have been paid instead of its QR.
    if (order.status !== 'refund_pending') await reconcileAttempts(deps, order, provider);
    // A refund is asked about under the trade number that was paid.
    const result = await provider.query(order.status === 'refund_pending' ? await asPaid(store, order) : order);
    if (result.state === 'paid' && order.status !== 'refund_pending') {
      // Same exactly-once path as a webhook; keyed on the provider's transaction id.
      await handleProviderEvent(
        deps,
        provider,
        { ...result.event, eventId: `query:${result.event.providerTxnId}` },
        JSON.stringify({ source: 'reconcile', state: result.state }),
      );
    } else if (result.state === 'refunded' && order.status === 'refund_pending') {
      // `refunded` means the whole charge went back: booked as the part the ledger does not show yet.
      await confirmFullRefund(deps, order, `refund:${order.outRefundNo}`);
    } else if (result.state === 'refunded') {
      // Our records say unpaid, the provider says refunded: a person must look.
      await store.transaction(async (tx) => {
        const now = clock.now();
        if (
          !(await tx.orders.transition(
            order.id,
            orderSourceStatuses('hold_for_review'),
            'review',
            { reviewReason: 'the provider reports this order refunded, but it was never marked paid here' },
            now,
          ))
        )
          return;
        const plan = await tx.plans.get(order.planId);
        await tx.jobs.enqueue(
          [
            alertOwnersJob(
              {
                groupIds: plan?.groupIds ?? [],
                message: { key: 'owner.order_review', params: { orderId: order.id, reason: 'provider reports a refund for an unpaid order' } },
              },
              `alert:review:${order.id}`,
            ),
          ],
          now,
        );
      });
    }
  });

  registry.register(REFUND, async ({ orderId }) => {
    const order = await store.orders.get(orderId);
    if (!order || order.status !== 'refund_pending' || !order.outRefundNo) return;
    const provider = deps.providers.get(order.provider);
    if (!provider) throw new ProviderUnreachableError(order.provider, 'provider not enabled');
    // Always the full remaining charge: partial refunds made elsewhere are already in the ledger.
    const b = await refundBalance(store, order);
    if (b.remainingMinor <= 0) {
      await confirmFullRefund(deps, order, `refund:${order.outRefundNo}`);
      return;
    }
    let result;
    try {
      // Under the trade number that was paid (a phone attempt's, issue 21).
      result = await provider.refund({
        order: await asPaid(store, order),
        outRefundNo: order.outRefundNo,
        amountMinor: b.remainingMinor,
        reason: order.refundReason ?? 'refund',
      });
    } catch (err) {
      if (err instanceof ProviderRejectedError) {
        await refundRefused(deps, order, err.message);
        return;
      }
      throw err; // unreachable: retried with the same refund number
    }
    if (result.state === 'refunded') {
      // The provider confirmed our refund of everything left: the charge is refunded in full.
      await confirmFullRefund(deps, order, result.providerRefundId);
    }
    // `processing`: the provider's refund notification or the reconcile job will confirm it.
  });

  registerPhonePayJobs(registry, deps);
  registry.register(SUBSCRIPTION_EDIT, (p) => runSubscriptionEdit(deps, p));

  registry.register(ALERT_OWNERS, async (p, job) => {
    // The owners whose scope covers the groups (operators included); no groups: operators only.
    const owners = await ownersToTell(store, p.groupIds);
    if (owners.length === 0) deps.logger.warn({ alert: p.message.key }, 'owner alert with no owner to tell');
    // At most one alert of a kind per owner per hour; the ones held back are counted into the next.
    const jobs: NewJob[] = [];
    for (const accountId of owners) {
      const gate = await store.transaction((tx) => tx.ownerAlerts.take(accountId, p.coalesceKey ?? p.message.key, clock.now(), OWNER_ALERT_WINDOW_MS));
      if (gate.send)
        jobs.push(
          notifyJob(
            {
              accountId,
              message: p.message,
              ownerAlert: true,
              ...(gate.coalesced > 0 ? { coalesced: gate.coalesced } : {}),
              ...(p.choices ? { choices: p.choices } : {}),
            },
            `alert:${job.id}:${accountId}`,
          ),
        );
    }
    return { jobs };
  });

  async function onDead(job: Job, error: string): Promise<NewJob[]> {
    // An alert that dies (owner blocked the bot, no adapter for their platform) raises no other alert.
    if (job.kind === 'alert_owners' || (job.kind === 'notify' && (job.payload as NotifyPayload | null)?.ownerAlert)) return [];
    // The groups the job is about (an order's plan, a membership's group…; app/system.ts, the same rule that
    // decides which owner sees the dead letter in the console) decide who is told; none: the operators.
    const groupIds = await jobGroupIds(store, job);
    // The owner hears once per occasion: an invite per paid expiry, a removal per status change.
    let occasion = String(job.id);
    const payload = job.payload as Partial<InvitePayload & RemovePayload> | null;
    if (typeof payload?.membershipId === 'number') {
      const m = await store.memberships.get(payload.membershipId);
      if (job.kind === 'invite') occasion = `${payload.membershipId}:${payload.expiresAt}`;
      else if (job.kind === 'remove' && m) occasion = `${payload.membershipId}:${payload.reason}:${m.updatedAt}`;
    }
    // An invite that carried the payment confirmation: the member still hears that the payment arrived.
    const confirmation = job.kind === 'invite' ? (job.payload as Partial<InvitePayload> | null)?.confirmation : undefined;
    const confirm = confirmation && !(await confirmationSent(confirmation.orderId)) ? [confirmationJob(confirmation)] : [];
    return [
      ...confirm,
      alertOwnersJob(
        {
          groupIds,
          message: { key: 'owner.job_dead', params: { kind: job.kind, attempts: job.attempts, error: error.slice(0, 200) } },
          coalesceKey: `owner.job_dead:${job.kind}`,
        },
        `alert:dead:${job.kind}:${occasion}`,
      ),
    ];
  }

  registry.register(REMOVE_INTRUDER, (p, job) => removeIntruder(deps, p, job));
  registry.register(DOOR_LAPSE, (p) => doorLapse(deps, p));
  registry.register(LEGACY_TELEGRAM_INTRUDER, (p, job) => removeIntruder(deps, { groupId: p.groupId, userId: p.userId }, job));
  registry.register(LEGACY_WECHAT_REMOVE_INTRUDER, (p, job) => removeIntruder(deps, { groupId: p.groupId, userId: p.contactId }, job));

  return { registry, handlers: registry.handlers, onDead };
}
