// Adding to and removing from rooms. WeChat gives one proof that an add worked: the `room-join` event.
// Rooms over 40 members send an invitation the person must accept, and the owner's 群聊邀请确认 setting
// can swallow an add without a word. So an add is recorded as pending before room.add is called, the
// room-join event confirms it, and a sweep tells the member what to do and the owner why once the wait
// is over. A removal is confirmed against the member list, and retried until it is.
import type { Contact, Room } from 'wechaty';
import { type AlertOwnersPayload, alertOwnersJob, notifyJob } from '../../src/app/job-kinds.ts';
import type { Account, Group } from '../../src/app/model.ts';
import type { ChatMemberStatus, InviteContext, InviteResult, NewJob, RemoveOptions, RemoveResult, RosterPerson, WhitelistEntry } from '../../src/app/ports.ts';
import { mayStay, type StayReason } from '../../src/app/roster.ts';
import { ProviderRejectedError, ProviderUnreachableError } from '../../src/domain/errors.ts';
import type { Identity } from './identity.ts';
import { classify, contactName, errText, findRoom, INVITATION_THRESHOLD, memberIds, paced, PLATFORM, type WechatCore } from './wechat-context.ts';

const PROTECTED_AS: Record<Exclude<StayReason, 'paid'>, string> = {
  bot: 'the bot itself',
  admin: 'the owner of the room',
  owner: 'an owner',
  whitelisted: 'whitelisted',
};

/** The contact's WeChat ID, when the puppet offers it. */
export const handleOf = (c: Contact): string | null => {
  try {
    return c.handle() || null;
  } catch {
    return null;
  }
};

export class RoomMembership {
  constructor(
    private readonly core: WechatCore,
    private readonly identity: Identity,
  ) {}

  private async group(chatId: string): Promise<Group> {
    const g = await this.core.deps.store.groups.findByChat(PLATFORM, chatId);
    if (!g) throw new ProviderRejectedError(PLATFORM, `room ${chatId} is not a registered group`);
    return g;
  }

  /**
   * Who must never be removed from this room: the bot, the room's owner, the group's owners, the whitelist
   * (the rule is app/roster.ts's mayStay; a paid membership is left to the caller). Null: not protected.
   */
  async isProtected(group: Group, room: Room, contact: Contact, account: Account | null, whitelist?: WhitelistEntry[]): Promise<string | null> {
    const role = contact.id === this.core.bot.selfId() ? 'self' : room.owner()?.id === contact.id ? 'admin' : 'member';
    const person = { userId: contact.id, name: null, handle: handleOf(contact), role, accountId: account?.id ?? null } as const;
    const reason = await mayStay(this.core.deps.store, group, person, whitelist);
    return reason === null || reason === 'paid' ? null : PROTECTED_AS[reason];
  }

  // ------------------------------------------------------------ ChatGateway.invite / remove / memberStatus

  async add(chatId: string, userId: string, ctx: InviteContext): Promise<InviteResult> {
    const { store, clock } = this.core.deps;
    const bot = this.core.bot.ready();
    const group = await this.group(chatId);
    const membership = await store.memberships.get(ctx.membershipId);
    if (!membership) throw new ProviderRejectedError(PLATFORM, `membership ${ctx.membershipId} is gone`);
    const room = await findRoom(bot, chatId);
    if (!room)
      throw new ProviderRejectedError(
        PLATFORM,
        `the bot is not in the room of "${group.title}" (or cannot see it): it must be a member, ideally the owner`,
        undefined,
        { method: 'room.add' },
      );
    const contact = await this.identity.contactFor(userId);
    if (!contact)
      throw new ProviderRejectedError(
        PLATFORM,
        `the member of "${group.title}" (membership ${membership.id}) is not among the bot's contacts any more; they must add the bot as a friend again, and are then invited automatically`,
        undefined,
        { method: 'room.add' },
      );
    if ((await memberIds(room)).has(contact.id)) {
      await this.confirmJoined(group, membership.id, 'already in the room');
      return 'added';
    }
    if (contact.friend() === false) {
      throw new ProviderRejectedError(
        PLATFORM,
        `the member (membership #${membership.id}) is no longer a friend of the bot, so WeChat will not let the bot add them to "${group.title}"; once they add the bot as a friend again they are invited automatically`,
        undefined,
        { method: 'room.add' },
      );
    }
    const count = (await memberIds(room)).size;
    const mode = count > INVITATION_THRESHOLD ? 'invitation' : 'direct';
    const now = clock.now();
    const wait = mode === 'invitation' ? this.core.settings.invitationTimeoutMs : this.core.settings.addTimeoutMs;
    // Recorded before the call: if the process dies right after it, the sweep still follows it up.
    await store.wechat.upsertPendingAdd({
      membershipId: membership.id,
      groupId: group.id,
      accountId: membership.accountId,
      contactId: contact.id,
      roomId: room.id,
      mode,
      requestedAt: now,
      deadlineAt: now + wait,
    });
    try {
      await paced(this.core, { chatId, isGroup: true, lane: 'invite' }, 'room.add', () => room.add(contact));
    } catch (err) {
      await store.wechat.resolvePendingAdd(membership.id, ['pending'], 'failed', clock.now());
      throw err;
    }
    if (mode === 'invitation') {
      const pending = await store.wechat.getPendingAdd(membership.id);
      await store.jobs.enqueue(
        [
          notifyJob(
            {
              accountId: membership.accountId,
              message: { key: 'wechat.invitation_sent', params: { group: group.title } },
              onlyIf: { membershipId: membership.id, statuses: ['active'] },
            },
            `wechat-invitation:${membership.id}:${now}:${pending?.attempts ?? 1}`,
          ),
        ],
        now,
      );
      this.core.deps.onJobsEnqueued?.();
    }
    return (await store.wechat.getPendingAdd(membership.id))?.state === 'joined' ? 'added' : 'invited';
  }

  async remove(chatId: string, userId: string, opts: RemoveOptions): Promise<RemoveResult> {
    const { store } = this.core.deps;
    const bot = this.core.bot.ready();
    const group = await this.group(chatId);
    const room = await findRoom(bot, chatId);
    if (!room) throw new ProviderRejectedError(PLATFORM, `the bot is not in the room of "${group.title}"`, undefined, { method: 'room.remove' });
    const contact = await this.identity.contactFor(userId);
    // Not a contact and not in the room under the stored id: nobody to remove.
    if (!contact) {
      if (!(await memberIds(room)).has(userId)) return 'removed';
      throw new ProviderRejectedError(PLATFORM, `cannot resolve the member to remove from "${group.title}"`, undefined, { method: 'room.remove' });
    }
    if (!(await memberIds(room)).has(contact.id)) return 'removed'; // already out: confirmed
    if (room.owner()?.id !== this.core.bot.selfId()) {
      throw new ProviderRejectedError(
        PLATFORM,
        `the bot is not the owner (群主) of "${group.title}", so WeChat does not let it remove members; transfer the room to the bot`,
        undefined,
        { method: 'room.remove' },
      );
    }
    const account = await store.accounts.find(PLATFORM, contact.id);
    const protectedAs = await this.isProtected(group, room, contact, account);
    const membership = account ? (await store.memberships.list({ accountId: account.id, groupId: group.id }))[0] : undefined;
    // An owner's own action (revoke, ban) applies to anyone but owners; an automatic expiry never touches the whitelist either.
    if (protectedAs && (protectedAs !== 'whitelisted' || membership?.status === 'expired')) {
      throw new ProviderRejectedError(
        PLATFORM,
        `the member${membership ? ` (membership #${membership.id})` : ''} was not removed from "${group.title}": ${protectedAs}`,
        undefined,
        { method: 'room.remove' },
      );
    }
    // Without the core's own check (a caller that passes none): a paid membership is never removed.
    const stillDue =
      opts.stillDue ??
      (async () => {
        const fresh = membership ? await store.memberships.get(membership.id) : null;
        return !(fresh && (fresh.status === 'active' || fresh.status === 'grace'));
      });
    const removed = await paced(this.core, { chatId, isGroup: true, lane: 'removal' }, 'room.remove', async () => {
      // The limiter may have kept this waiting (daily cap): someone who renewed meanwhile stays.
      if (!(await stillDue())) return false;
      await room.remove(contact);
      return true;
    });
    if (!removed) return 'kept';
    await this.confirmGone(group, room.id, contact);
    // Renewed while the removal was on the wire: WeChat cannot undo it, the core invites them again.
    return (await stillDue()) ? 'removed' : 'undone';
  }

  /** Removal is done only when the member list says so; otherwise the job is retried (and checks first). */
  async confirmGone(group: Group, roomId: string, contact: Contact): Promise<void> {
    const after = await findRoom(this.core.bot.ready(), roomId);
    if (!after) throw new ProviderUnreachableError(PLATFORM, `cannot read the room of "${group.title}" to confirm a removal`, { method: 'room.sync' });
    if ((await memberIds(after)).has(contact.id))
      throw new ProviderUnreachableError(PLATFORM, `the removal of a member from "${group.title}" is not confirmed yet`, { method: 'room.memberAll' });
  }

  async status(chatId: string, userId: string): Promise<ChatMemberStatus> {
    let bot;
    try {
      bot = this.core.bot.ready();
    } catch {
      return 'unknown';
    }
    const room = await findRoom(bot, chatId);
    if (!room) return 'unknown';
    const contact = await this.identity.contactFor(userId);
    if (!contact) return 'absent';
    let members: Set<string>;
    try {
      members = await memberIds(room);
    } catch (err) {
      throw classify(err, 'room.memberAll'); // WeChat's failure, typed (the access sweep tells it from ours)
    }
    if (!members.has(contact.id)) return 'absent';
    return room.owner()?.id === contact.id ? 'admin' : 'member';
  }

  // ------------------------------------------------------------ events

  /** room-join: the proof an add worked (an accepted invitation included). */
  async onRoomJoin(room: Room, invitees: Contact[]): Promise<void> {
    const group = await this.core.deps.store.groups.findByChat(PLATFORM, room.id);
    if (!group) return;
    for (const c of invitees) {
      if (c.id === this.core.bot.selfId()) continue;
      const account = await this.identity.accountFor(c, { create: false });
      if (!account) continue; // a stranger: the roster audit deals with them
      const m = (await this.core.deps.store.memberships.list({ accountId: account.id, groupId: group.id }))[0];
      if (m) await this.confirmJoined(group, m.id, "confirmed by WeChat's room-join event");
    }
  }

  private async confirmJoined(group: Group, membershipId: number, how: string): Promise<boolean> {
    const { store, clock } = this.core.deps;
    return store.transaction(async (tx) => {
      const now = clock.now();
      const moved = await tx.wechat.resolvePendingAdd(membershipId, ['pending', 'timed_out', 'failed'], 'joined', now);
      if (moved)
        await tx.audit.insert({
          at: now,
          actor: 'system',
          action: 'wechat.join_confirmed',
          subjectType: 'membership',
          subjectId: String(membershipId),
          reason: `in "${group.title}": ${how}`,
          detail: { groupId: group.id },
        });
      return moved;
    });
  }

  // ------------------------------------------------------------ follow-ups

  /**
   * Adds whose room-join did not come in time. Someone who is in the room after all (an event lost in a
   * reconnect) is confirmed; for the others the member is told what to do and the owner why.
   */
  async sweepTimeouts(limit = 100): Promise<{ timedOut: number; joined: number } | { skipped: string }> {
    let bot;
    try {
      bot = this.core.bot.ready();
    } catch {
      return { skipped: 'logged out' };
    }
    const { store, clock } = this.core.deps;
    const due = await store.wechat.pendingAddsDue(clock.now(), limit);
    let timedOut = 0;
    let joined = 0;
    for (const p of due) {
      const [group, account, membership] = await Promise.all([
        store.groups.get(p.groupId),
        store.accounts.get(p.accountId),
        store.memberships.get(p.membershipId),
      ]);
      if (!group || !account || !membership) continue;
      // Only WeChat's side may fail quietly here (then it counts as not joined); a store failure is no
      // "timed out" and propagates, so nobody is told an add failed because our database did.
      const room = await findRoom(bot, p.roomId);
      const contact = room ? await this.identity.contactFor(account.platformUserId) : null;
      let present = false;
      if (room && contact) {
        try {
          present = (await memberIds(room)).has(contact.id);
        } catch (err) {
          this.core.logger.warn({ err: errText(err), groupId: group.id }, 'wechat pending add check failed');
        }
      }
      if (present) {
        if (await this.confirmJoined(group, membership.id, 'found in the room after the wait')) joined++;
        continue;
      }
      const paid = membership.status === 'active' || membership.status === 'grace';
      const ownerKey = p.mode === 'invitation' ? 'wechat.add_timeout_owner_invitation' : 'wechat.add_timeout_owner_blocked';
      const alert: AlertOwnersPayload = {
        groupIds: [group.id],
        message: { key: ownerKey, params: { name: account.displayName ?? `#${account.id}`, group: group.title, membershipId: membership.id } },
      };
      const jobs: NewJob[] = paid
        ? [
            notifyJob(
              {
                accountId: account.id,
                message: { key: p.mode === 'invitation' ? 'wechat.invitation_timeout_member' : 'wechat.add_timeout_member', params: { group: group.title } },
                onlyIf: { membershipId: membership.id, statuses: ['active', 'grace'] },
              },
              `wechat-timeout:${membership.id}:${p.requestedAt}`,
            ),
            alertOwnersJob(alert, `wechat-timeout-owner:${membership.id}:${p.requestedAt}`),
          ]
        : [];
      const moved = await store.transaction(async (tx) => {
        const now = clock.now();
        if (!(await tx.wechat.resolvePendingAdd(membership.id, ['pending'], 'timed_out', now))) return false;
        await tx.jobs.enqueue(jobs, now);
        await tx.audit.insert({
          at: now,
          actor: 'system',
          action: 'wechat.add_timeout',
          subjectType: 'membership',
          subjectId: String(membership.id),
          reason:
            p.mode === 'invitation'
              ? `no room-join in "${group.title}": the room has over ${INVITATION_THRESHOLD} members, the invitation is not accepted yet`
              : `no room-join in "${group.title}": the add was not confirmed (群聊邀请确认 may be on)`,
          detail: { groupId: group.id, mode: p.mode, requestedAt: p.requestedAt },
        });
        return true;
      });
      if (moved) timedOut++;
    }
    if (timedOut > 0) this.core.deps.onJobsEnqueued?.();
    return { timedOut, joined };
  }

  /** The room's members as roster facts (the rule of who may stay is app/roster.ts's). */
  async snapshot(chatId: string): Promise<RosterPerson[]> {
    const room = await findRoom(this.core.bot.ready(), chatId);
    if (!room) throw new ProviderRejectedError(PLATFORM, 'the bot is not in the room (or cannot see it)', undefined, { method: 'room.memberAll' });
    let contacts: Contact[];
    try {
      contacts = await room.memberAll();
    } catch (err) {
      throw classify(err, 'room.memberAll');
    }
    const out: RosterPerson[] = [];
    for (const c of contacts) {
      const role = c.id === this.core.bot.selfId() ? 'self' : room.owner()?.id === c.id ? 'admin' : 'member';
      // Someone we know under a new id (re-login) is found by remark or WeChat ID.
      const account = await this.identity.accountFor(c, { create: false });
      out.push({ userId: c.id, name: contactName(c).slice(0, 60), handle: handleOf(c), role, accountId: account?.id ?? null });
    }
    return out;
  }
}
