// The roster audit. Nobody's leaving a room produces an event, so a scheduled sweep compares each bound
// room's member list with the memberships:
//   - in the room without paying (an intruder): the group's policy decides. `report` (the default) sends
//     the owner a dry-run report and touches nobody; once the owner has seen a dry run and set `remove`
//     (/intruders <group>, then /intruders <group> remove: the engine's one grammar) later audits queue the
//     roster's one removal job for such people; `ignore` does nothing. Who may stay is app/roster.ts's rule:
//     the bot, the room's owner, owners and whitelisted people are never touched.
//   - paid but not in the room: offered a fresh invite (reply 重新入群).
// If many paid members look absent at once, contact ids have probably changed (a re-login): the audit
// then removes nobody and tells the owner, because kicking paid members is the worst mistake it could make.
import { groupAudit } from '../../src/app/audit-entries.ts';
import { alertOwnersJob, notifyJob } from '../../src/app/job-kinds.ts';
import type { Group, IntruderPolicy } from '../../src/app/model.ts';
import type { NewJob } from '../../src/app/ports.ts';
import { asReported, classifyRoster, fingerprintOf, idsLookChanged, removeIntruderJob } from '../../src/app/roster.ts';
import { DAY_MS, HOUR_MS } from '../../src/domain/time.ts';
import type { RoomMembership } from './room-membership.ts';
import { errText, findRoom, PLATFORM, type WechatCore } from './wechat-context.ts';

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
    // The rules sort the room (app/roster.ts); this file only acts on the answer.
    const roster = await classifyRoster(store, group, await this.membership.snapshot(group.platformChatId));
    const intruders = roster.intruders.map(asReported);
    const absent = roster.paidAbsent;
    const jobs: NewJob[] = [];
    const base = { groupId: group.id, intruders: intruders.length, absent: absent.length };

    if (idsLookChanged(roster)) {
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
        for (const i of intruders) jobs.push(removeIntruderJob(group.id, i, `hour-${hour}`));
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
            await tx.audit.insert(
              groupAudit(
                now,
                'system',
                group,
                'wechat.audit_report',
                `roster audit: ${intruders.length} in the room without a paid membership; dry-run report #${report.id} sent, nobody removed`,
                { reportId: report.id },
              ),
            );
          });
        }
      }
    }
    if (jobs.length > 0) await store.jobs.enqueue(jobs, now);
    return { ...base, action };
  }
}
