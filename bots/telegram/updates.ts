// The parts of Bot API updates the adapter reads, and guards that check them at runtime: an update is
// outside input, so a field is trusted only after its type was checked. Anything that does not pass is
// ignored (and logged), never half-handled.

export interface TgUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
}

export interface TgChat {
  id: number;
  type: 'private' | 'group' | 'supergroup' | 'channel';
  title?: string;
}

export interface TgSuccessfulPayment {
  currency: string;
  total_amount: number;
  invoice_payload: string;
  telegram_payment_charge_id: string;
  provider_payment_charge_id?: string;
  /**
   * Stars subscriptions (Bot API SuccessfulPayment; grammy.dev/ref/types/successfulpayment): `is_recurring` on a
   * subscription's payments, `is_first_recurring` on the first one, `subscription_expiration_date` (Unix time)
   * the end of the period the payment pays for.
   */
  is_recurring?: true;
  is_first_recurring?: true;
  subscription_expiration_date?: number;
}

/**
 * The `subscription` update (Bot API BotSubscriptionUpdated, grammy.dev/ref/types/botsubscriptionupdated;
 * Update.subscription): `canceled` when the user canceled, `active` when they re-enabled a canceled one,
 * `failed` when its payment failed.
 */
export interface TgSubscriptionUpdated {
  user: TgUser;
  invoice_payload: string;
  state: 'canceled' | 'active' | 'failed';
}

export interface TgMessage {
  message_id: number;
  date: number;
  chat: TgChat;
  from?: TgUser;
  text?: string;
  migrate_to_chat_id?: number;
  migrate_from_chat_id?: number;
  successful_payment?: TgSuccessfulPayment;
}

export interface TgCallbackQuery {
  id: string;
  from: TgUser;
  data?: string;
  message?: { message_id: number; chat: TgChat };
}

export interface TgChatInviteLink {
  invite_link: string;
  creates_join_request?: boolean;
  name?: string;
}

export interface TgChatMember {
  status: 'creator' | 'administrator' | 'member' | 'restricted' | 'left' | 'kicked';
  user: TgUser;
  is_member?: boolean;
  until_date?: number;
  can_invite_users?: boolean;
  can_restrict_members?: boolean;
}

export interface TgChatMemberUpdated {
  chat: TgChat;
  from: TgUser;
  date: number;
  old_chat_member: TgChatMember;
  new_chat_member: TgChatMember;
  invite_link?: TgChatInviteLink;
  via_join_request?: boolean;
}

export interface TgChatJoinRequest {
  chat: TgChat;
  from: TgUser;
  user_chat_id: number;
  date: number;
  bio?: string;
  invite_link?: TgChatInviteLink;
  /**
   * Bot API 10.1 (guard bots): "Identifier of the join request query … If present, then the bot must call
   * sendChatJoinRequestWebApp or directly call answerChatJoinRequestQuery within 10 seconds"
   * (core.telegram.org/bots/api#chatjoinrequest). Absent on a Bot API without guard-bot support.
   */
  query_id?: string;
}

export interface TgPreCheckoutQuery {
  id: string;
  from: TgUser;
  currency: string;
  total_amount: number;
  invoice_payload: string;
}

/** Every update type the adapter handles; passed as `allowed_updates` (chat_member is only sent when asked for). */
export const ALLOWED_UPDATES = [
  'message',
  'callback_query',
  'my_chat_member',
  'chat_member',
  'chat_join_request',
  'pre_checkout_query',
  'subscription',
] as const;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isStr = (v: unknown, max = 10_000): v is string => typeof v === 'string' && v.length <= max;

export function asUser(v: unknown): TgUser | null {
  if (!isObj(v) || !isInt(v.id) || v.id <= 0 || typeof v.is_bot !== 'boolean' || !isStr(v.first_name, 1000)) return null;
  return {
    id: v.id,
    is_bot: v.is_bot,
    first_name: v.first_name,
    ...(isStr(v.last_name, 1000) ? { last_name: v.last_name } : {}),
    ...(isStr(v.username, 100) ? { username: v.username } : {}),
    ...(isStr(v.language_code, 35) ? { language_code: v.language_code } : {}),
  };
}

export function asChat(v: unknown): TgChat | null {
  if (!isObj(v) || !isInt(v.id)) return null;
  if (v.type !== 'private' && v.type !== 'group' && v.type !== 'supergroup' && v.type !== 'channel') return null;
  return { id: v.id, type: v.type, ...(isStr(v.title, 1000) ? { title: v.title } : {}) };
}

export function asMessage(v: unknown): TgMessage | null {
  if (!isObj(v) || !isInt(v.message_id) || !isInt(v.date)) return null;
  const chat = asChat(v.chat);
  if (!chat) return null;
  const from = v.from === undefined ? undefined : asUser(v.from);
  if (from === null) return null;
  const m: TgMessage = { message_id: v.message_id, date: v.date, chat, ...(from ? { from } : {}) };
  // Longer than any Telegram message can be: cut, the conversation reads 4096 characters at most.
  if (typeof v.text === 'string') m.text = v.text.slice(0, 8192);
  if (isInt(v.migrate_to_chat_id)) m.migrate_to_chat_id = v.migrate_to_chat_id;
  if (isInt(v.migrate_from_chat_id)) m.migrate_from_chat_id = v.migrate_from_chat_id;
  const sp = v.successful_payment;
  if (isObj(sp)) {
    if (
      !isStr(sp.currency, 10) ||
      !isInt(sp.total_amount) ||
      sp.total_amount <= 0 ||
      !isStr(sp.invoice_payload, 128) ||
      !isStr(sp.telegram_payment_charge_id, 256) ||
      !sp.telegram_payment_charge_id
    )
      return null;
    m.successful_payment = {
      currency: sp.currency,
      total_amount: sp.total_amount,
      invoice_payload: sp.invoice_payload,
      telegram_payment_charge_id: sp.telegram_payment_charge_id,
      ...(sp.is_recurring === true ? { is_recurring: true as const } : {}),
      ...(sp.is_first_recurring === true ? { is_first_recurring: true as const } : {}),
      ...(isInt(sp.subscription_expiration_date) && sp.subscription_expiration_date > 0
        ? { subscription_expiration_date: sp.subscription_expiration_date }
        : {}),
    };
  }
  return m;
}

export function asCallbackQuery(v: unknown): TgCallbackQuery | null {
  if (!isObj(v) || !isStr(v.id, 256) || !v.id) return null;
  const from = asUser(v.from);
  if (!from) return null;
  const q: TgCallbackQuery = { id: v.id, from };
  if (typeof v.data === 'string') q.data = v.data.slice(0, 256);
  if (isObj(v.message) && isInt(v.message.message_id)) {
    const chat = asChat(v.message.chat);
    if (chat) q.message = { message_id: v.message.message_id, chat };
  }
  return q;
}

function asInviteLink(v: unknown): TgChatInviteLink | undefined {
  if (!isObj(v) || !isStr(v.invite_link, 512)) return undefined;
  return {
    invite_link: v.invite_link,
    ...(typeof v.creates_join_request === 'boolean' ? { creates_join_request: v.creates_join_request } : {}),
    ...(isStr(v.name, 64) ? { name: v.name } : {}),
  };
}

const STATUSES = new Set(['creator', 'administrator', 'member', 'restricted', 'left', 'kicked']);

export function asChatMember(v: unknown): TgChatMember | null {
  if (!isObj(v) || typeof v.status !== 'string' || !STATUSES.has(v.status)) return null;
  const user = asUser(v.user);
  if (!user) return null;
  return {
    status: v.status as TgChatMember['status'],
    user,
    ...(typeof v.is_member === 'boolean' ? { is_member: v.is_member } : {}),
    ...(isInt(v.until_date) ? { until_date: v.until_date } : {}),
    ...(typeof v.can_invite_users === 'boolean' ? { can_invite_users: v.can_invite_users } : {}),
    ...(typeof v.can_restrict_members === 'boolean' ? { can_restrict_members: v.can_restrict_members } : {}),
  };
}

export function asChatMemberUpdated(v: unknown): TgChatMemberUpdated | null {
  if (!isObj(v) || !isInt(v.date)) return null;
  const chat = asChat(v.chat);
  const from = asUser(v.from);
  const oldM = asChatMember(v.old_chat_member);
  const newM = asChatMember(v.new_chat_member);
  if (!chat || !from || !oldM || !newM) return null;
  const link = asInviteLink(v.invite_link);
  return {
    chat,
    from,
    date: v.date,
    old_chat_member: oldM,
    new_chat_member: newM,
    ...(link ? { invite_link: link } : {}),
    ...(v.via_join_request === true ? { via_join_request: true } : {}),
  };
}

export function asJoinRequest(v: unknown): TgChatJoinRequest | null {
  if (!isObj(v) || !isInt(v.date) || !isInt(v.user_chat_id)) return null;
  const chat = asChat(v.chat);
  const from = asUser(v.from);
  if (!chat || !from) return null;
  const link = asInviteLink(v.invite_link);
  const queryId = typeof v.query_id === 'string' && v.query_id !== '' && v.query_id.length <= 256 ? v.query_id : null;
  // `bio` (Bot API ChatJoinRequest: "Optional. Bio of the user"), kept for the join review (issue 17).
  const bio = isStr(v.bio, 1000) ? v.bio : undefined;
  return {
    chat,
    from,
    user_chat_id: v.user_chat_id,
    date: v.date,
    ...(link ? { invite_link: link } : {}),
    ...(bio ? { bio } : {}),
    ...(queryId ? { query_id: queryId } : {}),
  };
}

export function asPreCheckoutQuery(v: unknown): TgPreCheckoutQuery | null {
  if (!isObj(v) || !isStr(v.id, 256) || !v.id || !isStr(v.currency, 10) || !isInt(v.total_amount) || !isStr(v.invoice_payload, 128)) return null;
  const from = asUser(v.from);
  if (!from) return null;
  return { id: v.id, from, currency: v.currency, total_amount: v.total_amount, invoice_payload: v.invoice_payload };
}

/** In the chat: a member, an admin, the creator, or restricted but still a member. */
export const isInChat = (m: { status: string; is_member?: boolean }) =>
  m.status === 'creator' || m.status === 'administrator' || m.status === 'member' || (m.status === 'restricted' && m.is_member === true);

export const isAdminStatus = (status: string) => status === 'creator' || status === 'administrator';

/** "Ada Lovelace" or "@ada", at most 100 characters. */
export function displayName(u: TgUser): string {
  const full = [u.first_name, u.last_name]
    .filter((s) => s && s.trim())
    .join(' ')
    .trim();
  return (full || (u.username ? `@${u.username}` : String(u.id))).slice(0, 100);
}

export function asSubscriptionUpdated(v: unknown): TgSubscriptionUpdated | null {
  if (!isObj(v) || !isStr(v.invoice_payload, 128) || !v.invoice_payload) return null;
  if (v.state !== 'canceled' && v.state !== 'active' && v.state !== 'failed') return null;
  const user = asUser(v.user);
  return user ? { user, invoice_payload: v.invoice_payload, state: v.state } : null;
}
