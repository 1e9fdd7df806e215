// Friend requests. Inviting someone to a room needs friendship, so requests are accepted automatically
// (only those whose greeting carries the configured keyword, when WECHAT_FRIEND_KEYWORD is set), then the
// new friend is greeted with the plans. Someone who paid, lost the friendship and comes back is invited again.
import { reinvite } from '../../src/app/roster.ts';
import { type Friendship, types } from 'wechaty';
import type { Conversation } from '../../src/conversation/types.ts';
import type { Identity } from './identity.ts';
import { contactName, errText, paced, PLATFORM, type WechatCore } from './wechat-context.ts';
import type { WechatGateway } from './wechat-gateway.ts';

export function keywordMatches(keyword: string | null, hello: string): boolean {
  if (!keyword) return true;
  const fold = (s: string) => s.normalize('NFKC').toLowerCase().trim();
  return fold(hello).includes(fold(keyword));
}

export class Friendships {
  /** Friendship events can be delivered twice; each request is handled once. */
  private readonly seen = new Set<string>();

  constructor(
    private readonly core: WechatCore,
    private readonly identity: Identity,
    private readonly gateway: WechatGateway,
    private readonly conversation: Conversation,
  ) {}

  async onFriendship(f: Friendship): Promise<void> {
    if (f.type() !== types.Friendship.Receive) return;
    if (this.seen.has(f.id)) return;
    this.seen.add(f.id);
    if (this.seen.size > 10_000) this.seen.clear();
    const contact = f.contact();
    if (contact.type() === types.Contact.Official) return;
    let hello: string;
    try {
      hello = f.hello();
    } catch {
      hello = '';
    }
    if (!keywordMatches(this.core.settings.friendKeyword, hello)) {
      // Left unanswered: the person can send a new request with the keyword.
      this.core.logger.info({ friendship: f.id }, 'wechat friend request without the verification keyword ignored');
      return;
    }
    await paced(this.core, { chatId: contact.id, isGroup: false, lane: 'notice' }, 'friendship.accept', () => f.accept());
    const account = await this.identity.accountFor(contact, { create: true });
    if (!account) return;
    await this.core.deps.store.audit.insert({
      at: this.core.deps.clock.now(),
      actor: 'system',
      action: 'wechat.friend_accepted',
      subjectType: 'account',
      subjectId: String(account.id),
      reason: this.core.settings.friendKeyword ? 'friend request with the verification keyword accepted' : 'friend request accepted',
      detail: null,
    });
    // Greeting: the same answer as /start (welcome and the numbered plans), so "1" works right away.
    const replies = await this.conversation.handle({ platform: PLATFORM, userId: contact.id, displayName: contactName(contact).slice(0, 100), text: '/start' });
    await this.gateway.sendReplies(contact.id, replies, 'notice');
    await this.identity.ensureTag(contact, account);
    // Paid but not in a room (e.g. the add failed because the friendship was gone): invite again.
    try {
      const r = await reinvite(this.core.deps, account);
      if (r.queued.length > 0) this.core.logger.info({ accountId: account.id, groups: r.queued.length }, 'wechat friend back: invites queued');
    } catch (err) {
      this.core.logger.warn({ err: errText(err) }, 'wechat re-invite after friendship failed');
    }
  }
}
