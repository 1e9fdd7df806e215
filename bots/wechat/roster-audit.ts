// The roster audit. Nobody's leaving a room produces an event, so a scheduled sweep compares each bound
// room's member list with the memberships:
//   - in the room without paying (an intruder): the group's policy decides. `report` (the default) sends
//     the owner a dry-run report and touches nobody; once the owner confirms a report (/intruders confirm
//     <n>) the policy is `remove` and later audits remove such people; `ignore` does nothing. The bot,
//     the room's owner, owners and whitelisted people are never touched.
//   - paid but not in the room: offered a fresh invite (reply 重新入群).
// If many paid members look absent at once, contact ids have probably changed (a re-login): the audit
// then removes nobody and tells the owner, because kicking paid members is the worst mistake it could make.
import { createHash } from 'node:crypto';
import type { Contact, Room } from 'wechaty';
import { ownsGroup } from '../../src/app/actors.ts';
import { z } from 'zod';
import type { JobEffects } from '../../src/app/job-handlers.ts';
import { defineJobKind, type JobRegistry } from '../../src/app/job-registry.ts';
import { alertOwnersJob, notifyJob } from '../../src/app/job-kinds.ts';
import type { Account, Group, IntruderPolicy } from '../../src/app/model.ts';
import type { MembershipView, NewJob } from '../../src/app/ports.ts';
import type { WechatIntruder } from './store-port.ts';
import { DomainError, ProviderRejectedError, ProviderUnreachableError, RetryAfterError } from '../../src/domain/errors.ts';
import { DAY_MS, HOUR_MS } from '../../src/domain/time.ts';
import type { Identity } from './identity.ts';
import type { RoomMembership } from './room-membership.ts';
import { contactName, errText, findRoom, paced, PLATFORM, type WechatCore } from './wechat-context.ts';

export const REMOVE_INTRUDER = defineJobKind(
  'wechat_remove_intruder',
  z.object({ groupId: z.number().int(), contactId: z.string(), reportId: z.number().int() }),
);
export const REMOVE_INTRUDER_JOB = REMOVE_INTRUDER.kind;
type RemoveIntruderPayload = z.output<typeof REMOVE_INTRUDER.schema>;

export interface GroupAudit {
  groupId: number;
  intruders: number;
  absent: number;
  action: 'none' | 'reported' | 'removing' | 'ignored' | 'paused' | 'no_room';
}

const handleOf = (c: Contact): string | null => {
  try {
    return c.handle() || null;
  } catch {
    return null;
  }
};

const fingerprintOf = (intruders: WechatIntruder[]) =>
  createHash('sha256')
    .update(
      intruders
        .map((i) => i.contactId)
        .sort()
        .join('\n'),
    )
    .digest('hex')
    .slice(0, 32);

export class RosterAudit {
  private readonly lastRun = new Map<number, number>();

  constructor(
    private readonly core: WechatCore,
    private readonly identity: Identity,
    private readonly membership: RoomMembership,
  ) {}

  /** The scheduler's sweep: every bound WeChat room, each at most once per audit interval. */
  async sweep(): Promise<{ audited: GroupAudit[] } | { skipped: string }> {
    try {
      this.core.bot.ready();
    } catch {
      return { skipped: 'logged out' };
    }
    const now = this.core.deps.clock.now();
    const audited: GroupAudit[] = [];
    for (const group of await this.core.deps.store.groups.list()) {
      if (group.platform !== PLATFORM) continue;
      const last = this.lastRun.get(group.id);
      if (last !== undefined && now - last < this.core.settings.auditIntervalMs) continue;
      this.lastRun.set(group.id, now);
      try {
        audited.push(await this.auditGroup(group));
      } catch (err) {
        this.core.logger.warn({ err: errText(err), groupId: group.id }, 'wechat roster audit failed');
      }
    }
    if (audited.some((a) => a.action !== 'none' || a.absent > 0)) this.core.deps.onJobsEnqueued?.();
    return { audited };
  }

  async auditGroup(group: Group): Promise<GroupAudit> {
    const { store, clock } = this.core.deps;
    const bot = this.core.bot.ready();
    const room = await findRoom(bot, group.platformChatId);
    if (!room) return { groupId: group.id, intruders: 0, absent: 0, action: 'no_room' };
    const now = clock.now();
    const memberships = await store.memberships.list({ groupId: group.id });
    const byContact = new Map(memberships.map((m) => [m.platformUserId, m]));
    const whitelist = await store.wechat.listWhitelist(group.id);
    const present = new Set<number>();
    const intruders: WechatIntruder[] = [];
    for (const c of await room.memberAll()) {
      let m: MembershipView | undefined = byContact.get(c.id);
      let account: Account | null = m ? await store.accounts.get(m.accountId) : null;
      if (!account) {
        // Unknown id: perhaps someone we know under a new id (re-login), found by remark or WeChat ID.
        account = await this.identity.accountFor(c, { create: false });
        if (account) m = memberships.find((x) => x.accountId === account!.id);
      }
      if (account) present.add(account.id);
      if (m && (m.status === 'active' || m.status === 'grace')) continue;
      if (await this.membership.isProtected(group, room, c, account, whitelist)) continue;
      intruders.push({ contactId: c.id, name: contactName(c).slice(0, 60), handle: handleOf(c) });
    }
    const paid = memberships.filter((m) => m.platform === PLATFORM && (m.status === 'active' || m.status === 'grace'));
    const absent = paid.filter((m) => !present.has(m.accountId));
    const jobs: NewJob[] = [];
    const base = { groupId: group.id, intruders: intruders.length, absent: absent.length };

    if (absent.length >= 3 && absent.length * 2 >= paid.length && intruders.length >= 3) {
      await store.jobs.enqueue(
        [
          alertOwnersJob(
            { groupIds: [group.id], message: { key: 'wechat.audit_paused', params: { group: group.title, count: absent.length } } },
            `wechat-audit-paused:${group.id}:${Math.floor(now / DAY_MS)}`,
          ),
        ],
        now,
      );
      this.core.logger.warn({ groupId: group.id, absent: absent.length, unknown: intruders.length }, 'wechat roster audit paused: contact ids look changed');
      return { ...base, action: 'paused' };
    }

    // An invite still queued or running: the add is on its way, no offer needed.
    const inviting =
      absent.length === 0
        ? new Set<number>()
        : new Set(
            [...(await store.jobs.list({ status: 'queued', kind: 'invite' })), ...(await store.jobs.list({ status: 'running', kind: 'invite' }))].map(
              (j) => (j.payload as { membershipId?: number }).membershipId,
            ),
          );
    for (const m of absent) {
      if (m.status !== 'active' || inviting.has(m.id)) continue;
      const pending = await store.wechat.getPendingAdd(m.id);
      if (pending?.state === 'pending') continue; // an add is under way (its own time-out follows it up)
      // A recent add that failed or timed out has told the member what to do already.
      if (pending && pending.state !== 'joined' && now - pending.requestedAt < this.core.settings.absentOfferEveryMs) continue;
      const bucket = Math.floor(now / this.core.settings.absentOfferEveryMs);
      jobs.push(
        notifyJob(
          {
            accountId: m.accountId,
            message: { key: 'wechat.absent_offer', params: { group: group.title, expiresAt: m.expiresAt } },
            onlyIf: { membershipId: m.id, statuses: ['active'] },
          },
          `wechat-absent:${m.id}:${m.expiresAt}:${bucket}`,
        ),
      );
    }

    let action: GroupAudit['action'] = 'none';
    if (intruders.length > 0) {
      const binding = await store.wechat.getBinding(group.id);
      const policy: IntruderPolicy =
        group.intruderPolicy === 'remove' && binding?.confirmedReportId ? 'remove' : group.intruderPolicy === 'ignore' ? 'ignore' : 'report';
      const fingerprint = fingerprintOf(intruders);
      if (policy === 'ignore') {
        action = 'ignored';
      } else if (policy === 'remove') {
        action = 'removing';
        const hour = Math.floor(now / HOUR_MS);
        for (const i of intruders) {
          jobs.push({
            kind: REMOVE_INTRUDER_JOB,
            payload: { groupId: group.id, contactId: i.contactId, reportId: binding!.confirmedReportId! } satisfies RemoveIntruderPayload,
            lane: 'access',
            dedupeKey: `wechat-intruder:${group.id}:${i.contactId}:${hour}`,
          });
        }
        jobs.push(
          alertOwnersJob(
            {
              groupIds: [group.id],
              message: {
                key: 'wechat.audit_removing',
                params: { group: group.title, count: intruders.length, names: intruders.map((i) => i.name).join(', ') },
              },
            },
            `wechat-removing:${group.id}:${fingerprint}:${hour}`,
          ),
        );
      } else {
        const latest = await store.wechat.latestAuditReport(group.id);
        if (!latest || latest.fingerprint !== fingerprint) {
          action = 'reported';
          await store.transaction(async (tx) => {
            const report = await tx.wechat.insertAuditReport({ groupId: group.id, intruders, fingerprint }, now);
            const list = intruders.map((i, n) => `${n + 1}. ${i.name}`).join('\n');
            await tx.jobs.enqueue(
              [
                alertOwnersJob(
                  {
                    groupIds: [group.id],
                    message: {
                      key: 'wechat.audit_report',
                      params: { group: group.title, groupId: group.id, count: intruders.length, list, reportId: report.id },
                    },
                  },
                  `wechat-report:${report.id}`,
                ),
              ],
              now,
            );
            await tx.audit.insert({
              at: now,
              actor: 'system',
              action: 'wechat.audit_report',
              subjectType: 'group',
              subjectId: String(group.id),
              reason: `roster audit: ${intruders.length} in the room without a paid membership; dry-run report #${report.id} sent, nobody removed`,
              detail: { reportId: report.id },
            });
          });
        }
      }
    }
    if (jobs.length > 0) await store.jobs.enqueue(jobs, now);
    return { ...base, action };
  }

  // ------------------------------------------------------------ removal job

  registerJobKinds(registry: JobRegistry): void {
    registry.register(REMOVE_INTRUDER, (p) => this.removeIntruder(p));
  }

  /** Re-checks everything when it runs: the policy, the person's presence, payment, protection. */
  private async removeIntruder(p: RemoveIntruderPayload): Promise<JobEffects | void> {
    const { store, clock } = this.core.deps;
    const group = await store.groups.get(p.groupId);
    if (!group || group.platform !== PLATFORM || group.intruderPolicy !== 'remove') return;
    if (!(await store.wechat.getBinding(group.id))?.confirmedReportId) return;
    const bot = this.core.bot.ready();
    const room = await findRoom(bot, group.platformChatId);
    if (!room) return;
    const contact = (await room.memberAll()).find((c) => c.id === p.contactId);
    if (!contact) return; // gone already
    const account = await this.identity.accountFor(contact, { create: false });
    const m = account ? (await store.memberships.list({ accountId: account.id, groupId: group.id }))[0] : undefined;
    if (m && (m.status === 'active' || m.status === 'grace')) return; // paid meanwhile
    if (await this.membership.isProtected(group, room, contact, account)) return;
    await this.removeFromRoom(group, room, contact, async () => {
      // Checked again after the limiter's wait: someone who paid or was whitelisted meanwhile stays.
      const now = m ? await store.memberships.get(m.id) : null;
      const paid = now?.status === 'active' || now?.status === 'grace';
      return !paid && !(await this.membership.isProtected(group, room, contact, account));
    });
    return {
      audit: [
        {
          at: clock.now(),
          actor: 'system',
          action: 'wechat.intruder_removed',
          subjectType: 'group',
          subjectId: String(group.id),
          reason: `removed from "${group.title}": in the room without a paid membership (policy remove, confirmed report #${p.reportId})`,
          detail: { contactId: contact.id, accountId: account?.id ?? null },
        },
      ],
    };
  }

  private async removeFromRoom(group: Group, room: Room, contact: Contact, stillIntruder: () => Promise<boolean>) {
    if (room.owner()?.id !== this.core.bot.selfId()) {
      throw new ProviderRejectedError(
        PLATFORM,
        `the bot is not the owner (群主) of "${group.title}", so it cannot remove anyone; transfer the room to the bot`,
        undefined,
        { method: 'room.remove' },
      );
    }
    await paced(this.core, { chatId: group.platformChatId, isGroup: true, lane: 'access' }, 'room.remove', async () => {
      if (!(await stillIntruder())) throw new RetryAfterError(1000, 'no longer an intruder; re-checking');
      await room.remove(contact);
    });
    await this.membership.confirmGone(group, room.id, contact);
  }

  // ------------------------------------------------------------ owner commands (private chat)

  /**
   * `/intruders confirm <report>`, `/intruders <group> report|ignore|remove`, `/intruders`,
   * `/whitelist <report> <number>`, `/whitelist <group>`. Null when the text is none of these or the
   * sender is not an owner (the engine then answers as for any unknown text).
   */
  async ownerCommand(account: Account, text: string): Promise<string | null> {
    const m = /^\/(intruders|whitelist)(?:\s+(.*))?$/i.exec(text);
    if (!m) return null;
    const fresh = await this.core.deps.store.accounts.get(account.id);
    if (!fresh?.isOwner) return null;
    const args = (m[2] ?? '').trim().split(/\s+/).filter(Boolean);
    const t = (key: string, params: Record<string, string | number> = {}) =>
      this.core.deps.messages.render(fresh.locale ?? this.core.deps.settings.defaultLocale, { key, params });
    try {
      return m[1]!.toLowerCase() === 'intruders' ? await this.intruders(fresh, args, t) : await this.whitelistCmd(fresh, args, t);
    } catch (err) {
      // A refusal (ours or WeChat's) is the owner's answer; anything else (the database down…) is not an
      // answer to the command and goes up to the event handler, which logs it.
      if (err instanceof DomainError || err instanceof ProviderRejectedError || err instanceof ProviderUnreachableError || err instanceof RetryAfterError)
        return t('owner.error', { reason: errText(err) });
      throw err;
    }
  }

  private async ownGroup(owner: Account, groupId: number): Promise<Group | null> {
    const g = Number.isSafeInteger(groupId) ? await this.core.deps.store.groups.get(groupId) : null;
    if (!g || g.platform !== PLATFORM) return null;
    // Not theirs → null; a store failure propagates.
    return (await ownsGroup(this.core.deps.store, owner.id, g.id)) ? g : null;
  }

  private async intruders(owner: Account, args: string[], t: (k: string, p?: Record<string, string | number>) => string): Promise<string> {
    const { store, clock } = this.core.deps;
    const num = (s: string | undefined) => (s && /^\d{1,9}$/.test(s) ? Number(s) : NaN);
    if (args[0]?.toLowerCase() === 'confirm') {
      const report = Number.isNaN(num(args[1])) ? null : await store.wechat.getAuditReport(num(args[1]));
      const group = report ? await this.ownGroup(owner, report.groupId) : null;
      if (!report || !group) return t('wechat.intruders_no_report');
      await store.transaction(async (tx) => {
        await tx.wechat.setIntruderPolicy(group.id, 'remove', { reportId: report.id, by: owner.id }, clock.now());
        await tx.audit.insert({
          at: clock.now(),
          actor: `account:${owner.id}`,
          action: 'group.intruder_policy',
          subjectType: 'group',
          subjectId: String(group.id),
          reason: `dry-run report #${report.id} confirmed: people without a paid membership are removed from now on`,
          detail: { policy: 'remove', reportId: report.id },
        });
      });
      this.lastRun.delete(group.id); // the next tick audits it again
      return t('wechat.intruders_confirmed', { group: group.title });
    }
    const policy = args[1]?.toLowerCase();
    const group = args[0] ? await this.ownGroup(owner, num(args[0])) : null;
    if (group && (policy === 'report' || policy === 'ignore')) {
      await store.transaction(async (tx) => {
        await tx.wechat.setIntruderPolicy(group.id, policy, null, clock.now());
        await tx.audit.insert({
          at: clock.now(),
          actor: `account:${owner.id}`,
          action: 'group.intruder_policy',
          subjectType: 'group',
          subjectId: String(group.id),
          reason: `intruder policy set to ${policy}`,
          detail: { policy },
        });
      });
      return t('wechat.intruders_policy', { group: group.title, policy: t(`wechat.policy.${policy}`) });
    }
    if (group && policy === 'remove') {
      const latest = await store.wechat.latestAuditReport(group.id);
      return latest ? t('wechat.intruders_confirm_first', { reportId: latest.id }) : t('wechat.intruders_no_report');
    }
    const mine = [];
    for (const g of await store.groups.list()) {
      if (g.platform !== PLATFORM || !(await this.ownGroup(owner, g.id))) continue;
      const confirmed = (await store.wechat.getBinding(g.id))?.confirmedReportId;
      const effective = g.intruderPolicy === 'remove' && !confirmed ? 'report' : g.intruderPolicy;
      mine.push(`#${g.id} ${g.title}: ${t(`wechat.policy.${effective}`)}`);
    }
    return [t('wechat.intruders_usage'), ...mine].join('\n');
  }

  private async whitelistCmd(owner: Account, args: string[], t: (k: string, p?: Record<string, string | number>) => string): Promise<string> {
    const { store, clock } = this.core.deps;
    const num = (s: string | undefined) => (s && /^\d{1,9}$/.test(s) ? Number(s) : NaN);
    if (args.length === 2) {
      const report = Number.isNaN(num(args[0])) ? null : await store.wechat.getAuditReport(num(args[0]));
      const group = report ? await this.ownGroup(owner, report.groupId) : null;
      const n = num(args[1]);
      const who = report && !Number.isNaN(n) ? report.intruders[n - 1] : undefined;
      if (!report || !group) return t('wechat.intruders_no_report');
      if (!who) return t('choice.out_of_range', { max: report.intruders.length });
      await store.transaction(async (tx) => {
        if (
          await tx.wechat.addToWhitelist({ groupId: group.id, contactId: who.contactId, handle: who.handle, name: who.name, addedBy: owner.id }, clock.now())
        ) {
          await tx.audit.insert({
            at: clock.now(),
            actor: `account:${owner.id}`,
            action: 'wechat.whitelist_add',
            subjectType: 'group',
            subjectId: String(group.id),
            reason: `whitelisted from report #${report.id}`,
            detail: { contactId: who.contactId },
          });
        }
      });
      return t('wechat.whitelist_added', { names: who.name, group: group.title });
    }
    if (args.length === 1) {
      const group = await this.ownGroup(owner, num(args[0]));
      if (!group) return t('wechat.intruders_no_report');
      const names = (await store.wechat.listWhitelist(group.id)).map((w) => w.name ?? w.contactId);
      return t('wechat.whitelist_list', { group: group.title, names: names.length > 0 ? names.join(', ') : '-' });
    }
    return t('wechat.whitelist_usage');
  }
}
