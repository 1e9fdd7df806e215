// What every WeChat feature shares: the running bot (only usable while logged in), the pacing gate
// every outbound call waits for, and the mapping from Wechaty's untyped failures to the core's errors.
import type { Contact, Room, Wechaty } from 'wechaty';
import type { AppDeps } from '../../src/app/deps.ts';
import type { Lane, Logger } from '../../src/app/ports.ts';
import type { WechatStore } from './store-port.ts';
import { ProviderRejectedError, ProviderUnreachableError, RetryAfterError } from '../../src/domain/errors.ts';
import type { AcquireRequest } from '../../src/jobs/outbound-limiter.ts';

export const PLATFORM = 'wechat' as const;

/** While logged out, work waits this long and asks again; it costs a job no attempt, so nothing is lost. */
export const LOGGED_OUT_RETRY_MS = 30_000;

/** WeChat asks the invitee to accept an invitation once a room has more than this many members. */
export const INVITATION_THRESHOLD = 40;

/** The one limiter method the adapter needs (the service's OutboundLimiter). */
export interface OutboundGate {
  acquire(req: AcquireRequest): Promise<void>;
}

/** The Wechaty the adapter runs, as the features see it. */
export interface BotHandle {
  /** The logged-in bot; throws RetryAfterError while logged out (or not started), so jobs wait for the login. */
  ready(): Wechaty;
  /** The bot's own contact id while logged in. */
  selfId(): string | null;
}

export interface WechatSettings {
  /** Friend requests are accepted only when their greeting contains this (case-insensitive); null accepts all. */
  friendKeyword: string | null;
  /** How long a plain add (room of 40 or fewer) may take to produce its room-join before both sides are told. */
  addTimeoutMs: number;
  /** The same for rooms over 40 members, where the person must accept an invitation. */
  invitationTimeoutMs: number;
  /** A room's roster is compared with the memberships at most this often. */
  auditIntervalMs: number;
  /** A paid member found absent is offered a fresh invite at most this often. */
  absentOfferEveryMs: number;
}

/** The use-case deps, with the store as the WeChat adapter sees it (the core store plus its own tables). */
export interface WechatDeps extends AppDeps {
  store: WechatStore;
}

export interface WechatCore {
  deps: WechatDeps;
  bot: BotHandle;
  limiter: OutboundGate;
  logger: Logger;
  settings: WechatSettings;
}

export const errText = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);

/**
 * Maps a failure from Wechaty/the puppet to the core's errors: logged out → wait, our own errors as they
 * are, anything else transient. `what` is the Wechaty call (`room.add`, `say`): it becomes the error's
 * `method`, and the puppet's error its `cause`.
 */
export function classify(err: unknown, what: string): Error {
  if (err instanceof RetryAfterError || err instanceof ProviderRejectedError || err instanceof ProviderUnreachableError) return err;
  const message = errText(err);
  if (/not log(ged)?[ -]?in|no puppet\.id|logout|NOPUPPET/i.test(message))
    return new RetryAfterError(LOGGED_OUT_RETRY_MS, `wechat is logged out (${what})`, { method: what, cause: err });
  return new ProviderUnreachableError(PLATFORM, `${what}: ${message}`, { method: what, cause: err });
}

/**
 * One outbound call to WeChat: checks the login, waits for the shared limiter (≥ 1 s + jitter between
 * calls, the daily cap, priority lanes), checks the login again, then runs it.
 */
export async function paced<T>(
  core: WechatCore,
  req: { chatId: string; isGroup: boolean; lane: Lane },
  what: string,
  action: (bot: Wechaty) => Promise<T>,
): Promise<T> {
  core.bot.ready();
  await core.limiter.acquire({ platform: PLATFORM, chatId: req.chatId, isGroup: req.isGroup, lane: req.lane });
  const bot = core.bot.ready();
  try {
    return await action(bot);
  } catch (err) {
    throw classify(err, what);
  }
}

/** A room the bot is in, freshly synced (member list and owner), or null. */
export async function findRoom(bot: Wechaty, roomId: string): Promise<Room | null> {
  let room: Room | undefined;
  try {
    room = await bot.Room.find({ id: roomId });
  } catch {
    return null;
  }
  if (!room) return null;
  try {
    await room.sync();
  } catch {
    return null;
  }
  return room;
}

/** The ids of everyone in the room right now. */
export async function memberIds(room: Room): Promise<Set<string>> {
  return new Set((await room.memberAll()).map((c) => c.id));
}

export const roomTitle = async (room: Room) => {
  try {
    return (await room.topic()) || room.id;
  } catch {
    return room.id;
  }
};

export const contactName = (c: Contact) => {
  try {
    return c.name() || c.id;
  } catch {
    return c.id;
  }
};

/** Folds full-width characters (Chinese keyboards) and trims: `／ｂｉｎｄ` is `/bind`. */
export const normalizeText = (text: string | null | undefined, max = 4096) => (text ?? '').slice(0, max).normalize('NFKC').trim();
