// The ChatGateway for WeChat. Every send goes through the shared limiter (≥ 1 s + jitter apart, daily
// cap, invites and removals first). WeChat has no buttons, so choices become a numbered text menu (the
// engine maps "1", "2" back to them); an image is a PNG file (FileBox.fromBuffer) followed by its caption.
// Error messages name memberships, never people: they end up in job rows and logs.
import { FileBox } from 'file-box';
import type { Contact } from 'wechaty';
import type { Platform } from '../../src/app/model.ts';
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
import type { Reply } from '../../src/conversation/types.ts';
import { ProviderRejectedError } from '../../src/domain/errors.ts';
import type { Identity } from './identity.ts';
import type { RoomMembership } from './room-membership.ts';
import { paced, PLATFORM, type WechatCore } from './wechat-context.ts';

/** "Pick a plan:\n1. Monthly …\n2. Yearly …": what a WeChat user answers with a number. */
export function renderChoices(text: string, choices: Choice[]): string {
  return [text, ...choices.map((c, i) => `${i + 1}. ${c.label}`)].join('\n');
}

export class WechatGateway implements ChatGateway {
  readonly platform: Platform = PLATFORM;

  constructor(
    private readonly core: WechatCore,
    private readonly identity: Identity,
    private readonly membership: RoomMembership,
  ) {}

  /** The person to write to, who must still be a friend (WeChat refuses the message otherwise). */
  private async recipient(userId: string): Promise<Contact> {
    this.core.bot.ready();
    const contact = await this.identity.contactFor(userId);
    if (!contact) throw new ProviderRejectedError(PLATFORM, "this person is not among the bot's contacts any more", undefined, { method: 'contact.say' });
    if (contact.friend() === false)
      throw new ProviderRejectedError(PLATFORM, 'the recipient is no longer a friend of the bot', undefined, { method: 'contact.say' });
    return contact;
  }

  private async say(contact: Contact, what: string | FileBox, lane: Lane): Promise<void> {
    await paced(this.core, { chatId: contact.id, isGroup: false, lane }, 'say', async () => {
      await contact.say(what);
    });
  }

  async sendText(userId: string, text: string, opts: SendOptions): Promise<void> {
    const contact = await this.recipient(userId);
    await this.say(contact, text, opts.lane);
  }

  async sendImage(userId: string, png: Buffer, caption: string, opts: SendOptions): Promise<void> {
    const contact = await this.recipient(userId);
    await this.say(contact, FileBox.fromBuffer(png, 'qr.png'), opts.lane);
    if (caption) await this.say(contact, caption, opts.lane);
  }

  async sendChoices(userId: string, text: string, choices: Choice[], opts: SendOptions): Promise<void> {
    await this.sendText(userId, renderChoices(text, choices), opts);
  }

  /** The engine's replies, in order, in WeChat's terms (a link is its text with the address under it). */
  async sendReplies(userId: string, replies: Reply[], lane: Lane): Promise<void> {
    for (const r of replies) {
      if (r.type === 'text') await this.sendText(userId, r.text, { lane });
      else if (r.type === 'choices') await this.sendChoices(userId, r.text, r.choices, { lane });
      else if (r.type === 'image') await this.sendImage(userId, r.png, r.caption, { lane });
      else await this.sendText(userId, `${r.text}\n${r.url}`, { lane });
    }
  }

  invite(chatId: string, userId: string, ctx: InviteContext): Promise<InviteResult> {
    return this.membership.add(chatId, userId, ctx);
  }

  remove(chatId: string, userId: string, opts: RemoveOptions): Promise<RemoveResult> {
    return this.membership.remove(chatId, userId, opts);
  }

  memberStatus(chatId: string, userId: string): Promise<ChatMemberStatus> {
    return this.membership.status(chatId, userId);
  }

  rosterSnapshot(chatId: string): Promise<RosterPerson[]> {
    return this.membership.snapshot(chatId);
  }
}
