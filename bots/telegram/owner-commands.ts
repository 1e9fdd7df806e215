// Telegram-only owner commands in private chat, next to the conversation's own (/groups, /members, …):
//   /intruders <group>                  dry run: who joined without a membership and would be removed
//   /intruders <group> remove           confirms that dry run: policy `remove`, and those people are removed
//   /intruders <group> report|ignore    back to telling the owner only, or to doing nothing
//   /whitelist <group> <user-id>        this person may stay without a membership
//   /unwhitelist <group> <user-id>
// The owner is checked against the store on every command; for anyone else these are unknown commands.
import { z } from 'zod';
import { defineJobKind } from '../../src/app/job-registry.ts';
import { type Actor, assertOwnerOf } from '../../src/app/actors.ts';
import { asReported, recordDryRun, setIntruderPolicy, unwhitelist, whitelist } from '../../src/app/roster.ts';
import type { Account, Group, IntruderPolicy } from '../../src/app/model.ts';
import type { NewJob } from '../../src/app/ports.ts';
import type { TelegramRosterEntry } from './store-port.ts';
import type { Reply } from '../../src/conversation/types.ts';
import { DomainError } from '../../src/domain/errors.ts';
import { mayStay, render, type TelegramContext } from './context.ts';

const LIST_LIMIT = 200;

/** Job `telegram_intruder`: remove someone who joined without a membership (handled in group-binding.ts). */
export const TELEGRAM_INTRUDER = defineJobKind('telegram_intruder', z.object({ groupId: z.number().int(), userId: z.string(), joinedAt: z.number() }));
export type IntruderPayload = z.output<typeof TELEGRAM_INTRUDER.schema>;

export const intruderJob = (groupId: number, userId: string, joinedAt: number): NewJob =>
  TELEGRAM_INTRUDER.job({ groupId, userId, joinedAt }, { lane: 'access', dedupeKey: `telegram_intruder:${groupId}:${userId}:${joinedAt}` });

export class OwnerCommands {
  constructor(private readonly c: TelegramContext) {}

  /** null: not an owner, or not one of these commands; the conversation answers instead. */
  async handle(account: Account, command: string, args: string[]): Promise<Reply[] | null> {
    if (command !== 'intruders' && command !== 'whitelist' && command !== 'unwhitelist') return null;
    const { store } = this.c.deps;
    const fresh = await store.accounts.get(account.id);
    if (!fresh?.isOwner) return null;
    const say = (key: string, params: Record<string, string | number> = {}): Reply[] => [{ type: 'text', text: render(this.c, fresh.locale, key, params) }];
    const usage = command === 'intruders' ? '/intruders <group-id> [report|remove|ignore]' : `/${command} <group-id> <telegram-user-id>`;
    const groupId = args[0] && /^\d{1,9}$/.test(args[0]) ? Number(args[0]) : NaN;
    if (Number.isNaN(groupId)) return say('owner.usage', { usage });
    const group = await store.groups.get(groupId);
    const actor: Actor = { kind: 'account', accountId: fresh.id };
    try {
      if (!group || group.platform !== 'telegram') throw new DomainError('not_found', `no Telegram group with id ${groupId}`);
      await assertOwnerOf(store, actor, group);
    } catch (err) {
      if (err instanceof DomainError) return say('owner.error', { reason: err.message });
      throw err;
    }
    if (command === 'intruders') {
      const policy = args[1]?.toLowerCase();
      if (policy === undefined) return this.dryRun(fresh, group);
      if (policy !== 'report' && policy !== 'remove' && policy !== 'ignore') return say('owner.usage', { usage });
      return this.setPolicy(fresh, group, policy);
    }
    const userId = args[1] && /^\d{1,15}$/.test(args[1]) ? args[1] : null;
    if (!userId) return say('owner.usage', { usage });
    return command === 'whitelist' ? this.whitelist(fresh, group, userId) : this.unwhitelist(fresh, group, userId);
  }

  /** People still in the group who joined without a membership, were only reported, and still have no right to stay. */
  private async intruders(group: Group): Promise<TelegramRosterEntry[]> {
    const reported = await this.c.deps.store.telegram.listRoster({ groupId: group.id, status: 'member', intruderStates: ['reported'], limit: LIST_LIMIT });
    const out: TelegramRosterEntry[] = [];
    for (const e of reported) if (!(await mayStay(this.c, group, e.userId, e.isBot, e.status))) out.push(e);
    return out;
  }

  private async dryRun(owner: Account, group: Group): Promise<Reply[]> {
    const list = await this.intruders(group);
    await recordDryRun(
      this.c.deps,
      { kind: 'account', accountId: owner.id },
      group,
      list.map((e) => asReported({ userId: e.userId, name: e.displayName })),
    );
    const t = (key: string, params: Record<string, string | number> = {}) => render(this.c, owner.locale, key, params);
    const policy = t(`telegram.policy.${group.intruderPolicy}`);
    if (list.length === 0) return [{ type: 'text', text: t('telegram.intruders_none', { group: group.title, policy }) }];
    const lines = list.map((e) => t('telegram.intruders_line', { name: e.displayName ?? e.userId, userId: e.userId, joinedAt: e.joinedAt ?? e.updatedAt }));
    return [
      { type: 'text', text: t('telegram.intruders_list', { group: group.title, groupId: group.id, policy, count: list.length, lines: lines.join('\n') }) },
    ];
  }

  private async setPolicy(owner: Account, group: Group, policy: IntruderPolicy): Promise<Reply[]> {
    const { store, clock } = this.c.deps;
    const actor: Actor = { kind: 'account', accountId: owner.id };
    const t = (key: string, params: Record<string, string | number> = {}) => render(this.c, owner.locale, key, params);
    const r = await setIntruderPolicy(this.c.deps, actor, group, policy);
    if (!r.set) {
      // `remove` only after the owner has seen who it would remove.
      const report = await this.dryRun(owner, group);
      return [...report, { type: 'text', text: t('telegram.intruders_confirm', { groupId: group.id }) }];
    }
    const list = policy === 'remove' ? await this.intruders(group) : [];
    if (list.length > 0) {
      const now = clock.now();
      await store.transaction(async (tx) => {
        for (const e of list) await tx.telegram.setIntruderState(group.id, e.userId, 'removing', now);
        await tx.jobs.enqueue(
          list.map((e) => intruderJob(group.id, e.userId, e.joinedAt ?? 0)),
          now,
        );
      });
      this.c.deps.onJobsEnqueued?.();
    }
    const out: Reply[] = [{ type: 'text', text: t('telegram.intruders_policy_set', { group: group.title, policy: t(`telegram.policy.${policy}`) }) }];
    if (policy === 'remove') out.push({ type: 'text', text: t('telegram.intruders_removing', { count: list.length }) });
    return out;
  }

  private async whitelist(owner: Account, group: Group, userId: string): Promise<Reply[]> {
    const { store, clock } = this.c.deps;
    await whitelist(this.c.deps, { kind: 'account', accountId: owner.id }, group, { userId });
    const entry = await store.telegram.getRosterEntry(group.id, userId);
    if (entry?.intruderState === 'reported' || entry?.intruderState === 'removing')
      await store.telegram.setIntruderState(group.id, userId, 'cleared', clock.now());
    return [{ type: 'text', text: render(this.c, owner.locale, 'telegram.whitelisted', { group: group.title, userId }) }];
  }

  private async unwhitelist(owner: Account, group: Group, userId: string): Promise<Reply[]> {
    const removed = await unwhitelist(this.c.deps, { kind: 'account', accountId: owner.id }, group, userId);
    if (!removed)
      return [{ type: 'text', text: render(this.c, owner.locale, 'owner.error', { reason: `user ${userId} is not whitelisted in group ${group.id}` }) }];
    return [{ type: 'text', text: render(this.c, owner.locale, 'telegram.unwhitelisted', { group: group.title, userId }) }];
  }
}
