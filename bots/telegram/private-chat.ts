// Private chat: a person's messages and button presses go through the platform-neutral Conversation,
// and its neutral replies are rendered the Telegram way: choices as inline keyboards (callback_data =
// the choice value), the QR code as a photo with the pay link as a URL button, links as URL buttons.
// Deep links `t.me/<bot>?start=<payload>` arrive as "/start <payload>", which the conversation reads.
// A few Telegram-only commands are answered here: /invite (a fresh join link for a member who left) and
// the owner's group commands in owner-commands.ts.
import type { Account } from '../../src/app/model.ts';
import type { Lane } from '../../src/app/ports.ts';
import { inviteJob } from '../../src/app/job-kinds.ts';
import { resolveLocale } from '../../src/conversation/catalog.ts';
import type { Conversation, Inbound, Reply } from '../../src/conversation/types.ts';
import { withRetries } from './bot-api-client.ts';
import { render, type TelegramContext } from './context.ts';
import type { StarsProvider } from './stars-provider.ts';
import type { TelegramGateway } from './telegram-gateway.ts';
import { displayName, type TgCallbackQuery, type TgMessage, type TgUser } from './updates.ts';

/** Telegram invoice links (Stars): the invoice message is how one pays, a QR code of it adds nothing. */
export const isInvoiceLink = (url: string) => /^https:\/\/t\.me\/(\$|invoice\/)/.test(url);

const TELEGRAM_COMMAND = /^\/(invite)(?:@\w+)?(?:\s+([\s\S]*))?$/i;

export class PrivateChat {
  constructor(
    private readonly c: TelegramContext,
    private readonly conversation: Conversation,
    private readonly gateway: TelegramGateway,
    private readonly stars: () => StarsProvider | null,
  ) {}

  private inbound(from: TgUser, extra: { text?: string; choice?: string }): Inbound {
    return {
      platform: 'telegram',
      userId: String(from.id),
      displayName: displayName(from),
      locale: from.language_code ?? null,
      // The join review's profile rule may require a username (issue 17); a user without one sends none.
      username: from.username ?? null,
      ...extra,
    };
  }

  private locale(from: TgUser): string {
    return resolveLocale(from.language_code, this.c.deps.settings.defaultLocale);
  }

  async onMessage(msg: TgMessage): Promise<void> {
    const from = msg.from;
    if (msg.chat.type !== 'private' || !from || from.is_bot || from.id !== msg.chat.id) return;
    if (msg.successful_payment) {
      const stars = this.stars();
      if (stars) await stars.onSuccessfulPayment(msg);
      else
        this.c.logger.error(
          { chargeId: msg.successful_payment.telegram_payment_charge_id },
          'telegram: a Stars payment arrived but the stars provider is not enabled; refund it by hand',
        );
      return;
    }
    // Stickers, photos and the like carry no text: they get the same help as an unknown word.
    const text = msg.text ?? '';
    const command = TELEGRAM_COMMAND.exec(text.trim());
    let replies: Reply[] | null = null;
    if (command) replies = await this.telegramCommand(from, command[1]!.toLowerCase());
    replies ??= await this.conversation.handle(this.inbound(from, { text }));
    if (/^\/ownerhelp(@\w+)?$/i.test(text.trim())) {
      const account = await this.c.deps.store.accounts.find('telegram', String(from.id));
      if (account?.isOwner) replies.push({ type: 'text', text: render(this.c, account.locale, 'telegram.owner_help') });
    }
    await this.send(String(msg.chat.id), replies, this.locale(from));
  }

  async onCallback(q: TgCallbackQuery): Promise<void> {
    // Stops the button's spinner; a query too old to answer is fine to leave.
    try {
      await withRetries(() => this.c.client.call('answerCallbackQuery', { callback_query_id: q.id }, { lane: 'notice' }), this.c.clock, {
        attempts: 2,
        stop: this.c.stopping,
      });
    } catch (err) {
      this.c.logger.warn({ err: (err as Error).message }, 'telegram: could not answer a callback query');
    }
    if (q.from.is_bot || !q.data) return;
    // Buttons are only ever sent in private chats; a press anywhere else is not ours to act on.
    if (q.message && q.message.chat.type !== 'private') return;
    const replies = await this.conversation.handle(this.inbound(q.from, { choice: q.data }));
    await this.send(String(q.from.id), replies, this.locale(q.from));
  }

  /** Sends replies in order. A failure (e.g. the person blocked the bot) is logged and ends this answer. */
  async send(chatId: string, replies: Reply[], locale: string, lane: Lane = 'notice'): Promise<void> {
    const once = (fn: () => Promise<void>) => withRetries(fn, this.c.clock, { attempts: 6, stop: this.c.stopping });
    try {
      for (let i = 0; i < replies.length; i++) {
        const r = replies[i]!;
        const next = replies[i + 1];
        switch (r.type) {
          case 'text':
            await once(() => this.gateway.sendText(chatId, r.text, { lane }));
            break;
          case 'choices':
            await once(() => this.gateway.sendChoices(chatId, r.text, r.choices, { lane }));
            break;
          case 'image': {
            if (next?.type === 'link' && isInvoiceLink(next.url)) break;
            const pairs = next?.type === 'link' && (!r.url || next.url === r.url);
            const button = pairs ? { label: next.label, url: next.url } : r.url ? { label: render(this.c, locale, 'pay.open'), url: r.url } : null;
            await once(() => this.gateway.sendPhoto(chatId, r.png, r.caption, button, lane));
            if (pairs) i++;
            break;
          }
          case 'link':
            await once(() => this.gateway.sendLink(chatId, r.text, { label: r.label, url: r.url }, lane));
            break;
        }
      }
    } catch (err) {
      this.c.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'telegram: could not send a reply');
    }
  }

  private async telegramCommand(from: TgUser, command: string): Promise<Reply[] | null> {
    const { store, clock } = this.c.deps;
    const userId = String(from.id);
    const account = await store.accounts.upsert(
      { platform: 'telegram', platformUserId: userId, displayName: displayName(from), locale: from.language_code ?? null },
      clock.now(),
    );
    if (command === 'invite') return this.inviteAgain(account);
    return null;
  }

  /** /invite: a member with paid time who is not in the group gets a fresh join link. */
  private async inviteAgain(account: Account): Promise<Reply[]> {
    const { store, clock } = this.c.deps;
    const say = (key: string, params: Record<string, string | number> = {}): Reply => ({ type: 'text', text: render(this.c, account.locale, key, params) });
    const active = (await store.memberships.list({ accountId: account.id, status: 'active' })).filter((m) => m.expiresAt > clock.now());
    const out: Reply[] = [];
    for (const m of active) {
      const group = await store.groups.get(m.groupId);
      if (!group || group.platform !== 'telegram') continue;
      const status = await withRetries(() => this.gateway.memberStatus(group.platformChatId, account.platformUserId), this.c.clock, {
        attempts: 3,
        stop: this.c.stopping,
      }).catch(() => 'unknown' as const);
      if (status === 'member' || status === 'admin') {
        out.push(say('telegram.invite_already_in', { group: group.title }));
        continue;
      }
      const job = inviteJob({ membershipId: m.id, expiresAt: m.expiresAt });
      await store.jobs.enqueue([{ ...job, dedupeKey: `${job.dedupeKey}:again:${Math.floor(clock.now() / 60_000)}` }], clock.now());
      this.c.deps.onJobsEnqueued?.();
      out.push(say('telegram.invite_on_way', { group: group.title }));
    }
    return out.length > 0 ? out : [say('telegram.invite_none')];
  }
}
