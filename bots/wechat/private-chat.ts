// Messages. Private text goes to the conversation engine (numbered menus, 入群 / 续费 / 我的会员 / 订单 /
// 帮助, 重新入群 (/reinvite) and the owner commands, /intruders and /whitelist included: one grammar on
// every platform). Ignored: the bot's own messages, official
// accounts, rooms (except owner commands, see room-binding.ts). Images, voice, links and the like get a
// short "text only" answer, at most once a minute per person.
import { type Message, types } from 'wechaty';
import type { Account } from '../../src/app/model.ts';
import type { Conversation } from '../../src/conversation/types.ts';
import type { Identity } from './identity.ts';
import type { RoomBinding } from './room-binding.ts';
import { contactName, normalizeText, PLATFORM, type WechatCore } from './wechat-context.ts';
import type { WechatGateway } from './wechat-gateway.ts';

const NON_TEXT_REPLY_EVERY_MS = 60_000;

export class PrivateChat {
  private readonly nonTextAnswered = new Map<string, number>();

  constructor(
    private readonly core: WechatCore,
    private readonly identity: Identity,
    private readonly gateway: WechatGateway,
    private readonly conversation: Conversation,
    private readonly rooms: RoomBinding,
  ) {}

  private t(account: Account, key: string, params: Record<string, string | number> = {}) {
    return this.core.deps.messages.render(account.locale ?? this.core.deps.settings.defaultLocale, { key, params });
  }

  async onMessage(msg: Message): Promise<void> {
    if (msg.self()) return;
    const talker = msg.talker();
    if (talker.id === this.core.bot.selfId()) return;
    if (talker.type() === types.Contact.Official) return;
    const room = msg.room();
    if (room) return this.rooms.onRoomMessage(msg, room, talker);

    if (msg.type() !== types.Message.Text) {
      const now = this.core.deps.clock.now();
      const last = this.nonTextAnswered.get(talker.id);
      if (last !== undefined && now - last < NON_TEXT_REPLY_EVERY_MS) return;
      this.nonTextAnswered.set(talker.id, now);
      if (this.nonTextAnswered.size > 10_000) this.nonTextAnswered.clear();
      const account = await this.identity.accountFor(talker, { create: true });
      if (account) await this.gateway.sendText(talker.id, this.t(account, 'wechat.text_only'), { lane: 'notice' });
      return;
    }

    const text = normalizeText(msg.text());
    const account = await this.identity.accountFor(talker, { create: true });
    if (!account) return;
    // The account may have moved to this contact id just now; everything below uses the current one.
    const userId = talker.id;

    const replies = await this.conversation.handle({ platform: PLATFORM, userId, displayName: contactName(talker).slice(0, 100), text });
    if (/^\/ownerhelp$/i.test(text) && (await this.core.deps.store.accounts.get(account.id))?.isOwner) {
      replies.push({ type: 'text', text: this.t(account, 'wechat.owner_help') });
    }
    await this.gateway.sendReplies(userId, replies, 'notice');
    await this.identity.ensureTag(talker, account);
  }
}
