// chat_join_request: the only way into a group is a join-request link, and only a person with an active
// membership for that group is approved. The approval itself runs as an invite job (durable, retried,
// dead-lettered with the owner told), which finds the recorded pending request and approves it. Anyone
// else is declined and, through `user_chat_id`, gets the bot's offer: a leaked link turns into a sale.
import { recordBio } from '../../src/app/review.ts';
import { groupAudit } from '../../src/app/audit-entries.ts';
import { DOOR_QUERY_LIFETIME_MS, doorDecision, doorLapseJob, doorUrl } from '../../src/app/door.ts';
import { mayStay } from '../../src/app/roster.ts';
import { inviteJob } from '../../src/app/job-kinds.ts';
import type { Group } from '../../src/app/model.ts';
import { resolveLocale } from '../../src/conversation/catalog.ts';
import type { Conversation } from '../../src/conversation/types.ts';
import { isApiError, withRetries } from './bot-api-client.ts';
import { render, type TelegramContext } from './context.ts';
import type { PrivateChat } from './private-chat.ts';
import { displayName, type TgChatJoinRequest } from './updates.ts';

export class JoinRequests {
  constructor(
    private readonly c: TelegramContext,
    private readonly conversation: Conversation,
    private readonly chat: PrivateChat,
  ) {}

  async onJoinRequest(r: TgChatJoinRequest): Promise<void> {
    const { store, clock } = this.c.deps;
    if (r.chat.type !== 'group' && r.chat.type !== 'supergroup') return;
    const group = await store.groups.findByChat('telegram', String(r.chat.id));
    // Not a group anyone bound: not ours to decide.
    if (!group) {
      this.c.logger.warn({ chat: r.chat.id }, 'telegram: join request for a group that is not registered; left alone');
      return;
    }
    // Pay at the door: the request came with a query (a Bot API with guard bots) → answered through it. Without
    // one (an older Bot API, or the bot not assigned as the group's guard) the private-chat flow below runs.
    if (group.joinMode === 'door' && r.query_id) return this.atTheDoor(r, group, r.query_id);
    const userId = String(r.from.id);
    const now = clock.now();
    const account = await store.accounts.find('telegram', userId);
    const membership = account ? (await store.memberships.list({ accountId: account.id, groupId: group.id }))[0] : undefined;
    const link = r.invite_link?.invite_link ?? null;
    const ours = link ? await store.telegram.findInviteLink(link) : null;
    if (ours && ours.userId !== userId) {
      await store.audit.insert(
        groupAudit(
          now,
          `telegram:${userId}`,
          group,
          'group.leaked_link',
          `a join link made for membership #${ours.membershipId} was used by Telegram user ${userId}`,
          { membershipId: ours.membershipId, userId },
        ),
      );
    }
    const request = { groupId: group.id, userId, userChatId: String(r.user_chat_id), inviteLink: link, requestedAt: now, decidedAt: null };
    // The join review shows the reviewer the person's Telegram bio when the request carries one.
    if (account && r.bio) await recordBio(this.c.deps, account.id, group.id, r.bio);

    if (membership?.status === 'active' && membership.expiresAt > now) {
      // Recorded and approved by a job in one transaction: a crash between the two loses nothing.
      const job = inviteJob({ membershipId: membership.id, expiresAt: membership.expiresAt });
      await store.transaction(async (tx) => {
        await tx.telegram.saveJoinRequest({ ...request, status: 'pending' });
        await tx.jobs.enqueue([{ ...job, dedupeKey: `${job.dedupeKey}:request:${r.date}` }], now);
      });
      this.c.deps.onJobsEnqueued?.();
      return;
    }
    // An owner of this group or a whitelisted person is let in without a membership (app/roster.ts decides).
    const reason = await mayStay(store, group, { userId, name: null, role: 'member', accountId: account?.id ?? null });
    if (reason === 'owner' || reason === 'whitelisted') {
      await this.decide(r, group, 'approveChatJoinRequest', 'approved');
      return;
    }
    await this.decide(r, group, 'declineChatJoinRequest', 'declined');
    await store.audit.insert(
      groupAudit(
        now,
        'system',
        group,
        'group.join_declined',
        `join request of Telegram user ${userId} declined: ${membership ? `membership ${membership.status}` : 'no membership'}`,
        { userId, link: ours ? `membership #${ours.membershipId}` : link ? 'other link' : null },
      ),
    );
    await this.offer(r, group, membership?.status === 'banned');
  }

  /**
   * The door's answer, within the query's 10 seconds: a member (or owner, or whitelisted person) is approved at
   * once, a banned person declined, anyone else gets our checkout as a Mini App; the query's lapse is queued
   * with the request in one transaction, and the invite job approves through the query once the order is paid.
   */
  private async atTheDoor(r: TgChatJoinRequest, group: Group, queryId: string): Promise<void> {
    const { store, clock } = this.c.deps;
    const userId = String(r.from.id);
    const now = clock.now();
    const decision = await doorDecision(this.c.deps, group, userId);
    const request = {
      groupId: group.id,
      userId,
      userChatId: String(r.user_chat_id),
      inviteLink: r.invite_link?.invite_link ?? null,
      requestedAt: now,
      decidedAt: null,
      queryId,
      queryExpiresAt: now + DOOR_QUERY_LIFETIME_MS,
    };
    if (decision !== 'web_app') {
      await store.telegram.saveJoinRequest({ ...request, status: 'pending' });
      const result = decision === 'approve' ? 'approve' : 'decline';
      const status = (await this.answerQuery(group, queryId, result)) ? (decision === 'approve' ? 'approved' : 'declined') : 'gone';
      await store.telegram.decideJoinRequest(group.id, userId, ['pending'], status, clock.now());
      return;
    }
    await store.transaction(async (tx) => {
      await tx.telegram.saveJoinRequest({ ...request, status: 'pending' });
      await tx.jobs.enqueue([{ ...doorLapseJob({ groupId: group.id, userId, queryId }), runAt: request.queryExpiresAt }], now);
    });
    try {
      await this.c.client.call(
        'sendChatJoinRequestWebApp',
        { chat_join_request_query_id: queryId, web_app_url: doorUrl(this.c.deps.settings.publicUrl, group.id) },
        { lane: 'invite' },
      );
    } catch (err) {
      // Too late or refused: Telegram decides the request itself; the person can ask again.
      this.c.logger.warn({ groupId: group.id, err: (err as Error).message }, 'telegram: the door could not open its Mini App');
      await store.telegram.decideJoinRequest(group.id, userId, ['pending'], 'gone', clock.now());
    }
  }

  /** answerChatJoinRequestQuery; false when Telegram no longer takes an answer for the query (handled, not thrown). */
  private async answerQuery(group: Group, queryId: string, result: 'approve' | 'decline'): Promise<boolean> {
    try {
      await this.c.client.call('answerChatJoinRequestQuery', { chat_join_request_query_id: queryId, result }, { lane: 'invite' });
      return true;
    } catch (err) {
      if (!isApiError(err)) throw err;
      this.c.logger.warn({ groupId: group.id, result, err: err.message }, 'telegram: join-request query not answered');
      return false;
    }
  }

  private async decide(
    r: TgChatJoinRequest,
    group: Group,
    method: 'approveChatJoinRequest' | 'declineChatJoinRequest',
    status: 'approved' | 'declined',
  ): Promise<void> {
    const { store, clock } = this.c.deps;
    const userId = String(r.from.id);
    await store.telegram.saveJoinRequest({
      groupId: group.id,
      userId,
      userChatId: String(r.user_chat_id),
      inviteLink: r.invite_link?.invite_link ?? null,
      status: 'pending',
      requestedAt: clock.now(),
      decidedAt: null,
    });
    try {
      await withRetries(() => this.c.client.call(method, { chat_id: String(r.chat.id), user_id: r.from.id }, { lane: 'invite' }), this.c.clock, {
        attempts: 5,
        stop: this.c.stopping,
      });
    } catch (err) {
      // Already decided elsewhere (an admin, or the person cancelled): nothing left to do.
      if (!isApiError(err, 'HIDE_REQUESTER_MISSING') && !isApiError(err, 'USER_ALREADY_PARTICIPANT')) {
        this.c.logger.warn({ groupId: group.id, method, err: (err as Error).message }, 'telegram: join request decision failed');
        return;
      }
    }
    await store.telegram.decideJoinRequest(group.id, userId, ['pending'], status, clock.now());
  }

  /** Tells the declined person why, and (unless banned) shows what is on sale. */
  private async offer(r: TgChatJoinRequest, group: Group, banned: boolean): Promise<void> {
    const locale = resolveLocale(r.from.language_code, this.c.deps.settings.defaultLocale);
    const replies = [
      { type: 'text' as const, text: render(this.c, locale, banned ? 'telegram.join_banned' : 'telegram.join_declined', { group: group.title }) },
    ];
    const offer = banned
      ? []
      : await this.conversation.handle({
          platform: 'telegram',
          userId: String(r.from.id),
          displayName: displayName(r.from),
          locale: r.from.language_code ?? null,
          text: '/start',
        });
    await this.chat.send(String(r.user_chat_id), [...replies, ...offer], locale);
  }
}
