// What each job does when it runs. Jobs are at-least-once: every handler re-reads state first and does
// nothing when the reason it was queued no longer holds (a removal for someone who renewed meanwhile).
import { ProviderUnreachableError } from '../domain/errors.ts';
import type { AppDeps } from './deps.ts';
import { type AlertOwnersPayload, type InvitePayload, type NotifyPayload, type RemovePayload, alertOwnersJob, notifyJob } from './job-kinds.ts';
import type { AuditEntry, Job, Platform } from './model.ts';
import type { ChatGateway, NewJob } from './ports.ts';

export interface JobEffects {
  /** Enqueued in the same transaction that marks the job done. */
  jobs?: NewJob[];
  audit?: Omit<AuditEntry, 'id'>[];
}

export type JobHandler = (job: Job) => Promise<JobEffects | void>;

export interface JobHandlers {
  handlers: Record<string, JobHandler>;
  /** Follow-ups for a job that was given up on: the owner is told. */
  onDead(job: Job, error: string): Promise<NewJob[]>;
}

export function createJobHandlers(deps: AppDeps): JobHandlers {
  const { store, clock, messages, settings } = deps;

  const gatewayFor = (platform: Platform): ChatGateway => {
    const g = deps.gateways.get(platform);
    // Transient from the job's point of view: the adapter may be configured or reconnect later.
    if (!g) throw new ProviderUnreachableError(platform, 'no chat adapter for this platform is running');
    return g;
  };

  const loadMembership = async (membershipId: number) => {
    const m = await store.memberships.get(membershipId);
    if (!m) return null;
    const [group, account] = await Promise.all([store.groups.get(m.groupId), store.accounts.get(m.accountId)]);
    if (!group || !account) return null;
    return { m, group, account };
  };

  const handlers: Record<string, JobHandler> = {
    async invite(job) {
      const p = job.payload as InvitePayload;
      const ctx = await loadMembership(p.membershipId);
      if (!ctx || ctx.m.status !== 'active') return;
      const result = await gatewayFor(ctx.group.platform).invite(ctx.group.platformChatId, ctx.account.platformUserId, {
        membershipId: ctx.m.id,
        expiresAt: ctx.m.expiresAt,
        groupTitle: ctx.group.title,
        locale: ctx.account.locale ?? ctx.group.defaultLocale ?? settings.defaultLocale,
      });
      return {
        audit: [{ at: clock.now(), actor: 'system', action: 'membership.invite', subjectType: 'membership', subjectId: String(ctx.m.id), reason: result === 'added' ? `added to ${ctx.group.title}` : `invitation to ${ctx.group.title} sent`, detail: { groupId: ctx.group.id } }],
      };
    },

    async remove(job) {
      const p = job.payload as RemovePayload;
      const ctx = await loadMembership(p.membershipId);
      if (!ctx || ctx.m.status !== p.expectStatus) return;
      await gatewayFor(ctx.group.platform).remove(ctx.group.platformChatId, ctx.account.platformUserId, { ban: p.reason === 'banned' });
      const key = p.reason === 'expired' ? 'membership.removed_expired' : p.reason === 'banned' ? 'membership.removed_banned' : 'membership.removed_revoked';
      return {
        jobs: [notifyJob({ accountId: ctx.account.id, message: { key, params: { group: ctx.group.title } }, onlyIf: { membershipId: ctx.m.id, statuses: [p.expectStatus] } }, `removed:${job.id}`)],
        audit: [{ at: clock.now(), actor: 'system', action: 'membership.removed', subjectType: 'membership', subjectId: String(ctx.m.id), reason: `removed from ${ctx.group.title}: membership ${p.reason}`, detail: { groupId: ctx.group.id, reason: p.reason } }],
      };
    },

    async notify(job) {
      const p = job.payload as NotifyPayload;
      if (p.onlyIf) {
        const m = await store.memberships.get(p.onlyIf.membershipId);
        if (!m || !p.onlyIf.statuses.includes(m.status)) return;
      }
      const account = await store.accounts.get(p.accountId);
      if (!account) return;
      const text = messages.render(account.locale ?? settings.defaultLocale, p.message);
      await gatewayFor(account.platform).sendText(account.platformUserId, text, { lane: job.lane as 'notice' });
    },

    async alert_owners(job) {
      const p = job.payload as AlertOwnersPayload;
      const groups = p.groupIds.length > 0 ? (await Promise.all(p.groupIds.map((id) => store.groups.get(id)))).filter((g) => g !== null) : await store.groups.list();
      const owners = [...new Set(groups.map((g) => g.ownerAccountId).filter((id): id is number => id !== null))];
      if (owners.length === 0) deps.logger.warn({ alert: p.message.key }, 'owner alert with no owner to tell');
      return { jobs: owners.map((accountId) => notifyJob({ accountId, message: p.message }, `alert:${job.id}:${accountId}`)) };
    },
  };

  async function onDead(job: Job, error: string): Promise<NewJob[]> {
    if (job.kind === 'alert_owners') return [];
    let groupIds: number[] = [];
    const membershipId = (job.payload as { membershipId?: number } | null)?.membershipId;
    if (typeof membershipId === 'number') {
      const m = await store.memberships.get(membershipId);
      if (m) groupIds = [m.groupId];
    }
    return [alertOwnersJob({ groupIds, message: { key: 'owner.job_dead', params: { kind: job.kind, attempts: job.attempts, error: error.slice(0, 200) } } }, `alert:dead:${job.id}`)];
  }

  return { handlers, onDead };
}
