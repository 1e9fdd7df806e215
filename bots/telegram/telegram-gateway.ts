// The core's ChatGateway on Telegram. Every method is one or a few Bot API calls through the rate-limited
// client, and throws the core's typed errors, so the job worker retries, waits or dead-letters.
//
// invite: a person who already asked to join (a pending join request recorded by join-requests.ts) is
//   approved; someone already in is left alone (asked with getChatMember, except on a first invitation of
//   someone the bot never had dealings with: see below); otherwise a join-request link made for this membership
//   (`creates_join_request`, `name` = the membership, `expire_date`) is sent to them. The link lets
//   nobody in by itself: only a person with an active membership is approved when they use it.
// remove: banChatMember then unbanChatMember, so the person is out but free to come back after renewing;
//   with `ban` the ban stays until an owner unbans. Either way getChatMember must confirm it, or the job is
//   retried. Owners and admins are never touched. Right before each step the core's `stillDue()` is asked
//   again (the rule lives in app/): a renewal that lands while calls wait stops the removal, and a ban
//   already set is lifted ('undone': the core invites the person again).
import type { Group, Platform } from '../../src/app/model.ts';
import type {
  ChatGateway,
  ChatMemberStatus,
  Choice,
  InviteContext,
  InviteResult,
  Lane,
  RemoveOptions,
  RemoveResult,
  RosterPerson,
  SendOptions,
} from '../../src/app/ports.ts';
import { ProviderRejectedError, ProviderUnreachableError } from '../../src/domain/errors.ts';
import { DAY_MS, HOUR_MS } from '../../src/domain/time.ts';
import { isApiError } from './bot-api-client.ts';
import { inChat, render, type TelegramContext } from './context.ts';
import { isAdminStatus, isInChat, type TgChatMember } from './updates.ts';

/** Telegram's limit is 4096 characters per message; stay a little below. */
export const MAX_TEXT = 4000;
export const MAX_CAPTION = 1000;
const MAX_CALLBACK_BYTES = 64;
/** Longest a join link stays valid; a member who needs another sends /invite. */
export const LINK_TTL_MS = 30 * DAY_MS;

export interface UrlButton {
  label: string;
  url: string;
}

/** Splits a long text at line ends into messages Telegram accepts. */
export function splitText(text: string, max = MAX_TEXT): string[] {
  const out: string[] = [];
  let cur = '';
  for (const line of (text || ' ').split('\n')) {
    let rest = line;
    while (rest.length > max) {
      if (cur) {
        out.push(cur);
        cur = '';
      }
      out.push(rest.slice(0, max));
      rest = rest.slice(max);
    }
    if (cur && cur.length + 1 + rest.length > max) {
      out.push(cur);
      cur = '';
    }
    cur = cur ? `${cur}\n${rest}` : rest;
  }
  if (cur || out.length === 0) out.push(cur || ' ');
  return out;
}

const urlKeyboard = (b: UrlButton) => ({ inline_keyboard: [[{ text: b.label.slice(0, 100) || b.url.slice(0, 64), url: b.url }]] });

export class TelegramGateway implements ChatGateway {
  readonly platform: Platform = 'telegram';
  /** The payment confirmation and the join link travel in one message (text + URL button). */
  readonly confirmsWithInvite = true;
  /** Choices are an inline keyboard: a press comes back as a callback query with the value. */
  readonly choicesAreButtons = true;

  /** The bot's own username, asked once (getMe) for deep links. */
  private username: Promise<string> | null = null;

  constructor(private readonly c: TelegramContext) {}

  /**
   * A deep link to the bot carrying `payload` (referral codes: `ref-<code>`). Per the Bot API, a link
   * `https://t.me/<bot_username>?start=<parameter>` opens the chat with the bot and sends `/start <parameter>`;
   * the parameter is up to 64 characters of A-Z, a-z, 0-9, _ and - [core.telegram.org/bots/features#deep-linking].
   */
  async startLink(payload: string): Promise<string> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(payload)) throw new Error('a deep-link payload is 1-64 characters of [A-Za-z0-9_-]');
    this.username ??= this.c.client
      .call<{ username?: string }>('getMe', {}, { lane: 'notice' })
      .then((me) => {
        if (!me?.username) throw new ProviderUnreachableError('telegram', 'getMe returned no username', { method: 'getMe' });
        return me.username;
      })
      .catch((err: unknown) => {
        this.username = null;
        throw err;
      });
    return `https://t.me/${await this.username}?start=${payload}`;
  }

  // ------------------------------------------------------------ messages

  async sendText(userId: string, text: string, opts: SendOptions): Promise<void> {
    for (const part of splitText(text)) await this.c.client.call('sendMessage', { chat_id: userId, text: part }, { lane: opts.lane });
  }

  async sendImage(userId: string, png: Buffer, caption: string, opts: SendOptions): Promise<void> {
    await this.sendPhoto(userId, png, caption, null, opts.lane);
  }

  async sendChoices(userId: string, text: string, choices: Choice[], opts: SendOptions): Promise<void> {
    const usable = choices.filter((ch) => Buffer.byteLength(ch.value, 'utf8') <= MAX_CALLBACK_BYTES && ch.value.length > 0);
    if (usable.length < choices.length)
      this.c.logger.warn({ dropped: choices.length - usable.length }, 'telegram: choice values longer than 64 bytes cannot be buttons');
    const parts = splitText(text);
    for (const [i, part] of parts.entries()) {
      const last = i === parts.length - 1;
      await this.c.client.call(
        'sendMessage',
        {
          chat_id: userId,
          text: part,
          ...(last && usable.length > 0
            ? { reply_markup: { inline_keyboard: usable.map((ch) => [{ text: ch.label.slice(0, 100) || ch.value, callback_data: ch.value }]) } }
            : {}),
        },
        { lane: opts.lane },
      );
    }
  }

  /** A photo with a URL button under it (the QR code and its pay link). */
  async sendPhoto(userId: string, png: Buffer, caption: string, button: UrlButton | null, lane: Lane): Promise<void> {
    const params = { chat_id: userId, photo: { source: png, filename: 'qr.png' }, caption: caption.slice(0, MAX_CAPTION) };
    await this.withUrlFallback(
      () => this.c.client.call('sendPhoto', { ...params, ...(button ? { reply_markup: urlKeyboard(button) } : {}) }, { lane }),
      () => this.c.client.call('sendPhoto', { ...params, caption: `${caption}\n${button?.url ?? ''}`.slice(0, MAX_CAPTION) }, { lane }),
      button,
    );
  }

  /** A text with one URL button (pay link, invite link). */
  async sendLink(userId: string, text: string, button: UrlButton, lane: Lane): Promise<void> {
    const body = text.slice(0, MAX_TEXT) || ' ';
    await this.withUrlFallback(
      () => this.c.client.call('sendMessage', { chat_id: userId, text: body, reply_markup: urlKeyboard(button) }, { lane }),
      () => this.c.client.call('sendMessage', { chat_id: userId, text: `${body}\n${button.url}`.slice(0, 4096) }, { lane }),
      button,
    );
  }

  /** Telegram refuses some URLs in buttons (e.g. a bare local address): then the link goes into the text. */
  private async withUrlFallback(withButton: () => Promise<unknown>, inText: () => Promise<unknown>, button: UrlButton | null): Promise<void> {
    try {
      await withButton();
    } catch (err) {
      if (button && (isApiError(err, 'BUTTON_URL_INVALID') || isApiError(err, 'Wrong HTTP URL') || isApiError(err, 'button URL'))) {
        this.c.logger.warn({ err: (err as Error).message }, 'telegram: URL button refused, sending the link as text');
        await inText();
        return;
      }
      throw err;
    }
  }

  // ------------------------------------------------------------ membership

  /**
   * getChatMember; a person Telegram does not know in this chat counts as gone. `lane`: `invite` when a payer
   * waits on the answer, else `removal` (access checks: removals, sweeps, /invite's "already in?").
   */
  async chatMember(chatId: string, userId: string, lane: Lane = 'removal'): Promise<TgChatMember | null> {
    try {
      return await this.c.client.call<TgChatMember>('getChatMember', { chat_id: chatId, user_id: Number(userId) }, { lane });
    } catch (err) {
      if (isApiError(err, 'user not found') || isApiError(err, 'PARTICIPANT_ID_INVALID')) return null;
      throw err;
    }
  }

  /**
   * The Bot API cannot list members: the roster is who chat_member updates showed joining since the group
   * was bound, and still in (admins left out: they may stay anyway).
   */
  async rosterSnapshot(chatId: string): Promise<RosterPerson[]> {
    const { store } = this.c.deps;
    const group = await store.groups.findByChat('telegram', chatId);
    if (!group) throw new ProviderRejectedError('telegram', `chat ${chatId} is not a registered Telegram group`);
    const entries = await store.telegram.listRoster({ groupId: group.id, status: 'member', limit: 500 });
    return entries
      .filter((e) => e.joinedAt !== null)
      .map((e) => ({ userId: e.userId, name: e.displayName, role: e.isBot ? ('bot' as const) : ('member' as const) }));
  }

  async memberStatus(chatId: string, userId: string): Promise<ChatMemberStatus> {
    const m = await inChat(this.c, chatId, (chat) => this.chatMember(chat, userId));
    if (!m) return 'absent';
    if (isAdminStatus(m.status)) return 'admin';
    if (isInChat(m)) return 'member';
    if (m.status === 'kicked') return 'banned';
    return 'absent';
  }

  private async group(chatId: string): Promise<Group> {
    const g = await this.c.deps.store.groups.findByChat('telegram', chatId);
    if (!g) throw new ProviderRejectedError('telegram', `chat ${chatId} is not a registered Telegram group`);
    return g;
  }

  async invite(chatId: string, userId: string, ctx: InviteContext): Promise<InviteResult> {
    return inChat(this.c, chatId, async (chat) => {
      const { store } = this.c.deps;
      const group = await this.group(chat);
      const req = await store.telegram.getJoinRequest(group.id, userId);
      if (req?.status === 'pending') {
        const approved = await this.approve(chat, group, userId, req.queryId);
        if (approved) return 'added';
      }
      // The common case, a first-time payer, costs one call that posts nothing (createChatInviteLink) besides
      // the message: getChatMember is skipped when the core says this is the membership's first invitation
      // and nothing here was ever recorded about the person in this group. If they were in already (joined
      // before the bot was bound), the link is harmless; if an owner had banned them before that, the link
      // cannot be used, and the access sweep's re-invite (never first, so checked) lifts the ban.
      const unknown = ctx.firstInvite === true && req === null && !(await store.telegram.knowsPerson(group.id, userId));
      if (!unknown) {
        const member = await this.chatMember(chat, userId, 'invite');
        if (member && isInChat(member)) return 'added';
        // A ban left from before (an owner ban since lifted): lift it, or the link could not be used.
        if (member?.status === 'kicked')
          await this.c.client.call('unbanChatMember', { chat_id: chat, user_id: Number(userId), only_if_banned: true }, { lane: 'invite' });
      }
      const link = await this.linkFor(chat, group, userId, ctx);
      const invitation = render(this.c, ctx.locale, 'telegram.invite', { group: ctx.groupTitle, expiresAt: ctx.expiresAt });
      // One message per payment: the confirmation first, then the invitation, the join button under both.
      const confirmation = ctx.confirmation ? render(this.c, ctx.locale, ctx.confirmation.key, ctx.confirmation.params) : null;
      await this.sendLink(
        userId,
        confirmation ? `${confirmation}\n\n${invitation}` : invitation,
        { label: render(this.c, ctx.locale, 'telegram.invite_button', { group: ctx.groupTitle }), url: link },
        'invite',
      );
      return 'invited';
    });
  }

  /**
   * Pay at the door: a shared join-request link for the group that anyone may use (no member limit, no
   * expiry; createChatInviteLink with creates_join_request, which excludes member_limit). The owner posts it
   * anywhere; each request through it comes to the bot as a join-request query.
   */
  async doorLink(chatId: string): Promise<string> {
    return inChat(this.c, chatId, async (chat) => {
      const created = await this.c.client.call<{ invite_link: string }>(
        'createChatInviteLink',
        { chat_id: chat, name: 'door', creates_join_request: true },
        { lane: 'notice' },
      );
      if (!created || typeof created.invite_link !== 'string')
        throw new ProviderUnreachableError('telegram', 'createChatInviteLink returned no link', { method: 'createChatInviteLink' });
      return created.invite_link;
    });
  }

  /**
   * Pay at the door (app/door.ts): declines the person's request still waiting under `queryId`. A query Telegram
   * no longer answers ("query is too old…": it lapsed) is `lapsed`, recorded as gone, not an error.
   */
  async closeDoor(chatId: string, userId: string, queryId: string): Promise<'declined' | 'lapsed' | 'none'> {
    return inChat(this.c, chatId, async (chat) => {
      const { store } = this.c.deps;
      const group = await this.group(chat);
      const req = await store.telegram.getJoinRequest(group.id, userId);
      if (req?.status !== 'pending' || req.queryId !== queryId) return 'none';
      try {
        await this.c.client.call('answerChatJoinRequestQuery', { chat_join_request_query_id: queryId, result: 'decline' }, { lane: 'invite' });
      } catch (err) {
        if (!isApiError(err, 'query is too old') && !isApiError(err, 'QUERY_ID_INVALID')) throw err;
        await store.telegram.decideJoinRequest(group.id, userId, ['pending'], 'gone', this.c.clock.now());
        return 'lapsed';
      }
      await store.telegram.decideJoinRequest(group.id, userId, ['pending'], 'declined', this.c.clock.now());
      return 'declined';
    });
  }

  /** Approves a recorded pending request. False when Telegram no longer has it (the person must ask again). */
  private async approve(chat: string, group: Group, userId: string, queryId?: string | null): Promise<boolean> {
    const { store } = this.c.deps;
    if (queryId) {
      // At the door: the answer goes through the join-request query. A lapsed query means Telegram already
      // let the request go; the payer gets a personal join link instead (the caller's fall-back).
      try {
        await this.c.client.call('answerChatJoinRequestQuery', { chat_join_request_query_id: queryId, result: 'approve' }, { lane: 'invite' });
      } catch (err) {
        if (!isApiError(err, 'query is too old') && !isApiError(err, 'QUERY_ID_INVALID')) throw err;
        await store.telegram.decideJoinRequest(group.id, userId, ['pending'], 'gone', this.c.clock.now());
        return false;
      }
      await store.telegram.decideJoinRequest(group.id, userId, ['pending'], 'approved', this.c.clock.now());
      return true;
    }
    try {
      await this.c.client.call('approveChatJoinRequest', { chat_id: chat, user_id: Number(userId) }, { lane: 'invite' });
    } catch (err) {
      if (isApiError(err, 'HIDE_REQUESTER_MISSING')) {
        await store.telegram.decideJoinRequest(group.id, userId, ['pending'], 'gone', this.c.clock.now());
        return false;
      }
      if (!isApiError(err, 'USER_ALREADY_PARTICIPANT')) throw err;
    }
    await store.telegram.decideJoinRequest(group.id, userId, ['pending'], 'approved', this.c.clock.now());
    await this.revokeOpenLinks(chat, group, userId, 'invite');
    return true;
  }

  /** This membership's unused, unrevoked link if it is still good for a while; otherwise a new one. */
  private async linkFor(chat: string, group: Group, userId: string, ctx: InviteContext): Promise<string> {
    const { store } = this.c.deps;
    const now = this.c.clock.now();
    const open = (await store.telegram.openInviteLinks(group.id, userId)).find((l) => l.membershipId === ctx.membershipId && l.expiresAt > now + HOUR_MS);
    if (open) return open.inviteLink;
    const expiresAt = Math.max(now + 2 * HOUR_MS, Math.min(ctx.expiresAt, now + LINK_TTL_MS));
    const name = `member #${ctx.membershipId}`.slice(0, 32);
    const created = await this.c.client.call<{ invite_link: string }>(
      'createChatInviteLink',
      { chat_id: chat, name, expire_date: Math.floor(expiresAt / 1000), creates_join_request: true },
      { lane: 'invite' },
    );
    if (!created || typeof created.invite_link !== 'string')
      throw new ProviderUnreachableError('telegram', 'createChatInviteLink returned no link', { method: 'createChatInviteLink' });
    await store.telegram.insertInviteLink({
      groupId: group.id,
      membershipId: ctx.membershipId,
      userId,
      inviteLink: created.invite_link,
      name,
      expiresAt: Math.floor(expiresAt / 1000) * 1000,
      createdAt: now,
    });
    return created.invite_link;
  }

  /**
   * Revokes every open link of this person in the group (best effort: a join-request link admits nobody on
   * its own). `lane`: `invite` right after an approval, `removal` otherwise.
   */
  async revokeOpenLinks(chat: string, group: Group, userId: string, lane: Lane = 'removal'): Promise<void> {
    const { store } = this.c.deps;
    for (const l of await store.telegram.openInviteLinks(group.id, userId)) {
      try {
        await this.c.client.call('revokeChatInviteLink', { chat_id: chat, invite_link: l.inviteLink }, { lane });
      } catch (err) {
        if (!isApiError(err)) throw err;
        this.c.logger.warn({ groupId: group.id, err: err.message }, 'telegram: could not revoke an invite link');
      }
      await store.telegram.markInviteLinkRevoked(l.inviteLink, this.c.clock.now());
    }
  }

  async remove(chatId: string, userId: string, opts: RemoveOptions): Promise<RemoveResult> {
    const stillDue = opts.stillDue ?? (async () => true);
    return inChat(this.c, chatId, async (chat) => {
      const { store } = this.c.deps;
      const uid = Number(userId);
      const before = await this.chatMember(chat, userId);
      if (before && isAdminStatus(before.status)) {
        throw new ProviderRejectedError(
          'telegram',
          `user ${userId} is ${before.status === 'creator' ? 'the owner' : 'an administrator'} of the group, and the bot never removes owners or admins`,
          undefined,
          { method: 'banChatMember' },
        );
      }
      // Every step below waits for the rate limiter: the core is asked again right before each one, so a
      // renewal that lands meanwhile stops the removal (and undoes what was done of it).
      if (!(await stillDue())) return 'kept';
      const group = await store.groups.findByChat('telegram', chat);
      if (group) {
        await this.revokeOpenLinks(chat, group, userId);
        const req = await store.telegram.getJoinRequest(group.id, userId);
        if (req?.status === 'pending') {
          if (!(await stillDue())) return 'kept';
          try {
            await this.c.client.call('declineChatJoinRequest', { chat_id: chat, user_id: uid }, { lane: 'removal' });
          } catch (err) {
            if (!isApiError(err)) throw err;
          }
          await store.telegram.decideJoinRequest(group.id, userId, ['pending'], 'declined', this.c.clock.now());
        }
      }
      let banned = before?.status === 'kicked';
      let putOut = false;
      const ban = async () => {
        await this.c.client.call('banChatMember', { chat_id: chat, user_id: uid }, { lane: 'removal' });
        banned = true;
        putOut = true;
      };
      // Without only_if_banned (the kick's second half) it also guarantees the person is out.
      const unban = async (onlyIfBanned: boolean) => {
        await this.c.client.call('unbanChatMember', { chat_id: chat, user_id: uid, ...(onlyIfBanned ? { only_if_banned: true } : {}) }, { lane: 'removal' });
        banned = false;
      };
      if (opts.ban) {
        if (before?.status !== 'kicked' || (before.until_date ?? 0) !== 0) {
          if (!(await stillDue())) return 'kept';
          await ban();
        }
      } else {
        if (before && isInChat(before)) {
          if (!(await stillDue())) return 'kept';
          await ban();
        }
        // Lifts the ban just set (or one left half-done by an earlier attempt): out, but free to come back.
        // Done whether or not the removal is still due: a renewed member must not stay banned either.
        if (banned) await unban(false);
      }
      if (!(await stillDue())) {
        // Renewed while the removal was on the wire: lift what was set; the core invites them again.
        if (banned) await unban(true);
        return putOut || before?.status === 'kicked' ? 'undone' : 'kept';
      }
      const after = await this.chatMember(chat, userId);
      const done = opts.ban ? after?.status === 'kicked' : !after || (!isInChat(after) && after.status !== 'kicked');
      if (!done)
        throw new ProviderUnreachableError('telegram', `user is still "${after?.status ?? 'unknown'}" in the group after removal; will check again`, {
          method: 'getChatMember',
        });
      if (group) {
        const entry = await store.telegram.getRosterEntry(group.id, userId);
        if (entry) await store.telegram.upsertRosterEntry({ ...entry, status: opts.ban ? 'kicked' : 'left', updatedAt: this.c.clock.now() });
      }
      return 'removed';
    });
  }
}
