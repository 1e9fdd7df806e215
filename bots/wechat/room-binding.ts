// Room messages. The bot reads only owner commands in rooms: `/bind` (绑定) makes the room a group, and
// `/whitelist @someone` (白名单) keeps people the roster audit must never remove. Everything else said in
// a room, and any command from someone who is not an owner, is ignored: nothing is changed or answered.
// Wechaty cannot read a room's admins, only its owner, so the bot must own the room it manages; when it
// does not, the owner is told so plainly.
import { groupAudit } from '../../src/app/audit-entries.ts';
import { type Contact, type Message, type Room, types } from 'wechaty';
import { ownsGroup } from '../../src/app/actors.ts';
import { addGroup } from '../../src/app/catalog-admin.ts';
import { whitelist } from '../../src/app/roster.ts';
import type { Account, Group } from '../../src/app/model.ts';
import { DomainError } from '../../src/domain/errors.ts';
import type { Identity } from './identity.ts';
import { handleOf } from './room-membership.ts';
import { contactName, errText, normalizeText, PLATFORM, roomTitle, type WechatCore } from './wechat-context.ts';
import type { WechatGateway } from './wechat-gateway.ts';

const BIND = /^(\/bind|绑定)$/i;
const WHITELIST = /^(\/whitelist|白名单)(\s|$)/i;

export class RoomBinding {
  constructor(
    private readonly core: WechatCore,
    private readonly identity: Identity,
    private readonly gateway: WechatGateway,
  ) {}

  private tell(account: Account, key: string, params: Record<string, string | number>): Promise<void> {
    const { messages, settings } = this.core.deps;
    return this.gateway.sendText(account.platformUserId, messages.render(account.locale ?? settings.defaultLocale, { key, params }), { lane: 'notice' });
  }

  async onRoomMessage(msg: Message, room: Room, talker: Contact): Promise<void> {
    if (msg.type() !== types.Message.Text) return;
    // Mentions ("@Bot\u2005/bind", "/whitelist @Victor") are not part of the command. WeChat ends each one
    // with U+2005, which NFKC would turn into a plain space, so they go first.
    let raw = msg.text();
    try {
      raw = await msg.mentionText();
    } catch {
      // keep the raw text
    }
    const text = normalizeText(raw.replace(/^(@[^\u2005]*\u2005\s*)+/, ''), 500);
    const bind = BIND.test(text);
    const whitelist = WHITELIST.test(text);
    if (!bind && !whitelist) return;
    const known = await this.identity.accountFor(talker, { create: false });
    // From the store every time: an owner flag is never cached.
    const account = known ? await this.core.deps.store.accounts.get(known.id) : null;
    if (!account?.isOwner) {
      this.core.logger.info({ room: room.id }, 'wechat owner command from a non-owner in a room ignored');
      return;
    }
    if (bind) await this.bind(room, account);
    else await this.whitelist(msg, room, account);
  }

  private async bind(room: Room, owner: Account): Promise<void> {
    const { store, clock } = this.core.deps;
    await room.sync();
    const title = (await roomTitle(room)).slice(0, 200);
    if (room.owner()?.id !== this.core.bot.selfId()) return this.tell(owner, 'wechat.bind_not_room_owner', { room: title });
    const existing = await store.groups.findByChat(PLATFORM, room.id);
    if (existing) {
      // Bound again only by the owner who bound it; a group an admin registered, by an owner whose
      // groups include it (an operator, or a claim naming it).
      if (existing.ownerAccountId !== null && existing.ownerAccountId !== owner.id) return this.tell(owner, 'wechat.bind_taken', { room: title });
      if (!(await ownsGroup(store, owner.id, existing.id))) return this.tell(owner, 'wechat.bind_taken', { room: title });
      await this.record(existing, room.id, owner, 'bound again');
      return this.tell(owner, 'wechat.bind_already', { room: existing.title, id: existing.id });
    }
    let group: Group;
    try {
      group = await addGroup(this.core.deps, { platform: PLATFORM, chatId: room.id, title, actor: { kind: 'account', accountId: owner.id } });
    } catch (err) {
      if (err instanceof DomainError) return this.tell(owner, 'owner.error', { reason: err.message });
      throw err;
    }
    await this.record(group, room.id, owner, 'bound with /bind');
    this.core.logger.info({ groupId: group.id, at: clock.now() }, 'wechat room bound');
    return this.tell(owner, 'wechat.bound', { room: group.title, id: group.id });
  }

  private async record(group: Group, roomId: string, owner: Account, how: string) {
    const { store, clock } = this.core.deps;
    await store.transaction(async (tx) => {
      const now = clock.now();
      await tx.wechat.bindRoom({ groupId: group.id, roomId, boundBy: owner.id }, now);
      await tx.audit.insert(groupAudit(now, `account:${owner.id}`, group, 'wechat.bind', `WeChat room ${how} (the bot owns the room)`));
    });
  }

  private async whitelist(msg: Message, room: Room, owner: Account): Promise<void> {
    const { store } = this.core.deps;
    const group = await store.groups.findByChat(PLATFORM, room.id);
    if (!group) return; // not bound: ignored like any message from an unbound room
    if (!(await ownsGroup(store, owner.id, group.id))) {
      this.core.logger.info({ room: room.id }, 'wechat /whitelist from an owner of another group ignored');
      return;
    }
    let mentioned: Contact[] = [];
    try {
      mentioned = (await msg.mentionList()).filter((c) => c.id !== this.core.bot.selfId());
    } catch (err) {
      this.core.logger.warn({ err: errText(err) }, 'wechat mention list unavailable');
    }
    if (mentioned.length === 0) return this.tell(owner, 'wechat.whitelist_usage', {});
    const names: string[] = [];
    for (const c of mentioned) {
      const name = contactName(c).slice(0, 60);
      await whitelist(
        this.core.deps,
        { kind: 'account', accountId: owner.id },
        group,
        { userId: c.id, handle: handleOf(c), name },
        'in the room with /whitelist',
      );
      names.push(name);
    }
    return this.tell(owner, 'wechat.whitelist_added', { names: names.join(', '), group: group.title });
  }
}
