// The chat platform port: what the use cases ask of Telegram, WeChat or the playground. bots/*
// implement it; app/ sees only this.
import type { Platform } from '../model.ts';
import type { MessageRef } from './messages.ts';

/**
 * Outbound priority lanes: lower number goes first. Invites (and the answers to join requests) before
 * removals, so a payer never waits behind a removal batch (a removal may wait minutes, an invite may not);
 * removals before payment confirmations and direct answers (`notice`, and `system`: the service's own
 * calls), those before reminders, reminders before broadcasts. Jobs store the number as their priority
 * (migration 0012 renumbered the rows queued under the older lanes).
 */
export const LANES = { invite: 0, removal: 1, notice: 2, system: 2, reminder: 3, broadcast: 4 } as const;
export type Lane = keyof typeof LANES;

export interface SendOptions {
  lane: Lane;
}

export interface Choice {
  /** What the bot receives back when this choice is picked (a button's data, or the number typed on WeChat). */
  value: string;
  label: string;
}

export interface InviteContext {
  membershipId: number;
  expiresAt: number;
  groupTitle: string;
  locale: string;
  /**
   * The payment confirmation to deliver with the invitation, in the same message (only passed to a gateway
   * whose `confirmsWithInvite` is true). On `invited` it went out with the invitation; on `added` no
   * message was needed and it was not sent: the core sends it on its own.
   */
  confirmation?: MessageRef;
  /**
   * The core knows of no earlier contact between this person and the group: the payment that queued this
   * invite created the membership (the account had none there), and since then it was never seen in the
   * group, never removed, never looked at by the access sweep (the rule: firstInvite in job-handlers.ts).
   * An adapter whose own records know nothing of the person either may then skip asking the platform
   * whether they are already in or banned, and just send the invitation. What neither can know (someone in
   * or banned before the bot was bound) is caught by the access sweep, whose re-invites never set this.
   */
  firstInvite?: boolean;
}

/** `added`: the person is in (or the platform confirmed the add); `invited`: an invitation is on its way to them. */
export type InviteResult = 'added' | 'invited';
export type ChatMemberStatus = 'member' | 'admin' | 'absent' | 'banned' | 'unknown';

export interface RemoveOptions {
  /** `false` removes and leaves the person free to rejoin after renewing; `true` keeps them out. */
  ban: boolean;
  /**
   * Is this removal still due? The rule lives in app/ (job-handlers.ts re-reads the membership by id);
   * the adapter calls it right before every step that changes the chat (ban, unban, revoking links) and
   * once more after the last one, and stops as soon as it answers false.
   */
  stillDue?: () => Promise<boolean>;
}

/**
 * `removed`: the person is out (or was not in); `kept`: the removal stopped being due before anything
 * was done, the person was left as they were; `undone`: it stopped being due after the person was put
 * out, and the adapter lifted any ban it had set: the person must be invited again.
 */
export type RemoveResult = 'removed' | 'kept' | 'undone';

/** Someone in a chat, as the platform reports them (a roster snapshot's row). */
export interface RosterPerson {
  userId: string;
  name: string | null;
  /** A second handle the platform offers (WeChat's WeChat ID): a whitelist entry matches it too. */
  handle?: string | null;
  /**
   * The person's standing in the chat as the platform tells it: the bot itself or another bot, an admin
   * (Telegram's administrators and creator, WeChat's room owner), or a plain member.
   */
  role?: 'self' | 'bot' | 'admin' | 'member';
  /** The account, when the adapter found it better than by (platform, userId) (WeChat after a re-login). */
  accountId?: number | null;
}

/**
 * One chat platform. Every method is a network call: it throws RetryAfterError when asked to wait,
 * ProviderRejectedError when the platform refuses, ProviderUnreachableError for transient failures.
 */
export interface ChatGateway {
  readonly platform: Platform;
  /**
   * True when `invite` can carry the payment confirmation in the invitation message (Telegram: text and a
   * join button in one message). Then the core sends no separate "payment received" notice for a payment
   * that brings an invitation. Absent: the confirmation is always a message of its own.
   */
  readonly confirmsWithInvite?: boolean;
  /**
   * True when `sendChoices` draws buttons whose press comes back as the choice's value (Telegram's inline
   * keyboard, the playground). Absent: choices are a numbered text menu (WeChat), which only the engine's own
   * menus can resolve; a notice with buttons (the join review's approve/reject) then goes as its text alone,
   * which says what to type instead (通过 <n> / 拒绝 <n>).
   */
  readonly choicesAreButtons?: boolean;
  sendText(userId: string, text: string, opts: SendOptions): Promise<void>;
  sendImage(userId: string, png: Buffer, caption: string, opts: SendOptions): Promise<void>;
  sendChoices(userId: string, text: string, choices: Choice[], opts: SendOptions): Promise<void>;
  invite(chatId: string, userId: string, ctx: InviteContext): Promise<InviteResult>;
  remove(chatId: string, userId: string, opts: RemoveOptions): Promise<RemoveResult>;
  memberStatus(chatId: string, userId: string): Promise<ChatMemberStatus>;
  /**
   * Who is in the chat now, as far as the platform lets the bot know (Telegram: people seen joining since
   * the group was bound; WeChat: the room's member list). Absent: the platform cannot list anyone.
   */
  rosterSnapshot?(chatId: string): Promise<RosterPerson[]>;
  /**
   * A link that opens a private chat with the bot and hands it `payload` (Telegram's deep link
   * `https://t.me/<bot>?start=<payload>`, payload ≤ 64 of [A-Za-z0-9_-]). Absent: the platform has none
   * (WeChat: people type a code instead).
   */
  startLink?(payload: string): Promise<string>;
  /** Pay at the door: a shared link anyone may use to ask to join the chat (Telegram: a join-request link). */
  doorLink?(chatId: string): Promise<string>;
  /**
   * Pay at the door (app/door.ts): turns away the person's join request that is still waiting on a payment
   * through the platform's join-request query `queryId` (Telegram: answerChatJoinRequestQuery "decline").
   * `declined`: turned away now; `lapsed`: the platform no longer takes an answer (it decided itself);
   * `none`: nothing waits under that query any more (approved, or a newer request). Absent: no door here.
   */
  closeDoor?(chatId: string, userId: string, queryId: string): Promise<'declined' | 'lapsed' | 'none'>;
}

/**
 * What the bot may do in a bound chat, as the platform last told its adapter. Read from the adapter's own
 * tables (bots/telegram/bot-standing.ts, bots/wechat/bot-standing.ts), so it is known on an instance where the
 * adapter does not run; the console says it in plain words.
 */
export type BotStanding =
  /**
   * Telegram, from the bot's last my_chat_member update there: its status (`administrator`, `member`, `left`,
   * `kicked`…; null: no word from Telegram yet) and what it lacks to let people in and take them out
   * (`admin`: not an admin at all; `invite`: "Invite users via link"; `restrict`: "Ban users").
   */
  | { platform: 'telegram'; status: string | null; missing: string[]; checkedAt: number | null }
  /**
   * WeChat lets only a room's owner (群主) add and remove people, and a room is bound (/bind in the room) only
   * while the bot owns it: when that happened, or null when the room was never bound in WeChat.
   */
  | { platform: 'wechat'; boundAt: number | null };
