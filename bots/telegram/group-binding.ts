// Groups: who may bind the bot to a group, what the bot can do there, and who is in it.
//
// my_chat_member — the bot was added, promoted, demoted or removed. Added by an owner (an account that
//   redeemed a claim code): the group is registered for that owner, and the bot checks its rights
//   (`can_invite_users` to let people in, `can_restrict_members` to remove them) and tells the owner in
//   plain words what is missing, again whenever that changes. Added by anyone else to a group nobody
//   bound: it says why and leaves.
// migrate_to_chat_id / migrate_from_chat_id — a group upgraded to a supergroup keeps its row (plans,
//   members, links, roster) under the new id.
// chat_member — keeps the roster true. The Bot API cannot list members, so the intruder policy only acts on
//   people seen joining after binding who have no membership. Who may stay and what the policy does are
//   app/roster.ts's rules: `report` (the owner is told; the default until the owner confirms a dry run) →
//   `remove` (the roster's one removal job), or `ignore`. The owner, admins, bots and whitelisted people
//   are never touched.
import { groupAudit } from '../../src/app/audit-entries.ts';
import { addGroup } from '../../src/app/catalog-admin.ts';
import { alertOwnersJob, notifyJob } from '../../src/app/job-kinds.ts';
import type { Account, Group } from '../../src/app/model.ts';
import type { TelegramRosterStatus } from './store-port.ts';
import { DomainError } from '../../src/domain/errors.ts';
import { withRetries } from './bot-api-client.ts';
import { followMigration, mayStay, render, type TelegramContext } from './context.ts';
import { removeIntruderJob } from '../../src/app/roster.ts';
import type { TelegramGateway } from './telegram-gateway.ts';
import { displayName, isAdminStatus, isInChat, type TgChat, type TgChatMember, type TgChatMemberUpdated, type TgMessage } from './updates.ts';

export type MissingRight = 'admin' | 'invite' | 'restrict';

/** What the bot lacks to let people in and take them out. */
export function missingRights(m: TgChatMember): MissingRight[] {
  if (m.status === 'creator') return [];
  if (m.status !== 'administrator') return ['admin'];
  const out: MissingRight[] = [];
  if (m.can_invite_users !== true) out.push('invite');
  if (m.can_restrict_members !== true) out.push('restrict');
  return out;
}

const rosterStatus = (m: TgChatMember): TelegramRosterStatus =>
  isAdminStatus(m.status) ? 'admin' : isInChat(m) ? 'member' : m.status === 'kicked' ? 'kicked' : 'left';

const isGroupChat = (chat: TgChat) => chat.type === 'group' || chat.type === 'supergroup';

export class GroupBinding {
  constructor(
    private readonly c: TelegramContext,
    private readonly gateway: TelegramGateway,
  ) {}

  // ------------------------------------------------------------ the bot's own membership

  async onMyChatMember(u: TgChatMemberUpdated): Promise<void> {
    // Private chats (a person blocking the bot) and channels are not groups we sell.
    if (!isGroupChat(u.chat)) return;
    const botId = this.c.botId();
    if (botId !== null && u.new_chat_member.user.id !== botId) return;
    const chatId = String(u.chat.id);
    const wasIn = isInChat(u.old_chat_member);
    const isIn = isInChat(u.new_chat_member);
    if (!wasIn && isIn) return this.added(u, chatId);
    const group = await this.c.deps.store.groups.findByChat('telegram', chatId);
    if (!group) return;
    if (wasIn && !isIn) return this.botRemoved(u, group);
    if (isIn) await this.checkRights(group, u.new_chat_member, u.date, null);
  }

  private async added(u: TgChatMemberUpdated, chatId: string): Promise<void> {
    const { store, clock } = this.c.deps;
    const adder = u.from.is_bot ? null : await store.accounts.find('telegram', String(u.from.id));
    let group = await store.groups.findByChat('telegram', chatId);
    if (!group) {
      if (!adder?.isOwner) return this.refuse(u, chatId);
      try {
        group = await addGroup(this.c.deps, {
          platform: 'telegram',
          chatId,
          title: (u.chat.title ?? '').trim() || `Telegram ${chatId}`,
          actor: { kind: 'account', accountId: adder.id },
        });
      } catch (err) {
        // Two updates racing for the same group: the other one registered it.
        if (!(err instanceof DomainError && err.code === 'conflict')) throw err;
        group = await store.groups.findByChat('telegram', chatId);
        if (!group) throw err;
      }
      await this.tellOwner(group, 'telegram.group_bound', { group: group.title, id: group.id }, `bound:${group.id}`);
    } else {
      await store.audit.insert(
        groupAudit(clock.now(), `telegram:${u.from.id}`, group, 'group.bot_added', `the bot was added back to ${group.title}`, { by: u.from.id }),
      );
    }
    await this.checkRights(group, u.new_chat_member, u.date, adder);
  }

  /** Nobody who may bind groups added the bot: say so in the group and leave. */
  private async refuse(u: TgChatMemberUpdated, chatId: string): Promise<void> {
    const { store, clock } = this.c.deps;
    await store.audit.insert({
      at: clock.now(),
      actor: `telegram:${u.from.id}`,
      action: 'group.bind_refused',
      subjectType: 'telegram_chat',
      subjectId: chatId,
      reason: 'the bot was added to a group by someone who is not an owner; it left',
      detail: { title: u.chat.title ?? null },
    });
    const text = render(this.c, u.from.language_code ?? null, 'telegram.group_not_authorised');
    try {
      await withRetries(() => this.gateway.sendText(chatId, text, { lane: 'notice' }), this.c.clock, { attempts: 3, stop: this.c.stopping });
    } catch (err) {
      this.c.logger.warn({ err: (err as Error).message }, 'telegram: could not explain before leaving a group');
    }
    await withRetries(() => this.c.client.call('leaveChat', { chat_id: chatId }, { lane: 'system' }), this.c.clock, {
      attempts: 5,
      stop: this.c.stopping,
    }).catch((err: unknown) => {
      this.c.logger.error({ err: (err as Error).message }, 'telegram: could not leave a group the bot was added to without permission');
    });
  }

  private async botRemoved(u: TgChatMemberUpdated, group: Group): Promise<void> {
    const { store, clock } = this.c.deps;
    const previous = await store.telegram.setGroupState(group.id, { botStatus: u.new_chat_member.status, missingRights: 'admin' }, clock.now());
    if (previous && !isInChat({ status: previous.botStatus })) return;
    await store.audit.insert(
      groupAudit(clock.now(), `telegram:${u.from.id}`, group, 'group.bot_removed', `the bot was removed from ${group.title}`, {
        status: u.new_chat_member.status,
      }),
    );
    await this.tellOwner(group, 'telegram.bot_removed', { group: group.title }, `removed:${group.id}:${u.date}`);
  }

  /** Records the bot's rights; tells the owner what is missing (or that all is well again) when that changes. */
  private async checkRights(group: Group, me: TgChatMember, date: number, adder: Account | null): Promise<void> {
    const { store, clock } = this.c.deps;
    const missing = missingRights(me);
    const previous = await store.telegram.setGroupState(group.id, { botStatus: me.status, missingRights: missing.join(',') }, clock.now());
    if (previous && previous.missingRights === missing.join(',') && isInChat({ status: previous.botStatus })) return;
    const owner = group.ownerAccountId !== null ? await store.accounts.get(group.ownerAccountId) : adder;
    const locale = owner?.locale ?? null;
    const key = `rights:${group.id}:${date}:${missing.join(',')}`;
    if (missing.includes('admin')) return this.tellOwner(group, 'telegram.group_not_admin', { group: group.title }, key, owner);
    if (missing.length === 0) return this.tellOwner(group, 'telegram.group_rights_ok', { group: group.title }, key, owner);
    const rights = missing.map((r) => `"${render(this.c, locale, `telegram.right_${r}`)}"`).join(', ');
    const consequences = missing.map((r) => render(this.c, locale, `telegram.cannot_${r}`)).join('; ');
    await this.tellOwner(group, 'telegram.group_rights_missing', { group: group.title, rights, consequences }, key, owner);
  }

  /** A durable notice to the group's owner (or to whoever bound it), sent by the job worker. */
  private async tellOwner(group: Group, key: string, params: Record<string, string | number>, dedupe: string, who?: Account | null): Promise<void> {
    const { store, clock } = this.c.deps;
    const accountId = group.ownerAccountId ?? who?.id ?? null;
    if (accountId === null) {
      await store.jobs.enqueue([alertOwnersJob({ groupIds: [group.id], message: { key, params } }, `telegram:${dedupe}`)], clock.now());
    } else {
      await store.jobs.enqueue([notifyJob({ accountId, message: { key, params } }, `telegram:${dedupe}`)], clock.now());
    }
    this.c.deps.onJobsEnqueued?.();
  }

  // ------------------------------------------------------------ group messages

  /** Only the supergroup migration matters in group messages; commands in groups are ignored. */
  async onGroupMessage(msg: TgMessage): Promise<void> {
    if (msg.migrate_to_chat_id !== undefined) await followMigration(this.c, String(msg.chat.id), String(msg.migrate_to_chat_id));
    else if (msg.migrate_from_chat_id !== undefined) await followMigration(this.c, String(msg.migrate_from_chat_id), String(msg.chat.id));
  }

  // ------------------------------------------------------------ roster

  async onChatMember(u: TgChatMemberUpdated): Promise<void> {
    if (!isGroupChat(u.chat)) return;
    const { store, clock } = this.c.deps;
    const user = u.new_chat_member.user;
    if (user.id === this.c.botId()) return;
    const group = await store.groups.findByChat('telegram', String(u.chat.id));
    if (!group) return;
    const userId = String(user.id);
    const now = clock.now();
    const existing = await store.telegram.getRosterEntry(group.id, userId);
    const joined = !isInChat(u.old_chat_member) && isInChat(u.new_chat_member);
    const status = rosterStatus(u.new_chat_member);
    await store.telegram.upsertRosterEntry({
      groupId: group.id,
      userId,
      displayName: displayName(user),
      isBot: user.is_bot,
      status,
      joinedAt: joined ? now : (existing?.joinedAt ?? null),
      intruderState: joined ? null : (existing?.intruderState ?? null),
      updatedAt: now,
    });
    if (!joined) return;
    const link = u.invite_link?.invite_link;
    if (link) {
      const ours = await store.telegram.findInviteLink(link);
      if (ours && ours.groupId === group.id && ours.usedAt === null) {
        await store.telegram.markInviteLinkUsed(link, now);
        if (ours.userId === userId)
          await this.gateway
            .revokeOpenLinks(String(u.chat.id), group, userId)
            .catch((err: unknown) => this.c.logger.warn({ err: (err as Error).message }, 'telegram: could not revoke a used link'));
      }
    }
    if (await mayStay(this.c, group, userId, user.is_bot, status)) return;
    await this.intruder(group, userId, displayName(user), now);
  }

  private async intruder(group: Group, userId: string, name: string, joinedAt: number): Promise<void> {
    const { store, clock } = this.c.deps;
    const now = clock.now();
    const policy = group.intruderPolicy;
    const state = policy === 'remove' ? 'removing' : policy === 'ignore' ? 'ignored' : 'reported';
    await store.transaction(async (tx) => {
      await tx.telegram.setIntruderState(group.id, userId, state, now);
      await tx.audit.insert(
        groupAudit(now, 'system', group, 'group.intruder', `Telegram user ${userId} joined ${group.title} without a membership (policy ${policy})`, {
          userId,
          policy,
        }),
      );
      if (policy === 'remove') await tx.jobs.enqueue([removeIntruderJob(group.id, { userId, name }, `join-${joinedAt}`)], now);
      if (policy === 'report') {
        const message = { key: 'telegram.intruder_report', params: { name, userId, group: group.title, groupId: group.id } };
        const key = `telegram:intruder:${group.id}:${userId}:${joinedAt}`;
        await tx.jobs.enqueue(
          [
            group.ownerAccountId !== null
              ? notifyJob({ accountId: group.ownerAccountId, message }, key)
              : alertOwnersJob({ groupIds: [group.id], message }, key),
          ],
          now,
        );
      }
    });
    if (policy !== 'ignore') this.c.deps.onJobsEnqueued?.();
  }
}
