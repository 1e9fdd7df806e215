// The roster audit. Nobody's leaving a room produces an event, so a scheduled sweep compares each bound
// room's member list with the memberships:
//   - in the room without paying (an intruder): the group's policy decides. `report` (the default) sends
//     the owner a dry-run report and touches nobody; once the owner confirms a report (/intruders confirm
//     <n>) the policy is `remove` and later audits remove such people; `ignore` does nothing. The bot,
//     the room's owner, owners and whitelisted people are never touched.
//   - paid but not in the room: offered a fresh invite (reply 重新入群).
// If many paid members look absent at once, contact ids have probably changed (a re-login): the audit
// then removes nobody and tells the owner, because kicking paid members is the worst mistake it could make.
import type { Contact, Room } from 'wechaty';
import { ownsGroup } from '../../src/app/actors.ts';
import { z } from 'zod';
import type { JobEffects } from '../../src/app/job-handlers.ts';
import { defineJobKind, type JobRegistry } from '../../src/app/job-registry.ts';
import { alertOwnersJob, notifyJob } from '../../src/app/job-kinds.ts';
import type { Account, Group, IntruderPolicy } from '../../src/app/model.ts';
import type { MembershipView, NewJob } from '../../src/app/ports.ts';
import { asReported, fingerprintOf, listWhitelist, ownedGroup, recordDryRun, setIntruderPolicy, unwhitelist, whitelist } from '../../src/app/roster.ts';
import type { ReportedIntruder } from '../../src/app/ports.ts';
import { DomainError, ProviderRejectedError, ProviderUnreachableError, RetryAfterError } from '../../src/domain/errors.ts';
import { DAY_MS, HOUR_MS } from '../../src/domain/time.ts';
import type { Identity } from './identity.ts';
import { handleOf, type RoomMembership } from './room-membership.ts';
import { contactName, errText, findRoom, paced, PLATFORM, type WechatCore } from './wechat-context.ts';

export const REMOVE_INTRUDER = defineJobKind(
  'wechat_remove_intruder',
  // reportId: jobs queued before 0009-roster still carry it.
  z.object({ groupId: z.number().int(), contactId: z.string(), reportId: z.number().int().optional() }),
);
export const REMOVE_INTRUDER_JOB = REMOVE_INTRUDER.kind;
type RemoveIntruderPayload = z.output<typeof REMOVE_INTRUDER.schema>;

export interface GroupAudit {
  groupId: number;
  intruders: number;
  absent: number;
  action: 'none' | 'reported' | 'removing' | 'ignored' | 'paused' | 'no_room';
}

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

  /** Who is in the room without a right to stay, and which paid members are not in it. */
  private async scan(group: Group, room: Room): Promise<{ intruders: ReportedIntruder[]; paid: MembershipView[]; absent: MembershipView[] }> {
    const { store } = this.core.deps;
    const memberships = await store.memberships.list({ groupId: group.id });
    const byContact = new Map(memberships.map((m) => [m.platformUserId, m]));
    const whitelist = await store.roster.listWhitelist(group.id);
    const present = new Set<number>();
    const intruders: ReportedIntruder[] = [];
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
      intruders.push(asReported({ userId: c.id, name: contactName(c), handle: handleOf(c) }));
    }
    const paid = memberships.filter((m) => m.platform === PLATFORM && (m.status === 'active' || m.status === 'grace'));
    return { intruders, paid, absent: paid.filter((m) => !present.has(m.accountId)) };
  }

  async auditGroup(group: Group): Promise<GroupAudit> {
    const { store, clock } = this.core.deps;
    const bot = this.core.bot.ready();
    const room = await findRoom(bot, group.platformChatId);
    if (!room) return { groupId: group.id, intruders: 0, absent: 0, action: 'no_room' };
    const now = clock.now();
    const { intruders, paid, absent } = await this.scan(group, room);
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
      const policy: IntruderPolicy = group.intruderPolicy;
      const fingerprint = fingerprintOf(intruders);
      if (policy === 'ignore') {
        action = 'ignored';
      } else if (policy === 'remove') {
        action = 'removing';
        const hour = Math.floor(now / HOUR_MS);
        for (const i of intruders) {
          jobs.push({
            kind: REMOVE_INTRUDER_JOB,
            payload: { groupId: group.id, contactId: i.userId } satisfies RemoveIntruderPayload,
            lane: 'access',
            dedupeKey: `wechat-intruder:${group.id}:${i.userId}:${hour}`,
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
        const latest = await store.roster.latestReport(group.id);
        if (!latest || latest.fingerprint !== fingerprint) {
          action = 'reported';
          await store.transaction(async (tx) => {
            const report = await tx.roster.insertReport({ groupId: group.id, requestedBy: null, intruders, fingerprint }, now);
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
          reason: `removed from "${group.title}": in the room without a paid membership (policy remove)`,
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
   * The same grammar as on Telegram: `/intruders` (my groups and their policy), `/intruders <group>` (dry
   * run), `/intruders <group> report|remove|ignore` (`remove` only after a dry run seen within 24 h),
   * `/whitelist <group>` (list), `/whitelist <group> <#n|contact-id>`, `/unwhitelist <group> <#n|contact-id>`
   * (#n: the person numbered n on the group's latest report). Null when the text is none of these or the
   * sender is not an owner (the engine then answers as for any unknown text).
   */
  async ownerCommand(account: Account, text: string): Promise<string | null> {
    const m = /^\/(intruders|whitelist|unwhitelist)(?:\s+(.*))?$/i.exec(text);
    if (!m) return null;
    const fresh = await this.core.deps.store.accounts.get(account.id);
    if (!fresh?.isOwner) return null;
    const args = (m[2] ?? '').trim().split(/\s+/).filter(Boolean);
    const t = (key: string, params: Record<string, string | number> = {}) =>
      this.core.deps.messages.render(fresh.locale ?? this.core.deps.settings.defaultLocale, { key, params });
    const command = m[1]!.toLowerCase();
    try {
      return command === 'intruders' ? await this.intruders(fresh, args, t) : await this.whitelistCmd(fresh, command === 'whitelist', args, t);
    } catch (err) {
      // A refusal (ours or WeChat's) is the owner's answer; anything else (the database down…) is not an
      // answer to the command and goes up to the event handler, which logs it.
      if (err instanceof DomainError || err instanceof ProviderRejectedError || err instanceof ProviderUnreachableError || err instanceof RetryAfterError)
        return t('owner.error', { reason: errText(err) });
      throw err;
    }
  }

  /** A WeChat group the owner owns, or a clear refusal. */
  private async ownGroup(owner: Account, arg: string | undefined): Promise<Group> {
    const id = arg && /^\d{1,9}$/.test(arg) ? Number(arg) : NaN;
    if (Number.isNaN(id)) throw new DomainError('invalid_input', `"${arg ?? ''}" is not a group id`);
    const g = await ownedGroup(this.core.deps, { kind: 'account', accountId: owner.id }, id);
    if (g.platform !== PLATFORM) throw new DomainError('not_found', `no WeChat group with id ${id}`);
    return g;
  }

  private async dryRun(owner: Account, group: Group, t: (k: string, p?: Record<string, string | number>) => string): Promise<string> {
    const room = await findRoom(this.core.bot.ready(), group.platformChatId);
    if (!room)
      throw new ProviderRejectedError(PLATFORM, `the bot is not in the room of "${group.title}" (or cannot see it)`, undefined, { method: 'room.memberAll' });
    const { intruders } = await this.scan(group, room);
    const report = await recordDryRun(this.core.deps, { kind: 'account', accountId: owner.id }, group, intruders);
    const policy = t(`wechat.policy.${group.intruderPolicy}`);
    if (intruders.length === 0) return t('wechat.intruders_none', { group: group.title, policy });
    const list = intruders.map((i, n) => `${n + 1}. ${i.name}`).join('\n');
    return t('wechat.intruders_dry_run', { group: group.title, groupId: group.id, policy, count: intruders.length, list, reportId: report.id });
  }

  private async intruders(owner: Account, args: string[], t: (k: string, p?: Record<string, string | number>) => string): Promise<string> {
    const { store } = this.core.deps;
    if (args.length === 0) {
      const mine = [];
      for (const g of await store.groups.list()) {
        if (g.platform !== PLATFORM || !(await ownsGroup(store, owner.id, g.id))) continue;
        mine.push(`#${g.id} ${g.title}: ${t(`wechat.policy.${g.intruderPolicy}`)}`);
      }
      return [t('wechat.intruders_usage'), ...mine].join('\n');
    }
    const group = await this.ownGroup(owner, args[0]);
    const policy = args[1]?.toLowerCase();
    if (policy === undefined) return this.dryRun(owner, group, t);
    if ((policy !== 'report' && policy !== 'remove' && policy !== 'ignore') || args.length > 2) return t('wechat.intruders_usage');
    const r = await setIntruderPolicy(this.core.deps, { kind: 'account', accountId: owner.id }, group, policy);
    // `remove` only after the owner has seen who it would remove: the dry run, then the same command again.
    if (!r.set) return `${await this.dryRun(owner, group, t)}\n${t('wechat.intruders_confirm_first', { groupId: group.id })}`;
    this.lastRun.delete(group.id); // the next tick audits it again
    return t(policy === 'remove' ? 'wechat.intruders_confirmed' : 'wechat.intruders_policy', { group: group.title, policy: t(`wechat.policy.${policy}`) });
  }

  private async whitelistCmd(owner: Account, add: boolean, args: string[], t: (k: string, p?: Record<string, string | number>) => string): Promise<string> {
    const actor = { kind: 'account', accountId: owner.id } as const;
    if (args.length === 0 || args.length > 2) return t('wechat.whitelist_usage');
    const group = await this.ownGroup(owner, args[0]);
    if (args.length === 1) {
      if (!add) return t('wechat.whitelist_usage');
      const names = (await listWhitelist(this.core.deps, actor, group)).map((w) => w.name ?? w.userId);
      return t('wechat.whitelist_list', { group: group.title, names: names.length > 0 ? names.join(', ') : '-' });
    }
    const who = await this.person(group, args[1]!);
    if (add) {
      await whitelist(this.core.deps, actor, group, who, 'from a report');
      return t('wechat.whitelist_added', { names: who.name, group: group.title });
    }
    if (!(await unwhitelist(this.core.deps, actor, group, who.userId)))
      throw new DomainError('not_found', `${who.name} is not whitelisted in group ${group.id}`);
    return t('wechat.whitelist_removed', { names: who.name, group: group.title });
  }

  /** `#n` (or `n`): the person numbered n on the group's latest report; anything else: a contact id. */
  private async person(group: Group, arg: string): Promise<ReportedIntruder> {
    const n = /^#?(\d{1,4})$/.exec(arg);
    if (n) {
      const report = await this.core.deps.store.roster.latestReport(group.id);
      const who = report?.intruders[Number(n[1]) - 1];
      if (!who) throw new DomainError('not_found', `no person #${n[1]} on the latest report of group ${group.id}; send /intruders ${group.id} for a fresh one`);
      return who;
    }
    const wl = (await this.core.deps.store.roster.listWhitelist(group.id)).find((w) => w.userId === arg);
    return { userId: arg.slice(0, 200), name: wl?.name ?? arg.slice(0, 60), handle: wl?.handle ?? null };
  }
}
